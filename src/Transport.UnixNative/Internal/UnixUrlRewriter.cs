using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;

namespace Transport.UnixNative.Internal;

/// <summary>
/// Makes <c>--urls http://unix:@name</c> mean the abstract address. Kestrel recognises only
/// <c>unix:/</c> and would otherwise listen on TCP port 80 of every interface. The host fills the
/// server's addresses from <c>urls</c> before it runs startup filters, and Kestrel reads them after.
/// </summary>
internal sealed class UnixUrlRewriter(IServer server) : IStartupFilter
{
    private const string AbstractHost = "://unix:@";

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next)
    {
        if (server.Features.Get<IServerAddressesFeature>()?.Addresses is { IsReadOnly: false } addresses)
        {
            Rewrite(addresses);
            Validate(addresses);
        }
        return next;
    }

    /// <summary>
    /// Checks unix socket paths before Kestrel turns them into endpoints: the runtime's own check
    /// rejects a 108-byte path with "between 1 and 108 characters", which hides the real limit (107).
    /// </summary>
    internal static void Validate(IEnumerable<string> addresses)
    {
        foreach (var address in addresses)
        {
            BindingAddress binding;
            try
            {
                binding = BindingAddress.Parse(address);
            }
            catch (FormatException)
            {
                continue; // Kestrel reports a malformed address itself.
            }
            if (binding.IsUnixPipe)
            {
                _ = UnixSocketAddress.Parse(binding.UnixPipePath, isSeqpacket: false);
            }
        }
    }

    internal static void Rewrite(ICollection<string> addresses)
    {
        if (!addresses.Any(a => a.Contains(AbstractHost, StringComparison.OrdinalIgnoreCase)))
        {
            return;
        }
        var rewritten = addresses.Select(RewriteOne).ToArray();
        addresses.Clear();
        foreach (var address in rewritten)
        {
            addresses.Add(address);
        }
    }

    internal static string RewriteOne(string address)
    {
        var at = address.IndexOf(AbstractHost, StringComparison.OrdinalIgnoreCase);
        if (at < 0)
        {
            return address;
        }
        var prefixEnd = at + AbstractHost.Length - 1; // keep "scheme://unix:"
        var name = address[(prefixEnd + 1)..].TrimEnd('/');
        if (name.Length == 0)
        {
            throw new ArgumentException($"'{address}' names no abstract socket: write http://unix:@name.");
        }
        return string.Concat(address.AsSpan(0, prefixEnd), UnixSocketAddress.AbstractUrlMarker, name);
    }
}
