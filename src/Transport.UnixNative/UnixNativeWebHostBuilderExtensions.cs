using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Transport.UnixNative;
using Microsoft.Extensions.Options;
using Transport.UnixNative.Core.Diagnostics;
using Transport.UnixNative.Descriptors;
using Transport.UnixNative.Hosting;
using Transport.UnixNative.Restart;
using Transport.UnixNative.SendFile;

namespace Microsoft.AspNetCore.Hosting;

/// <summary>Turns on the native unix socket transport for Kestrel.</summary>
public static class UnixNativeWebHostBuilderExtensions
{
    /// <summary>
    /// Serves Kestrel's unix socket endpoints (<c>ListenUnixSocket</c>, <c>ListenUnixAbstract</c>,
    /// <c>ListenUnixSeqpacket</c>, <c>--urls http://unix:/path</c> and <c>http://unix:@name</c>) on native
    /// epoll threads. TCP endpoints keep using Kestrel's Sockets transport. Options are read from the
    /// <c>Kestrel:UnixNative</c> configuration section, then from code, and validated when the host starts.
    /// </summary>
    /// <remarks>
    /// Under systemd socket activation (<c>LISTEN_PID</c> is this process) the activated unix sockets
    /// replace the <c>urls</c> setting, and endpoints naming the same address use them; with
    /// <see cref="UnixNativeTransportOptions.HandoverSocketPath"/> a predecessor's sockets do the same.
    /// When <c>NOTIFY_SOCKET</c> is set, systemd is told <c>READY=1</c> once the application has
    /// started and <c>STOPPING=1</c> when it stops.
    /// </remarks>
    public static IWebHostBuilder UseUnixNativeTransport(this IWebHostBuilder hostBuilder)
        => hostBuilder.UseUnixNativeTransport(static _ => { });

    /// <inheritdoc cref="UseUnixNativeTransport(IWebHostBuilder)"/>
    /// <param name="hostBuilder">The web host builder.</param>
    /// <param name="configureOptions">Configures the transport's options.</param>
    public static IWebHostBuilder UseUnixNativeTransport(this IWebHostBuilder hostBuilder, Action<UnixNativeTransportOptions> configureOptions)
    {
        ArgumentNullException.ThrowIfNull(hostBuilder);
        ArgumentNullException.ThrowIfNull(configureOptions);
        // Kestrel:Endpoints:*:Url is read by Kestrel's own loader: the overlay makes our URL forms mean there what they mean in --urls.
        hostBuilder.ConfigureAppConfiguration(static (_, configuration) =>
        {
            if (!configuration.Sources.OfType<UnixEndpointUrlSource>().Any())
            {
                configuration.Add(new UnixEndpointUrlSource());
            }
        });
        return hostBuilder.ConfigureServices((context, services) =>
        {
            UnixEndpointUrlOverlay.Attach(context.Configuration, kestrelSection: null);
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>, UnixEndpointUrlSetup>());
            // Kestrel asks the most recently registered factory first; ours claims only unix endpoints.
            services.AddSingleton<IConnectionListenerFactory, UnixNativeTransportFactory>();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IStartupFilter, UnixUrlRewriter>());
            // Configuration first, then code: what the application sets in code wins.
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<UnixNativeTransportOptions>>(
                new UnixNativeTransportConfiguration(context.Configuration)));
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<UnixNativeTransportOptions>, UnixNativeTransportOptionsValidator>());
            services.AddOptions<UnixNativeTransportOptions>().ValidateOnStart();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<UnixNativeTransportOptions>, TransportPlatformCheck>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IStartupFilter, RequestDescriptorsStartupFilter>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IStartupFilter, Transport.UnixNative.SendFile.SendFileStartupFilter>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, HandoverLifetime>());
            services.Configure(configureOptions);
            if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NOTIFY_SOCKET")))
            {
                // UseSystemd() enables this only when the parent process is systemd; a notify socket
                // is what matters (systemd-socket-activate, a supervisor, a container's init).
                services.TryAddSingleton<ISystemdNotifier, SystemdNotifier>();
                services.AddSingleton<IHostLifetime, SystemdLifetime>();
            }
        });
    }
}
