using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;

namespace Transport.UnixNative.Internal;

/// <summary>
/// Makes <c>--urls http://unix:@name</c> mean the abstract address (Kestrel recognises only
/// <c>unix:/</c> and would otherwise listen on TCP port 80 of every interface), and adds
/// <c>http://unix-seqpacket:/path</c> and <c>http://unix-seqpacket:@name</c>. Each becomes a
/// <c>unix:/</c> URL with a marker path no file can have, which <see cref="UnixSocketAddress"/> reads
/// back. The host fills the server's addresses from <c>urls</c> before it runs startup filters,
/// and Kestrel reads them after.
/// </summary>
internal sealed class UnixUrlRewriter(IServer server, IEnumerable<IConnectionListenerFactory> factories) : IStartupFilter
{
    private const string UnixHost = "://unix:";
    private const string SeqpacketHost = "://unix-seqpacket:";
    private const string ActivatedHost = "://unix-fd:";

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next)
    {
        if (server.Features.Get<IServerAddressesFeature>()?.Addresses is { IsReadOnly: false } addresses)
        {
            Rewrite(addresses);
            // Activated (or handed-over) sockets are where this process listens, as systemd (or the
            // predecessor) decided: unless the urls name one of them, they replace the urls, so no
            // default socket is bound beside them. Endpoints configured in code still bind.
            if (factories.OfType<UnixNativeTransportFactory>().FirstOrDefault()?.Inherited is { All.Count: > 0 } inherited
                && !addresses.Any(a => NamesInherited(a, inherited)))
            {
                addresses.Clear();
                foreach (var url in inherited.Urls)
                {
                    addresses.Add(url);
                }
                Rewrite(addresses);
            }
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

    private static bool NamesInherited(string address, Activation.InheritedSockets inherited)
    {
        BindingAddress binding;
        try
        {
            binding = BindingAddress.Parse(address);
        }
        catch (FormatException)
        {
            return false;
        }
        if (!binding.IsUnixPipe)
        {
            return false;
        }
        var path = binding.UnixPipePath;
        try
        {
            return path.StartsWith(Activation.ActivatedEndPoint.UrlMarker, StringComparison.Ordinal)
                || inherited.Find(UnixSocketAddress.Parse(path, isSeqpacket: false)) is not null;
        }
        catch (ArgumentException)
        {
            return false; // Validate reports it
        }
    }

    internal static void Rewrite(ICollection<string> addresses)
    {
        var rewritten = addresses.Select(RewriteOne).ToArray();
        if (rewritten.SequenceEqual(addresses))
        {
            return;
        }
        addresses.Clear();
        foreach (var address in rewritten)
        {
            addresses.Add(address);
        }
    }

    internal static string RewriteOne(string address)
    {
        var activated = address.IndexOf(ActivatedHost, StringComparison.OrdinalIgnoreCase);
        if (activated >= 0)
        {
            var fdName = address[(activated + ActivatedHost.Length)..].TrimEnd('/');
            if (fdName.Length == 0)
            {
                throw new ArgumentException($"'{address}' names no activated socket: write http://unix-fd:NAME (the socket's FileDescriptorName=).");
            }
            return string.Concat(address.AsSpan(0, activated), UnixHost, Activation.ActivatedEndPoint.UrlMarker, fdName);
        }
        var seqpacket = address.IndexOf(SeqpacketHost, StringComparison.OrdinalIgnoreCase);
        if (seqpacket >= 0)
        {
            var socket = address[(seqpacket + SeqpacketHost.Length)..];
            // Validate now: a bad address fails here with a clear message, not as a TCP bind.
            UnixSocketAddress.Parse(socket, isSeqpacket: true);
            return string.Concat(address.AsSpan(0, seqpacket), UnixHost, UnixSocketAddress.SeqpacketUrlMarker, socket);
        }
        var unix = address.IndexOf(UnixHost + "@", StringComparison.OrdinalIgnoreCase);
        if (unix >= 0)
        {
            var name = address[(unix + UnixHost.Length + 1)..].TrimEnd('/');
            if (name.Length == 0)
            {
                throw new ArgumentException($"'{address}' names no abstract socket: write http://unix:@name.");
            }
            return string.Concat(address.AsSpan(0, unix + UnixHost.Length), UnixSocketAddress.AbstractUrlMarker, name);
        }
        return address;
    }
}
