using System.Globalization;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace WebOverUds;

/// <summary>
/// Kestrel binds Endpoints and EndpointDefaults from the "Kestrel" section but not Limits: this binds
/// them, so <c>--Kestrel:Limits:KeepAliveTimeout=00:00:05</c> or
/// <c>--Kestrel:Limits:MinResponseDataRate:BytesPerSecond=65536</c> work (the reliability suite
/// shortens the timeouts this way to see them cut slow clients through either transport).
/// </summary>
internal static class KestrelLimitsConfiguration
{
    public static void Bind(IConfiguration configuration, KestrelServerLimits limits)
    {
        var section = configuration.GetSection("Kestrel:Limits");
        section.Bind(limits);
        // MinDataRate has no setters, so the binder leaves these two alone.
        limits.MinRequestBodyDataRate = Rate(section.GetSection(nameof(KestrelServerLimits.MinRequestBodyDataRate)), limits.MinRequestBodyDataRate);
        limits.MinResponseDataRate = Rate(section.GetSection(nameof(KestrelServerLimits.MinResponseDataRate)), limits.MinResponseDataRate);
    }

    private static MinDataRate? Rate(IConfigurationSection section, MinDataRate? current)
    {
        if (!section.GetChildren().Any())
        {
            return current;
        }
        var bytesPerSecond = section[nameof(MinDataRate.BytesPerSecond)] is { } rate
            ? double.Parse(rate, CultureInfo.InvariantCulture)
            : current?.BytesPerSecond ?? 240;
        var gracePeriod = section[nameof(MinDataRate.GracePeriod)] is { } grace
            ? TimeSpan.Parse(grace, CultureInfo.InvariantCulture)
            : current?.GracePeriod ?? TimeSpan.FromSeconds(5);
        return new MinDataRate(bytesPerSecond, gracePeriod);
    }
}
