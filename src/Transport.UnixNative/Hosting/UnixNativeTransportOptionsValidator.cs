using Microsoft.Extensions.Options;

namespace Transport.UnixNative.Hosting;

/// <summary>
/// Checks <see cref="UnixNativeTransportOptions"/> when the host starts (<c>ValidateOnStart</c>),
/// whether they came from code or configuration, so a bad value fails startup with its name
/// instead of surfacing later as an odd bind or accept error.
/// </summary>
internal sealed class UnixNativeTransportOptionsValidator : IValidateOptions<UnixNativeTransportOptions>
{
    private const string Prefix = UnixNativeTransportConfiguration.SectionName;

    public ValidateOptionsResult Validate(string? name, UnixNativeTransportOptions options)
    {
        var errors = new List<string>();
        if (options.IOThreadCount is < 1 or > 1024)
        {
            errors.Add($"IOThreadCount ({Prefix}:IOThreadCount) must be between 1 and 1024; it is {options.IOThreadCount}.");
        }
        if (options.Backlog < 1)
        {
            errors.Add($"Backlog ({Prefix}:Backlog) must be at least 1; it is {options.Backlog}.");
        }
        if (options.MaxReadBufferSize < 0)
        {
            errors.Add($"MaxReadBufferSize ({Prefix}:MaxReadBufferSize) must be 0 or more (0 or empty: unlimited); it is {options.MaxReadBufferSize}.");
        }
        if (options.MaxWriteBufferSize < 0)
        {
            errors.Add($"MaxWriteBufferSize ({Prefix}:MaxWriteBufferSize) must be 0 or more (0 or empty: unlimited); it is {options.MaxWriteBufferSize}.");
        }
        var halfOfLimit = Interop.ResourceLimit.OpenFilesLimit() / 2;
        if (options.MaxReceivedDescriptors < 1 || options.MaxReceivedDescriptors > halfOfLimit)
        {
            errors.Add($"MaxReceivedDescriptors ({Prefix}:MaxReceivedDescriptors) must be between 1 and half of RLIMIT_NOFILE ({halfOfLimit}), " +
                $"so that connections and the runtime keep room; it is {options.MaxReceivedDescriptors}.");
        }
        if (options.MaxReceivedDescriptorsPerConnection < 1)
        {
            errors.Add($"MaxReceivedDescriptorsPerConnection ({Prefix}:MaxReceivedDescriptorsPerConnection) must be at least 1; it is {options.MaxReceivedDescriptorsPerConnection}.");
        }
        if (options.MaxReceivedDescriptorsPerUser is { } perUser && (perUser < 1 || perUser > options.MaxReceivedDescriptors))
        {
            errors.Add($"MaxReceivedDescriptorsPerUser ({Prefix}:MaxReceivedDescriptorsPerUser) must be between 1 and MaxReceivedDescriptors ({options.MaxReceivedDescriptors}); it is {perUser}.");
        }
        foreach (var address in options.ReceiveDescriptorsOn)
        {
            if (address is null || !(address.StartsWith('/') || address.Length > 1 && address[0] == '@'))
            {
                errors.Add($"ReceiveDescriptorsOn: '{address}' is not a unix socket address; write an absolute path or @name, as the endpoint is bound.");
            }
        }
        if (options.AllowAnyUserOnAbstractAddresses && (options.AllowedUserIds is not null || options.AllowedGroupIds is not null))
        {
            errors.Add($"AllowAnyUserOnAbstractAddresses ({Prefix}:AllowAnyUserOnAbstractAddresses) contradicts AllowedUserIds/AllowedGroupIds: " +
                "an allowlist applies to every endpoint, abstract ones included. Remove one of them.");
        }
        // A mode with more than permission bits is refused when the file is bound, with an
        // ArgumentException naming the path (applications already handle that type).
        foreach (var path in options.SocketFiles.Keys)
        {
            if (!path.StartsWith('/'))
            {
                errors.Add($"SocketFiles['{path}']: the key must be the socket file's absolute path.");
            }
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
