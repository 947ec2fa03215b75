using System.Collections.Frozen;
using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.FileProviders;
using Prometheus;
using SocketPush.Client.Services;
using SocketPush.Node.Admin;
using SocketPush.Node.Edge;
using SocketPush.Node.Edge.HubServer;
using SocketPush.Node.Cluster;
using SocketPush.Node.Cluster.ConfigLayer;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Owner.Records;
using SocketPush.Node.Cluster.Routing;
using SocketPush.Node.Configuration;
using SocketPush.Node.Owner;
using SocketPush.Node.Owner.History;

namespace SocketPush.Node.Hosting;

/// <summary>
/// One running node: a Kestrel server with the client and admin ports, each port its own pipeline.
/// Used by Program and, in-process, by the tests.
/// </summary>
/// <remarks>
/// How a node starts and stops, all of it here. Start: the host starts the background services in the order of
/// <see cref="AddBackgroundServices"/>, then the web server opens the ports; once their URLs are known gossip opens
/// the cluster port and joins, the peer links attach, and the node watches its config file and is ready. Stop
/// (SIGTERM, Ctrl+C, or disposing this): <see cref="GracefulShutdown"/> first, while everything still runs (not ready,
/// the graceful leave: handoff and moves before the departure is gossiped, then the remaining clients closed); then
/// the web server; then the background services in the reverse of their start order.
/// </remarks>
internal sealed class NodeHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private NodeHost(WebApplication app, NodeIdentity identity)
    {
        _app = app;
        Identity = identity;
    }

    public NodeIdentity Identity { get; }

    public IServiceProvider Services => _app.Services;

    /// <param name="config">The config to start with, validated.</param>
    /// <param name="time">The clock; the system's by default.</param>
    /// <param name="logging">Replaces the console log output (tests).</param>
    /// <param name="source">Where the config came from, watched and read again on changes; none by default (configured in code).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<NodeHost> StartAsync(
        NodeConfig config,
        TimeProvider? time = null,
        Action<ILoggingBuilder>? logging = null,
        ConfigSource? source = null,
        CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot"),
        });
        var live = new LiveConfig(config);
        var starting = new StartPhase();
        ConfigureLogging(builder.Logging, live, logging, starting);

        ListenOptions? clientListen = null;
        ListenOptions? adminListen = null;
        var tls = config.Tls;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            var certificate = tls.Certificate.Length == 0 ? null
                : new ServerCertificate(live, time ?? TimeProvider.System, () => kestrel.ApplicationServices.GetRequiredService<ILogger<ServerCertificate>>());
            kestrel.Listen(IPAddress.Parse(config.Node.BindAddress), config.Node.ClientPort, l =>
            {
                clientListen = l;
                if (tls.OnClientPort())
                {
                    UseHttps(l, certificate!);
                }

                // After TLS, so it sees the handshake and leaves those connections to the HTTP server's WebSockets.
                var hubWebSockets = new HubWebSocketListener(l.ApplicationServices);
                l.Use(next => connection => hubWebSockets.OnConnectionAsync(connection, next));
            });
            kestrel.Listen(IPAddress.Parse(config.Admin.BindAddress), config.Admin.Port, l =>
            {
                adminListen = l;
                if (tls.OnAdminPort())
                {
                    UseHttps(l, certificate!);
                }
            });
        });

        var identity = new NodeIdentity(config.Node.Id);
        var health = new HealthState();
        RegisterServices(builder.Services, live, identity, health, time ?? TimeProvider.System, source ?? ConfigSource.None);
        builder.Services.AddCors();
        // The graceful leave runs inside the host's stop, before the web server stops: the server keeps the shutdown
        // time it had (30 s by default) on top of the leave's own bound.
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout += config.Cluster.LeaveTimeout);

        var app = builder.Build();
        // Before anything reads the config: the cluster's layer this node kept goes over its file from the start.
        app.Services.GetRequiredService<ConfigLayerStore>().Restore();
        var ports = new BoundPorts(() => clientListen!.IPEndPoint!.Port, () => adminListen!.IPEndPoint!.Port);
        app.MapWhen(c => c.Connection.LocalPort == ports.Admin, admin => ConfigureAdminPort(admin, health));
        app.MapWhen(c => c.Connection.LocalPort == ports.Client, ConfigureClientPort);

        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            await app.DisposeAsync();
            throw new IOException(PortInUse(e.Message, config), e);
        }
        finally
        {
            starting.Over = true;
        }

        identity.ClientUrl = config.Node.AdvertisedClientUrl.Length > 0
            ? config.Node.AdvertisedClientUrl.TrimEnd('/')
            : $"{(tls.OnClientPort() ? "https" : "http")}://{Format(config.Node.BindAddress)}:{ports.Client}";
        identity.AdminUrl = config.Admin.AdvertisedUrl.Length > 0
            ? config.Admin.AdvertisedUrl.TrimEnd('/')
            : $"{(tls.OnAdminPort() ? "https" : "http")}://{Format(config.Admin.BindAddress)}:{ports.Admin}";
        // Gossip starts once the URLs it announces are known; until then the node is a ring of one.
        var cluster = app.Services.GetRequiredService<ClusterMembership>();
        try
        {
            await cluster.StartAsync();
        }
        catch (IOException)
        {
            await app.StopAsync(cancellationToken);
            await app.DisposeAsync();
            throw;
        }

        app.Services.GetRequiredService<PeerLinks>().Attach();
        app.Services.GetRequiredService<ClusterMetrics>().Observe(cluster);
        health.Joined = () => cluster.Joined;
        health.Standby = () => cluster.Standby.Waiting;
        app.Services.GetRequiredService<ConfigReloader>().Watch();
        health.Ready = true;
        return new NodeHost(app, identity);
    }

    private static void UseHttps(ListenOptions listen, ServerCertificate certificate) =>
        listen.UseHttps(new HttpsConnectionAdapterOptions { ServerCertificateSelector = (_, _) => certificate.Current() });

    /// <summary>Completes when the host is asked to stop (SIGTERM, Ctrl+C).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    /// <summary>
    /// Stops the node as SIGTERM does: the graceful leave first (others then drop this node from their rings at once
    /// instead of after the failure detection time), then everything else. After SIGTERM it only disposes: the leave
    /// ran once already.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _app.StopAsync();
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }

    internal static void RegisterServices(IServiceCollection services, LiveConfig live, NodeIdentity identity, HealthState health, TimeProvider time, ConfigSource source)
    {
        var config = live.Current;
        services.AddSingleton(live);
        services.AddSingleton(source);
        services.AddSingleton<ConfigReloader>();
        services.AddSingleton<IWorkerService, WorkerService>();
        services.AddSingleton(identity);
        services.AddSingleton(health);
        services.AddSingleton(time);
        services.AddMetrics();
        services.ConfigureHttpJsonOptions(o => ApiJson.Configure(o.SerializerOptions));
        services.AddSingleton<PrometheusExporter>();
        AddAreaMetrics<EdgeMetrics>(services);
        AddAreaMetrics<OwnerMetrics>(services);
        AddAreaMetrics<ClusterMetrics>(services);
        AddAreaMetrics<ConfigMetrics>(services);
        AddAreaMetrics<AdminMetrics>(services);
        services.AddSingleton(sp =>
        {
            var clock = new HybridClock(time);
            sp.GetRequiredService<OwnerMetrics>().Observe(clock);
            return clock;
        });
        services.AddSingleton(sp => new RecordStore(sp.GetRequiredService<HybridClock>(), config.Node.Id));
        services.AddSingleton(new PresenceTable(config.Node.Id));
        services.AddSingleton(sp => new ClusterMembership(live, identity, sp.GetRequiredService<ILoggerFactory>(), time));
        services.AddSingleton<PeerLinks>();
        services.AddSingleton<Origins>();
        services.AddSingleton<PeerHandlers>();
        services.AddSingleton<ClusterRouter>();
        services.AddSingleton<OwnerFanOut>();
        services.AddSingleton<MissingCopies>();
        services.AddSingleton<RecordSender>();
        services.AddSingleton<GracefulLeave>();
        services.AddSingleton<Replication>();
        services.AddSingleton<IReplicas>(sp => sp.GetRequiredService<Replication>());
        services.AddSingleton<OwnerRecords>();
        services.AddSingleton<OwnerRedirect>();
        services.AddSingleton<RecordService>();
        services.AddSingleton<AuthService>();
        services.AddSingleton<UserService>();
        services.AddSingleton<ChannelService>();
        services.AddSingleton<HistoryMetrics>();
        services.AddSingleton<StreamReplication>();
        services.AddSingleton<IStreamReplicas>(sp => sp.GetRequiredService<StreamReplication>());
        services.AddSingleton<OwnerStreams>();
        services.AddSingleton<RoutedHistory>();
        services.AddSingleton<IStreamHistory>(sp => sp.GetRequiredService<RoutedHistory>());
        services.AddSingleton<StreamRecovery>();
        services.AddSingleton(sp =>
        {
            var store = ActivatorUtilities.CreateInstance<HistoryStore>(sp);
            sp.GetRequiredService<HistoryMetrics>().Observe(store);
            return store;
        });
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<MessageDelivery>();
        services.AddSingleton<ILocalConnections, EdgeConnections>();
        services.AddSingleton<OutboundQueues>();
        services.AddSingleton<HubConnectionTokens>();
        services.AddSingleton<HubHttpEndpoint>();
        services.AddSingleton<MessageLimit>();
        services.AddSingleton<ClientAuthenticator>();
        services.AddSingleton<IAuthService, RoutedAuthService>();
        services.AddSingleton<IUserService, RoutedUserService>();
        services.AddSingleton<IChannelService, RoutedChannelService>();
        services.AddSingleton<IManagerService, ManagerService>();
        services.AddSingleton<ConfigLayerStore>();
        services.AddSingleton<ApiKeyCheck>();
        services.AddSingleton<ManagementApi>();
        services.AddManagementRateLimit();
        services.AddSocketPushOpenApi();
        AddBackgroundServices(services);
    }

    /// <summary>
    /// The node's background work, each a hosted service. The host starts them in this order, all before the web
    /// server opens the ports (and so before the first client, and before gossip), and stops them in the reverse
    /// order, after the web server closed. <see cref="GracefulShutdown"/>, last, is the exception: its StoppingAsync
    /// runs before anything stops.
    /// </summary>
    private static void AddBackgroundServices(IServiceCollection services)
    {
        // Presence first and stopped last: every connection, from the first to the last one closed, is reported to
        // its user's owner.
        AddBackgroundService<PresenceReporter>(services);
        // The edge's `moved`, which a ring change asks for once presence told the new owners.
        AddBackgroundService<ClientMover>(services);
        // The cluster's records: handoff to new replicas, copies owed to them, anti-entropy between replicas.
        AddBackgroundService<HandoffSender>(services);
        AddBackgroundService<CopyRepair>(services);
        AddBackgroundService<AntiEntropy>(services);
        // The streams' copies, after the ring: repair of new replicas, handoff from nodes that are none any more.
        AddBackgroundService<StreamHandoff>(services);
        // The cluster's config layer: versions compared through gossip, layers exchanged where they differ.
        AddBackgroundService<ConfigLayerSync>(services);
        // A standby's promotion once a member it is paired with has been dead for cluster.standbyAfter.
        AddBackgroundService<StandbyPromotion>(services);
        // The owner's cleanup of users offline too long, from the presence reports.
        AddBackgroundService<OfflineUserCleanup>(services);
        // History aged out once a second.
        AddBackgroundService<HistorySweeper>(services);
        // The hub's once-a-second tick (timeouts, keep-alive pings).
        AddBackgroundService<HubSessions>(services);
        services.AddHostedService<GracefulShutdown>();
    }

    /// <summary>A hosted service that others also use: one instance, both the service and what the host starts and stops.</summary>
    private static void AddBackgroundService<T>(IServiceCollection services)
        where T : class, IHostedService
    {
        services.AddSingleton<T>();
        services.AddHostedService(sp => sp.GetRequiredService<T>());
    }

    /// <summary>
    /// Registers an area's metrics so that the exporter listens before the area creates its instruments: what an area
    /// records as it starts (the config version) would otherwise reach no listener and be lost.
    /// </summary>
    private static void AddAreaMetrics<T>(IServiceCollection services)
        where T : class => services.AddSingleton(sp =>
        {
            sp.GetRequiredService<PrometheusExporter>();
            return ActivatorUtilities.CreateInstance<T>(sp);
        });

    private static void ConfigureClientPort(IApplicationBuilder client)
    {
        client.Use(ApiJson.NoSniff);
        UsePages(client, "client");
        client.UseRouting();
        var origins = client.ApplicationServices.GetRequiredService<Origins>();
        client.UseCors(cors => cors
            .SetIsOriginAllowed(origins.Allowed)
            .AllowAnyHeader()
            // DELETE: a long-polling client ends its session with one.
            .WithMethods("GET", "POST", "DELETE")
            .AllowCredentials());
        // Only for WebSocket upgrades that HubWebSocketListener did not take (see HubHttpEndpoint).
        client.UseWebSockets();
        var hub = client.ApplicationServices.GetRequiredService<HubHttpEndpoint>();
        client.UseEndpoints(endpoints =>
        {
            endpoints.MapPost("/push/negotiate", hub.NegotiateAsync);
            endpoints.MapGet("/push", hub.GetAsync);
            endpoints.MapPost("/push", hub.PostAsync);
            endpoints.MapDelete("/push", hub.DeleteAsync);
            endpoints.MapGet("/sse", SseEndpoint.HandleAsync);
        });
    }

    private static void ConfigureAdminPort(IApplicationBuilder admin, HealthState health)
    {
        admin.Use(ApiJson.NoSniff);
        UsePages(admin, "admin");
        admin.UseMetricServer("/metrics", admin.ApplicationServices.GetRequiredService<PrometheusExporter>().Registry);
        admin.UseRouting();
        // The key first, then the rate limit, then the call: a refused call costs neither a body read nor a bucket.
        admin.Use(admin.ApplicationServices.GetRequiredService<ManagementApi>().GateAsync);
        admin.UseRateLimiter();
        admin.UseEndpoints(endpoints =>
        {
            var description = ManagementApi.Describe(ServiceCatalog.Default);
            endpoints.MapGet("/api", () => Results.Json(description));
            endpoints.MapPost("/api/{service}/{method}", (HttpContext c, string service, string method, ManagementApi api) => api.HandlePostAsync(c, service, method))
                .WithMetadata(ManagementApi.Gated)
                .RequireRateLimiting(ManagementRateLimit.Policy);
            endpoints.MapSocketPushOpenApi();
            endpoints.MapGet("/healthz", () => Results.Json(new { status = "ok" }));
            endpoints.MapGet("/readyz", () => health.Ready && health.Joined() && !health.Standby()
                ? Results.Json(new { status = "ready" })
                : Results.Json(new { status = !health.Ready ? "not ready" : !health.Joined() ? "joining" : "standby" }, statusCode: StatusCodes.Status503ServiceUnavailable));
            // Not MapFallback's default pattern: it skips paths that look like files, and ids may contain dots.
            endpoints.MapFallback("{**path}", (HttpContext c, ManagementApi api) => api.HandlePathAsync(c))
                .WithMetadata(ManagementApi.Gated)
                .RequireRateLimiting(ManagementRateLimit.Policy);
        });
    }

    /// <summary>
    /// Serves the page files. Only requests for those files (known at start) reach the file system, so API calls
    /// and hub traffic never pay for a file lookup.
    /// </summary>
    private static void UsePages(IApplicationBuilder app, string folder)
    {
        var root = Path.Combine(AppContext.BaseDirectory, "wwwroot", folder);
        if (!Directory.Exists(root))
        {
            return;
        }

        var paths = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => "/" + Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Append("/")
            .ToFrozenSet(StringComparer.Ordinal);
        var files = new PhysicalFileProvider(root);
        app.UseWhen(
            c => (HttpMethods.IsGet(c.Request.Method) || HttpMethods.IsHead(c.Request.Method)) && paths.Contains(c.Request.Path.Value ?? ""),
            pages =>
            {
                pages.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
                pages.UseStaticFiles(new StaticFileOptions { FileProvider = files });
            });
    }

    /// <summary>Which setting a port in use comes from, from Kestrel's message (<c>Failed to bind to address http://127.0.0.1:8080: address already in use.</c>).</summary>
    private static string PortInUse(string kestrelMessage, NodeConfig config)
    {
        var match = System.Text.RegularExpressions.Regex.Match(kestrelMessage, @"//(?<address>.+):(?<port>\d+):");
        var port = match.Success ? int.Parse(match.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture) : -1;
        var (setting, flag) = port == config.Admin.Port ? ("admin.port", "--admin-port") : ("node.clientPort", "--client-port");
        return match.Success
            ? $"port {port} ({setting}, TCP) on {match.Groups["address"].Value} is in use by another program; stop it, or choose another port ({setting} in the config file, or {flag})."
            : kestrelMessage;
    }

    private static void ConfigureLogging(ILoggingBuilder logging, LiveConfig live, Action<ILoggingBuilder>? custom, StartPhase starting)
    {
        logging.ClearProviders();
        // A filter, not a fixed minimum level: logging.level reloads. The rules below for Microsoft's
        // categories are more specific and keep their levels.
        logging.SetMinimumLevel(LogLevel.Trace);
        logging.AddFilter((_, _, level) => level >= live.LogLevel);
        logging.AddFilter("Microsoft", LogLevel.Warning);
        logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        // Its request logs are below Warning anyway; while the category is enabled at all, hosting keeps an
        // Activity alive for every request, which for a WebSocket is the connection's whole life.
        logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        // A failure to start reaches the caller as an exception, which says what failed in a line (a port in use);
        // the host would log it first with its whole stack trace.
        logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", level => level >= LogLevel.Warning && starting.Over);
        if (custom is not null)
        {
            custom(logging);
            return;
        }

        logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
    }

    private static string Format(string address) =>
        IPAddress.Parse(address) is { AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 } ? $"[{address}]" : address;

    /// <summary>The ports as bound; read lazily because port 0 is only resolved when the server starts.</summary>
    private sealed class BoundPorts(Func<int> client, Func<int> admin)
    {
        private int _client;
        private int _admin;

        public int Client => _client != 0 ? _client : _client = client();

        public int Admin => _admin != 0 ? _admin : _admin = admin();
    }
}

/// <summary>Whether the host has started (or failed to): while it starts, its own logs are left to the caller.</summary>
internal sealed class StartPhase
{
    public volatile bool Over;
}

/// <summary>Whether the node takes traffic: true once started, false from the moment it begins to stop.</summary>
internal sealed class HealthState
{
    public volatile bool Ready;

    /// <summary>Whether the node has joined its cluster (or is alone on purpose); ready means both.</summary>
    public Func<bool> Joined { get; set; } = () => true;

    /// <summary>Whether the node is a standby not yet promoted: it would only send clients elsewhere, so it is not ready for them.</summary>
    public Func<bool> Standby { get; set; } = () => false;
}
