using System.Runtime.InteropServices;

namespace Transport.UnixNative.Client.Internal;

/// <summary>
/// Unix socket paths work wherever .NET's do (Linux, macOS, Windows 10+); abstract addresses,
/// SOCK_SEQPACKET and SO_PEERCRED are Linux's, and asking for them elsewhere says so.
/// </summary>
internal static class ClientPlatform
{
    /// <summary>Tests pretend another OS here, for their own async flow only.</summary>
    internal static readonly AsyncLocal<string?> PretendedOS = new();

    /// <summary>The OS when it is not Linux; null on Linux.</summary>
    public static string? UnsupportedOS => PretendedOS.Value ?? (OperatingSystem.IsLinux() ? null : RuntimeInformation.OSDescription);

    public static void RequireLinux(string feature, string whatInstead)
    {
        if (UnsupportedOS is { } os)
        {
            throw new PlatformNotSupportedException($"{feature} need Linux; this is {os}. {whatInstead}");
        }
    }
}
