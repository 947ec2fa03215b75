using System.Collections.Concurrent;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Edge.HubServer;

/// <summary>
/// The open hub sessions of this node and what they share. One timer walks them about once a second for the
/// authentication timeout, the client timeout and keep-alive pings, instead of a timer per connection, and sweeps
/// expired negotiate tokens.
/// </summary>
internal sealed class HubSessions : IHostedService, IDisposable
{
    private static readonly TimeSpan TickPeriod = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<HubSession, byte> _open = new(ReferenceEqualityComparer.Instance);
    private readonly LiveConfig _config;
    private readonly HubConnectionTokens _tokens;
    private readonly Origins _origins;
    private ITimer? _timer;

    public HubSessions(
        ConnectionRegistry registry,
        ClientAuthenticator authenticator,
        StreamRecovery recovery,
        LiveConfig config,
        HubConnectionTokens tokens,
        Origins origins,
        OutboundQueues queues,
        EdgeMetrics metrics,
        TimeProvider time,
        ILogger<HubSessions> logger)
    {
        Registry = registry;
        Authenticator = authenticator;
        Recovery = recovery;
        _config = config;
        _tokens = tokens;
        _origins = origins;
        Queues = queues;
        Metrics = metrics;
        Time = time;
        Logger = logger;
    }

    public ConnectionRegistry Registry { get; }

    public ClientAuthenticator Authenticator { get; }

    /// <summary>Recovers the streams of a client that authenticates with <c>Recover</c>.</summary>
    public StreamRecovery Recovery { get; }

    /// <summary>What each session's outbound queue shares.</summary>
    public OutboundQueues Queues { get; }

    public EdgeMetrics Metrics { get; }

    public TimeProvider Time { get; }

    public ILogger Logger { get; }

    public ClientOptions Options => _config.Options;

    /// <summary>Open sessions, authenticated or not.</summary>
    public int Count => _open.Count;

    public void Track(HubSession session) => _open.TryAdd(session, 0);

    public void Forget(HubSession session) => _open.TryRemove(session, out _);

    /// <summary>
    /// Whether a WebSocket upgrade to the hub may go ahead: the node must not be full, its page's origin must be allowed and a negotiated token
    /// (null when the client skipped negotiate) must be unused, which this takes. A refusal is counted and logged.
    /// </summary>
    public UpgradeRefusal? CheckUpgrade(string? origin, string? token)
    {
        if (Registry.Full() is { } full)
        {
            // Counted by the registry; a negotiated token stays unused and expires.
            ClientLog.UpgradeRefused(Logger, full.Message);
            return new UpgradeRefusal(503, "Service Unavailable", full.MetricReason, full.Message);
        }

        var refusal = !_origins.Allowed(origin) ? new UpgradeRefusal(403, "Forbidden", "origin", $"Origin {origin} is not in options.allowedOrigins.")
            : token is not null && !_tokens.TryClaim(token) ? new UpgradeRefusal(404, "Not Found", "unknown_connection", "No Connection with that ID")
            : null;
        if (refusal is not null)
        {
            Refused(refusal);
        }

        return refusal;
    }

    /// <summary>Counts and logs a refused upgrade.</summary>
    public void Refused(UpgradeRefusal refusal)
    {
        ClientLog.UpgradeRefused(Logger, refusal.Message);
        Metrics.ConnectionRejected(refusal.MetricReason);
    }

    /// <summary>Closes every open session, authenticated or not; their clients may reconnect elsewhere.</summary>
    public void CloseAll(string reason)
    {
        foreach (var (session, _) in _open)
        {
            session.Abort(reason, allowReconnect: true);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _timer = Time.CreateTimer(_ => Tick(), null, TickPeriod, TickPeriod);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _timer?.Dispose();

    private void Tick()
    {
        var now = Time.GetTimestamp();
        var options = _config.Options;
        // Enumerating the dictionary itself does not copy it, unlike its Keys.
        foreach (var (session, _) in _open)
        {
            session.Tick(now, options);
        }

        _tokens.Sweep();
    }
}

/// <summary>Why a WebSocket upgrade to the hub is refused: the HTTP answer, and the reason label of the rejection metric.</summary>
internal sealed record UpgradeRefusal(int Status, string Phrase, string MetricReason, string Message);
