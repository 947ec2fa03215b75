namespace SocketPush.LoadTest.Systems;

internal static class SystemNames
{
    public const string SocketPush = "socketpush";
    public const string SocketIo = "socketio";
    public const string Nchan = "nchan";

    /// <summary>Three SocketPush nodes in one cluster (the cluster scenarios; not in the default list).</summary>
    public const string SocketPushCluster = "socketpush-cluster";

    public static readonly string[] All = [SocketPush, SocketIo, Nchan];

    public static readonly string[] Known = [.. All, SocketPushCluster];
}

/// <summary>How the harness starts one of the systems it compares.</summary>
internal interface ISystemUnderTest
{
    string Name { get; }

    /// <summary>Versions of what runs, for the results ("nginx 1.22.1, nchan 1.3.6").</summary>
    string Version { get; }

    /// <summary>Transports this system is measured over in the fan-out scenario.</summary>
    IReadOnlyList<string> FanOutTransports { get; }

    Task<RunningServer> StartAsync(CancellationToken cancellationToken);
}

/// <summary>A started server: its client URL, its processes and its publish API.</summary>
internal abstract class RunningServer : IAsyncDisposable
{
    public abstract string ClientUrl { get; }

    /// <summary>The root process; the measured set is it and its descendants.</summary>
    public abstract int RootPid { get; }

    /// <summary>How many server nodes take part (a cluster: more than one).</summary>
    public virtual int Nodes => 1;

    /// <summary>The processes measured for CPU and memory: the root and its descendants, on every node.</summary>
    public virtual IReadOnlyList<int> ProcessIds() => ProcStats.WithDescendants(RootPid);

    /// <summary>PEM file of the self-signed certificate the clients must trust (a TLS client port), or null.</summary>
    public string? TrustedCertificate { get; init; }

    /// <summary>Where the given user's client connects (a cluster: the node that owns the user).</summary>
    public virtual string ClientUrlOf(string userId) => ClientUrl;

    /// <summary>Backend calls a client needs before it connects (SocketPush: auth.set, channel.subscribe).</summary>
    public virtual Task PrepareUsersAsync(IReadOnlyList<string> users, string? channel, Action<int> progress, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    /// <summary>
    /// After the preparation: checks that the users and the channel sit where the measurement needs them
    /// (throws if not) and says where that is, for the results ("one node" when there is no choice).
    /// </summary>
    public virtual Task<string> VerifyPlacementAsync(IReadOnlyList<string> users, string? channel, CancellationToken cancellationToken) =>
        Task.FromResult("one node");

    /// <summary>Publishes to every subscriber of a channel; returns the receivers the server reports, or -1.</summary>
    public abstract Task<long> PublishChannelAsync(string channel, long sequence, bool warmup, CancellationToken cancellationToken);

    /// <summary>Publishes to every connection of one user; returns the receivers the server reports, or -1.</summary>
    public abstract Task<long> PublishUserAsync(string userId, long sequence, bool warmup, CancellationToken cancellationToken);

    /// <summary>The server's own delivery counters, where it exports them.</summary>
    public virtual Task<Dictionary<string, double>> ReadCountersAsync(CancellationToken cancellationToken) =>
        Task.FromResult(new Dictionary<string, double>());

    public abstract ValueTask DisposeAsync();

    /// <summary>What the server printed lately, for a failure report.</summary>
    public abstract string Output { get; }
}
