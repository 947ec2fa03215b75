namespace SocketPush.LoadTest.Systems;

internal static class SystemNames
{
    public const string SocketPush = "socketpush";
    public const string SocketIo = "socketio";
    public const string Nchan = "nchan";

    public static readonly string[] All = [SocketPush, SocketIo, Nchan];
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

    /// <summary>Backend calls a client needs before it connects (SocketPush: auth.set, channel.subscribe).</summary>
    public virtual Task PrepareUsersAsync(int first, int count, string? channel, Action<int> progress, CancellationToken cancellationToken) =>
        Task.CompletedTask;

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
