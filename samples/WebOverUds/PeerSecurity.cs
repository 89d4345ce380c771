using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection.Extensions;
using System.Text.Json.Serialization;
using Transport.UnixNative;
using Transport.UnixNative.Authentication;

namespace WebOverUds;

/// <summary>Who is calling: the peer process's credentials as authentication, a policy, and socket file permissions.</summary>
internal static class PeerSecurity
{
    public const string AdminPolicy = "admin";

    public static void ConfigureTransport(SampleOptions options, UnixNativeTransportOptions transport)
    {
        transport.SocketFileMode = options.SocketMode;
        transport.SocketFileGroup = options.SocketGroup;
    }

    public static void AddPeerSecurity(this WebApplicationBuilder builder, SampleOptions options)
    {
        // The kernel vouches for the caller: every request over the unix socket is authenticated as its process's user.
        // AddAuthentication(...) would also register DataProtection, which creates a key ring (and logs that its keys
        // are unencrypted) at every start; the UnixPeer scheme issues no cookie or token, so it needs only the core.
        builder.Services.AddAuthenticationCore(o => o.DefaultScheme = UnixPeerDefaults.AuthenticationScheme);
        builder.Services.AddWebEncoders();
        builder.Services.TryAddSingleton(TimeProvider.System);
        new AuthenticationBuilder(builder.Services).AddUnixPeer();
        builder.Services.AddAuthorizationBuilder().AddPolicy(AdminPolicy, policy => policy.RequireUnixUser(options.AdminUser));
    }

    public static void MapPeerSecurityRoutes(this WebApplication app)
    {
        app.MapGet("/whoami", (HttpContext context) =>
        {
            if (context.Features.Get<IUnixPeerCredentialsFeature>() is not { } peer)
            {
                return Results.Text("Not a unix socket connection served by Transport.UnixNative: the peer is unknown.\n", statusCode: StatusCodes.Status400BadRequest);
            }
            var user = context.User.FindFirst(UnixClaimTypes.UserName)?.Value;
            return Results.Json(new WhoAmI(peer.ProcessId, peer.UserId, peer.GroupId, user, peer.SecurityLabel), PeerSecurityJsonContext.Default.WhoAmI);
        });
        app.MapGet("/admin", (HttpContext context) => Results.Text($"Hello, {context.User.Identity?.Name}: you may administer.\n"))
            .RequireAuthorization(AdminPolicy);
    }
}

internal sealed record WhoAmI(int Pid, uint Uid, uint Gid, string? User, string? Label);

[JsonSerializable(typeof(WhoAmI))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
internal sealed partial class PeerSecurityJsonContext : JsonSerializerContext;
