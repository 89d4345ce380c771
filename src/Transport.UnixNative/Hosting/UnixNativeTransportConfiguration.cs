using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Transport.UnixNative.Core.Listener;
using Transport.UnixNative.Restart;

namespace Transport.UnixNative.Hosting;

/// <summary>
/// Reads <see cref="UnixNativeTransportOptions"/> from the <c>Kestrel:UnixNative</c> section, and
/// per-endpoint socket file settings from <c>Kestrel:Endpoints:NAME</c> sections with a unix URL.
/// It runs before the application's own <c>UseUnixNativeTransport(o =&gt; …)</c>, so code wins.
/// Read by hand, not by the binder: a mode is octal (the binder would read "0660" as decimal 660),
/// and a misspelt key or a bad value must fail startup with its name rather than be ignored.
/// </summary>
internal sealed class UnixNativeTransportConfiguration(IConfiguration configuration) : IConfigureOptions<UnixNativeTransportOptions>
{
    public const string SectionName = "Kestrel:UnixNative";
    private const string EndpointsSectionName = "Kestrel:Endpoints";

    public void Configure(UnixNativeTransportOptions options)
    {
        var errors = new List<string>();
        ReadTransportSection(configuration.GetSection(SectionName), options, errors);
        ReadEndpoints(configuration.GetSection(EndpointsSectionName), options, errors);
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(UnixNativeTransportOptions), errors);
        }
    }

    private static void ReadTransportSection(IConfigurationSection section, UnixNativeTransportOptions options, List<string> errors)
    {
        foreach (var entry in section.GetChildren())
        {
            var key = entry.Path;
            switch (entry.Key.ToUpperInvariant())
            {
                case "IOTHREADCOUNT":
                    options.IOThreadCount = ReadInt(entry, errors) ?? options.IOThreadCount;
                    break;
                case "BACKLOG":
                    options.Backlog = ReadInt(entry, errors) ?? options.Backlog;
                    break;
                case "MAXREADBUFFERSIZE":
                    options.MaxReadBufferSize = ReadSize(entry, errors, options.MaxReadBufferSize);
                    break;
                case "MAXWRITEBUFFERSIZE":
                    options.MaxWriteBufferSize = ReadSize(entry, errors, options.MaxWriteBufferSize);
                    break;
                case "UNSAFEPREFERINLINESCHEDULING":
                    options.UnsafePreferInlineScheduling = ReadBool(entry, errors) ?? options.UnsafePreferInlineScheduling;
                    break;
                case "ALLOWEDUSERIDS":
                    options.AllowedUserIds = ReadIds(entry, errors);
                    break;
                case "ALLOWEDGROUPIDS":
                    options.AllowedGroupIds = ReadIds(entry, errors);
                    break;
                case "ALLOWANYUSERONABSTRACTADDRESSES":
                    options.AllowAnyUserOnAbstractAddresses = ReadBool(entry, errors) ?? options.AllowAnyUserOnAbstractAddresses;
                    break;
                case "SOCKETFILEMODE":
                    options.SocketFileMode = ReadMode(entry, errors) ?? options.SocketFileMode;
                    break;
                case "SOCKETFILEGROUP":
                    options.SocketFileGroup = NonEmpty(entry, errors);
                    break;
                case "SOCKETFILEOWNER":
                    options.SocketFileOwner = NonEmpty(entry, errors);
                    break;
                case "USESENDFILE":
                    options.UseSendFile = ReadBool(entry, errors) ?? options.UseSendFile;
                    break;
                case "HANDOVERSOCKETPATH":
                    options.HandoverSocketPath = NonEmpty(entry, errors);
                    break;
                case "FALLBACKTOSOCKETSTRANSPORTONUNSUPPORTEDOS":
                    options.FallBackToSocketsTransportOnUnsupportedOS = ReadBool(entry, errors) ?? options.FallBackToSocketsTransportOnUnsupportedOS;
                    break;
                case "MAXRECEIVEDDESCRIPTORS":
                    options.MaxReceivedDescriptors = ReadInt(entry, errors) ?? options.MaxReceivedDescriptors;
                    break;
                case "MAXRECEIVEDDESCRIPTORSPERCONNECTION":
                    options.MaxReceivedDescriptorsPerConnection = ReadInt(entry, errors) ?? options.MaxReceivedDescriptorsPerConnection;
                    break;
                case "MAXRECEIVEDDESCRIPTORSPERUSER":
                    options.MaxReceivedDescriptorsPerUser = ReadInt(entry, errors) ?? options.MaxReceivedDescriptorsPerUser;
                    break;
                case "USESYSTEMDFILEDESCRIPTORSTORE":
                    options.UseSystemdFileDescriptorStore = ReadBool(entry, errors) ?? options.UseSystemdFileDescriptorStore;
                    break;
                default:
                    errors.Add($"{key}: unknown setting. Known: IOThreadCount, Backlog, MaxReadBufferSize, MaxWriteBufferSize, " +
                        "UnsafePreferInlineScheduling, UseSendFile, AllowedUserIds, AllowedGroupIds, AllowAnyUserOnAbstractAddresses, SocketFileMode, SocketFileGroup, SocketFileOwner, " +
                        "HandoverSocketPath, UseSystemdFileDescriptorStore, FallBackToSocketsTransportOnUnsupportedOS, MaxReceivedDescriptors, MaxReceivedDescriptorsPerConnection, MaxReceivedDescriptorsPerUser.");
                    break;
            }
        }
    }

    /// <summary>Kestrel reads <c>Url</c> and ignores keys it does not know; ours sit beside it.</summary>
    private static void ReadEndpoints(IConfigurationSection endpoints, UnixNativeTransportOptions options, List<string> errors)
    {
        foreach (var endpoint in endpoints.GetChildren())
        {
            ReadReceiveDescriptors(endpoint, options, errors);
            var mode = endpoint.GetSection("SocketFileMode");
            var group = endpoint.GetSection("SocketFileGroup");
            var owner = endpoint.GetSection("SocketFileOwner");
            if (mode.Value is null && group.Value is null && owner.Value is null)
            {
                continue;
            }
            var url = endpoint["Url"];
            var path = SocketFilePathOf(url, out var notAFile);
            if (path is null)
            {
                errors.Add($"{endpoint.Path}: SocketFileMode/SocketFileGroup/SocketFileOwner need a Url with a unix socket path " +
                    $"(http://unix:/run/app/app.sock or http://unix-seqpacket:/path); Url is '{Display(url)}'{notAFile}");
                continue;
            }
            var file = options.SocketFiles.TryGetValue(path, out var existing) ? existing : options.SocketFiles[path] = new UnixSocketFileOptions();
            if (mode.Value is not null)
            {
                file.Mode = ReadMode(mode, errors) ?? file.Mode;
            }
            if (group.Value is not null)
            {
                file.Group = NonEmpty(group, errors);
            }
            if (owner.Value is not null)
            {
                file.Owner = NonEmpty(owner, errors);
            }
        }
    }

    /// <summary><c>ReceiveDescriptors: true</c> beside a unix <c>Url</c>: that address receives descriptors.</summary>
    private static void ReadReceiveDescriptors(IConfigurationSection endpoint, UnixNativeTransportOptions options, List<string> errors)
    {
        var entry = endpoint.GetSection("ReceiveDescriptors");
        if (entry.Value is null || ReadBool(entry, errors) is not true)
        {
            return;
        }
        var url = endpoint["Url"];
        if (UnixAddressOf(url) is { } address)
        {
            options.ReceiveDescriptorsOn.Add(address);
        }
        else
        {
            errors.Add($"{entry.Path}: needs a Url with a unix socket address (http://unix:/run/app/app.sock, http://unix:@name, " +
                $"http://unix-seqpacket:…); Url is '{url}'.");
        }
    }

    /// <summary>The address of <c>http://unix:/path</c>, <c>http://unix:@name</c> or their <c>unix-seqpacket</c> forms, as written; null for anything else.</summary>
    internal static string? UnixAddressOf(string? url)
    {
        // Read the URL as written, also when it comes back in the overlay's marker form.
        url = url is null ? null : UnixUrls.Describe(UnixUrls.Read(url).Url);
        foreach (var host in (ReadOnlySpan<string>)["://unix:", "://unix-seqpacket:"])
        {
            var at = url?.IndexOf(host, StringComparison.OrdinalIgnoreCase) ?? -1;
            if (at >= 0 && url!.Length > at + host.Length + 1 && url[at + host.Length] is '/' or '@')
            {
                return url[(at + host.Length)..];
            }
        }
        return null;
    }

    /// <summary>
    /// The socket file of <c>http://unix:/path</c> or <c>http://unix-seqpacket:/path</c> (also in the form
    /// <see cref="UnixEndpointUrlOverlay"/> gives Kestrel); null for anything else, with the reason.
    /// </summary>
    internal static string? SocketFilePathOf(string? url, out string reason)
    {
        reason = ".";
        if (url is null)
        {
            return null;
        }
        var reading = UnixUrls.Read(url);
        if (reading.Error is { } error)
        {
            reason = ": " + error;
            return null;
        }
        if (!reading.IsUnix)
        {
            return null;
        }
        var path = reading.Url[(reading.Url.IndexOf("://unix:", StringComparison.OrdinalIgnoreCase) + "://unix:".Length)..];
        if (path.StartsWith(ActivatedEndPoint.UrlMarker, StringComparison.Ordinal))
        {
            reason = ", an activated socket, whose file systemd owns.";
            return null;
        }
        var address = UnixSocketAddress.Parse(path, isSeqpacket: false);
        if (address.IsAbstract)
        {
            reason = ", an abstract address, which has no file.";
            return null;
        }
        return address.Name;
    }

    // The overlay's forms hold NULs: show the URL as it was written.
    private static string? Display(string? url)
        => url is not null && UnixUrls.Read(url) is { IsUnix: true } && url.Contains('\0') ? UnixUrls.Describe(url) : url;

    /// <summary>Octal digits (<c>0660</c>, <c>660</c>) or <see cref="UnixFileMode"/> names (<c>UserRead, UserWrite</c>).</summary>
    internal static UnixFileMode? ReadMode(IConfigurationSection entry, List<string> errors)
    {
        var text = entry.Value?.Trim();
        if (!string.IsNullOrEmpty(text) && text.All(c => c is >= '0' and <= '7') && text.Length <= 4)
        {
            return (UnixFileMode)Convert.ToInt32(text, 8);
        }
        if (!string.IsNullOrEmpty(text) && !char.IsAsciiDigit(text[0]) && Enum.TryParse<UnixFileMode>(text, ignoreCase: true, out var named))
        {
            return named;
        }
        errors.Add($"{entry.Path}: '{entry.Value}' is not a file mode; write octal permissions such as 0660, or names such as \"UserRead, UserWrite\".");
        return null;
    }

    private static bool? ReadBool(IConfigurationSection entry, List<string> errors)
    {
        if (bool.TryParse(entry.Value, out var value))
        {
            return value;
        }
        errors.Add($"{entry.Path}: '{entry.Value}' is not true or false.");
        return null;
    }

    private static int? ReadInt(IConfigurationSection entry, List<string> errors)
    {
        if (int.TryParse(entry.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }
        errors.Add($"{entry.Path}: '{entry.Value}' is not a whole number.");
        return null;
    }

    private static long? ReadSize(IConfigurationSection entry, List<string> errors, long? current)
    {
        if (string.IsNullOrWhiteSpace(entry.Value) || entry.Value.Equals("null", StringComparison.OrdinalIgnoreCase))
        {
            return null; // unlimited
        }
        if (long.TryParse(entry.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }
        errors.Add($"{entry.Path}: '{entry.Value}' is not a byte count (or empty for unlimited).");
        return current;
    }

    /// <summary>A JSON array (<c>[0, 1000]</c>: children 0, 1…) or a comma-separated list (<c>"0,1000"</c>, handy in environment variables).</summary>
    private static HashSet<uint>? ReadIds(IConfigurationSection entry, List<string> errors)
    {
        var items = entry.Value is { } list
            ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : entry.GetChildren().Select(c => c.Value ?? "").ToArray();
        var ids = new HashSet<uint>();
        foreach (var item in items)
        {
            if (uint.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                ids.Add(id);
            }
            else
            {
                errors.Add($"{entry.Path}: '{item}' is not a numeric id.");
            }
        }
        return ids;
    }

    private static string? NonEmpty(IConfigurationSection entry, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(entry.Value))
        {
            errors.Add($"{entry.Path}: empty; give a name or a numeric id, or remove the setting.");
            return null;
        }
        return entry.Value.Trim();
    }
}
