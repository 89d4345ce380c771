using System.Runtime.Versioning;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Transport.UnixNative.Tests.Infrastructure;
using Transport.UnixNative.Authentication;

namespace Transport.UnixNative.Tests.Authentication;

/// <summary>
/// The UnixPeer principal is built from claims made once per connection: what one request (or a
/// claims transformation) does to its user must never reach the next request on that connection.
/// curl (HTTP/1.1) or h2load (h2c) sends the requests over one connection; the routes record what each request saw.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class UnixPeerPrincipalTests
{
    [ToolTheory("curl", "h2load")]
    [InlineData(HttpProtocols.Http1)]
    [InlineData(HttpProtocols.Http2)]
    public async Task ChangesToOneRequestsUser_DoNotReachTheNextRequestOnTheConnection(HttpProtocols protocols)
    {
        using var directory = new TempSocketDirectory();
        var socket = directory.PathOf("s.sock");
        var seen = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUnixNativeTransport();
        builder.WebHost.ConfigureKestrel(k => k.ListenUnixSocket(socket, l => l.Protocols = protocols));
        builder.Services.AddDataProtection().UseEphemeralDataProtectionProvider();
        builder.Services.AddAuthentication(UnixPeerDefaults.AuthenticationScheme).AddUnixPeer();
        builder.Services.AddTransient<IClaimsTransformation, AddsAClaimToTheIdentity>();
        await using var app = builder.Build();
        app.MapGet("/claims", (HttpContext context) => seen.Enqueue(Describe(context)));
        app.MapGet("/mutate", (HttpContext context) =>
        {
            var identity = (ClaimsIdentity)context.User.Identity!;
            identity.RemoveClaim(identity.FindFirst(ClaimTypes.Name));
            Assert.True(identity.TryRemoveClaim(identity.FindFirst(UnixClaimTypes.UserId)));
            identity.AddClaim(new Claim("added", "by /mutate"));
            context.User.AddIdentity(new ClaimsIdentity([new Claim("second", "identity")], "other"));
            seen.Enqueue(Describe(context));
        });
        await app.StartAsync().DefaultTimeout();
        try
        {
            var urls = new[] { "/claims", "/mutate", "/claims", "/mutate", "/claims" }.Select(p => "http://localhost" + p).ToArray();
            // One connection, one request at a time, in this order. (curl 7.88 cannot reuse an
            // h2c prior-knowledge connection for a second URL; h2load cycles through its URIs.)
            var client = protocols == HttpProtocols.Http1
                ? await ProcessRunner.RunAsync("curl", ["-q", "-sS", "--max-time", "20", "--unix-socket", socket, .. urls])
                : await ProcessRunner.RunAsync("h2load", ["-B", $"unix:{socket}", "-n", "5", "-c", "1", "-m", "1", .. urls]);

            Assert.True(client.ExitCode == 0, client.ToString());
            var replies = seen.ToArray();
            Assert.Equal(5, replies.Length);
            Assert.Single(replies.Select(r => r.Split(' ')[0]).Distinct()); // one connection for all five
            var uid = ProcessIds.EffectiveUserId.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var untouched = $"name={(await ProcessRunner.RunAsync("id", ["-un"])).StandardOutput.Trim()} uid={uid} transformed=1 added=0 identities=1";
            var mutated = "name=(none) uid=(none) transformed=1 added=1 identities=2";
            Assert.Equal([untouched, mutated, untouched, mutated, untouched], replies.Select(r => r[(r.IndexOf(' ') + 1)..]));
        }
        finally
        {
            await app.StopAsync().DefaultTimeout();
        }
    }

    private static string Describe(HttpContext context)
    {
        var user = context.User;
        return $"{context.Connection.Id} name={user.Identity?.Name ?? "(none)"} uid={user.FindFirst(UnixClaimTypes.UserId)?.Value ?? "(none)"} " +
               $"transformed={user.FindAll("transformed").Count()} added={user.FindAll("added").Count()} identities={user.Identities.Count()}";
    }

    /// <summary>The common way to enrich a user: add a claim to its identity, on every authentication.</summary>
    private sealed class AddsAClaimToTheIdentity : IClaimsTransformation
    {
        public Task<ClaimsPrincipal> TransformAsync(ClaimsPrincipal principal)
        {
            ((ClaimsIdentity)principal.Identity!).AddClaim(new Claim("transformed", "yes"));
            return Task.FromResult(principal);
        }
    }
}
