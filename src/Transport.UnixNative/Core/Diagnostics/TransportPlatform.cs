using System.Runtime.InteropServices;
using Microsoft.Extensions.Options;

namespace Transport.UnixNative.Core.Diagnostics;

/// <summary>The transport needs Linux: elsewhere startup fails saying so, or path endpoints fall back to Kestrel's Sockets transport.</summary>
internal static class TransportPlatform
{
    public static string? UnsupportedOS()
    {
        if (OperatingSystem.IsLinux())
        {
            return null;
        }
        var name = OperatingSystem.IsMacOS() ? "macOS" : OperatingSystem.IsWindows() ? "Windows" : OperatingSystem.IsFreeBSD() ? "FreeBSD" : null;
        return name is null ? RuntimeInformation.OSDescription : $"{name} ({RuntimeInformation.OSDescription})";
    }

    public static PlatformNotSupportedException NotLinux(string os) => new(
        $"Transport.UnixNative runs on Linux only (epoll, SO_PEERCRED, abstract addresses); this is {os}. " +
        "Without UseUnixNativeTransport() Kestrel's Sockets transport serves unix socket paths (ListenUnixSocket, http://unix:/path); " +
        "or set FallBackToSocketsTransportOnUnsupportedOS (Kestrel:UnixNative:FallBackToSocketsTransportOnUnsupportedOS=true) to fall back to it for paths.");

    public static PlatformNotSupportedException NotServedByFallback(string address, string os) => new(
        $"Unix socket '{address}': abstract addresses, seqpacket, activated and connected sockets need Linux; this is {os}. " +
        "FallBackToSocketsTransportOnUnsupportedOS serves only unix socket paths (ListenUnixSocket, http://unix:/path) with Kestrel's Sockets transport.");
}

/// <summary>Fails startup (through ValidateOnStart, before anything binds) on another OS unless the fallback is on.</summary>
internal sealed class TransportPlatformCheck : IPostConfigureOptions<UnixNativeTransportOptions>
{
    public void PostConfigure(string? name, UnixNativeTransportOptions options)
    {
        if (options.UnsupportedOS() is { } os && !options.FallBackToSocketsTransportOnUnsupportedOS)
        {
            throw TransportPlatform.NotLinux(os);
        }
    }
}
