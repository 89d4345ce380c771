using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Transport.UnixNative.Core.Listener;
using Transport.UnixNative.Restart;

namespace Transport.UnixNative.Hosting;

/// <summary>
/// Makes <c>--urls http://unix:@name</c> mean the abstract address (Kestrel recognises only
/// <c>unix:/</c> and would otherwise listen on TCP port 80 of every interface), and adds
/// <c>http://unix-seqpacket:/path</c> and <c>http://unix-seqpacket:@name</c>. Each becomes a
/// <c>unix:/</c> URL with a marker path no file can have, which <see cref="UnixSocketAddress"/> reads
/// back. The host fills the server's addresses from <c>urls</c> before it runs startup filters,
/// and Kestrel reads them after.
/// </summary>
internal sealed class UnixUrlRewriter(IServer server, IEnumerable<IConnectionListenerFactory> factories, IOptions<KestrelServerOptions> kestrel) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next)
    {
        CheckConfiguredEndpoints(kestrel.Value);
        if (server.Features.Get<IServerAddressesFeature>()?.Addresses is { IsReadOnly: false } addresses)
        {
            Rewrite(addresses);
            // Activated (or handed-over) sockets are where this process listens, as systemd (or the
            // predecessor) decided: unless the urls name one of them, they replace the urls, so no
            // default socket is bound beside them. Endpoints configured in code still bind.
            if (factories.OfType<IRestartableTransport>().FirstOrDefault()?.Inherited is { All.Count: > 0 } inherited
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
            if (UnixUrls.Read(address).Error is { } error)
            {
                throw new ArgumentException(error);
            }
        }
    }

    /// <summary>
    /// Fails startup, naming the key, for a <c>Kestrel:Endpoints:*:Url</c> the transport cannot serve,
    /// and for a unix URL Kestrel would read raw (and so as TCP port 80): one that reached Kestrel
    /// without passing through <see cref="UnixEndpointUrlOverlay"/>.
    /// </summary>
    internal static void CheckConfiguredEndpoints(KestrelServerOptions options)
    {
        if (options.ConfigurationLoader?.Configuration is not { } configuration)
        {
            return;
        }
        foreach (var endpoint in configuration.GetSection("Endpoints").GetChildren())
        {
            if (endpoint["Url"] is not { } url)
            {
                continue;
            }
            var key = endpoint.Path + ":Url";
            var reading = UnixUrls.Read(url);
            if (reading.Error is { } error)
            {
                throw new ArgumentException(url.Contains(RefusedUrls.InvalidUrlMarker, StringComparison.Ordinal) ? error : $"{key}: {error}");
            }
            if (reading.IsUnix && reading.Url != url)
            {
                throw new ArgumentException($"{key}: '{url}' reached Kestrel unconverted, which would listen on TCP instead: " +
                    "its configuration source was added after UseUnixNativeTransport could see it, or Kestrel was given a configuration of its own. " +
                    "Add configuration sources before building the host, or write the endpoint in code (ListenUnixAbstract, ListenUnixSeqpacket, ListenUnixActivated).");
            }
        }
    }

    private static bool NamesInherited(string address, InheritedSockets inherited)
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
            return path.StartsWith(ActivatedEndPoint.UrlMarker, StringComparison.Ordinal)
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
        var reading = UnixUrls.Read(address);
        return reading.Error is null ? reading.Url : throw new ArgumentException(reading.Error);
    }
}
