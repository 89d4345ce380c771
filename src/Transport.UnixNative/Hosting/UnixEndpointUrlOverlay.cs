using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Transport.UnixNative.Hosting;

/// <summary>Adds <see cref="UnixEndpointUrlOverlay"/> to the application's configuration.</summary>
internal sealed class UnixEndpointUrlSource : IConfigurationSource
{
    public IConfigurationProvider Build(IConfigurationBuilder builder)
        => new UnixEndpointUrlOverlay(builder as IConfigurationRoot); // a ConfigurationManager is both
}

/// <summary>
/// Kestrel's own configuration loader reads <c>Kestrel:Endpoints:NAME:Url</c> and turns anything but
/// <c>http://unix:/path</c> into a TCP address (<c>http://unix:@name</c> becomes <c>[::]:80</c>). This
/// provider sits last in the application's configuration and answers those keys with what
/// <see cref="UnixUrls.ForKestrel"/> makes of the value the other providers give: the marker form
/// for our URL forms, a URL that fails naming the key for an address we cannot serve, and nothing
/// (the other providers' value stands) for any other URL. It is computed on every read, so Kestrel's
/// reload on a configuration change sees the rewritten value of the new configuration at once.
/// </summary>
internal sealed class UnixEndpointUrlOverlay(IConfigurationRoot? root) : IConfigurationProvider
{
    private static readonly IChangeToken Never = new CancellationChangeToken(CancellationToken.None);

    // Kestrel's section by default; others when KestrelServerOptions.Configure is given another section.
    private volatile string[] _sections = ["Kestrel"];

    /// <summary>The configuration this provider belongs to (known once it is built).</summary>
    public IConfigurationRoot? Root { get; set; } = root;

    public void AddSection(string path)
    {
        var sections = _sections;
        if (!sections.Contains(path, StringComparer.OrdinalIgnoreCase))
        {
            _sections = [.. sections, path];
        }
    }

    public bool TryGet(string key, out string? value)
    {
        value = null;
        if (Root is not { } root || !IsEndpointUrl(key))
        {
            return false;
        }
        string? original = null;
        foreach (var provider in root.Providers)
        {
            if (ReferenceEquals(provider, this))
            {
                break;
            }
            if (provider.TryGet(key, out var given))
            {
                original = given; // the last one wins, as in the configuration itself
            }
        }
        if (original is null)
        {
            return false;
        }
        var forKestrel = UnixUrls.ForKestrel(original, key);
        if (ReferenceEquals(forKestrel, original) || forKestrel == original)
        {
            return false;
        }
        value = forKestrel;
        return true;
    }

    private bool IsEndpointUrl(string key)
    {
        if (!key.EndsWith(":Url", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        foreach (var section in _sections)
        {
            var endpoints = section.Length == 0 ? "Endpoints:" : section + ":Endpoints:";
            if (key.Length > endpoints.Length + 4 && key.StartsWith(endpoints, StringComparison.OrdinalIgnoreCase)
                && key.AsSpan(endpoints.Length, key.Length - endpoints.Length - 4).IndexOf(':') < 0)
            {
                return true;
            }
        }
        return false;
    }

    public void Set(string key, string? value)
    {
        // Values are derived from the other providers, which the configuration sets as well.
    }

    public IChangeToken GetReloadToken() => Never;

    public void Load()
    {
    }

    public IEnumerable<string> GetChildKeys(IEnumerable<string> earlierKeys, string? parentPath) => earlierKeys;

    /// <summary>Binds the overlays of <paramref name="configuration"/> to it and to the sections Kestrel reads.</summary>
    internal static void Attach(IConfiguration configuration, string? kestrelSection)
    {
        if (configuration is not IConfigurationRoot root)
        {
            return;
        }
        // Last, or a source added after UseUnixNativeTransport would hide the rewritten values.
        if (kestrelSection is not null && root.Providers.LastOrDefault() is not UnixEndpointUrlOverlay && root is IConfigurationBuilder builder)
        {
            builder.Add(new UnixEndpointUrlSource());
        }
        foreach (var overlay in root.Providers.OfType<UnixEndpointUrlOverlay>())
        {
            overlay.Root ??= root;
            if (kestrelSection is not null)
            {
                overlay.AddSection(kestrelSection);
            }
        }
    }
}

/// <summary>Points the overlay at the section Kestrel's configuration loader reads, once Kestrel's options are complete.</summary>
internal sealed class UnixEndpointUrlSetup(IConfiguration configuration) : IPostConfigureOptions<KestrelServerOptions>
{
    public void PostConfigure(string? name, KestrelServerOptions options)
    {
        if (options.ConfigurationLoader?.Configuration is { } kestrel)
        {
            UnixEndpointUrlOverlay.Attach(configuration, kestrel is IConfigurationSection section ? section.Path : "");
        }
    }
}
