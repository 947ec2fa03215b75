namespace SocketPush.Gossip.Simulation;

/// <summary>Virtual time shared by every simulated member; only the simulator moves it.</summary>
internal sealed class SimClock : TimeProvider
{
    private static readonly DateTimeOffset Epoch = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Ticks (100 ns) since the simulation began.</summary>
    public long Now { get; set; }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Now;

    public override DateTimeOffset GetUtcNow() => Epoch.AddTicks(Now);
}
