using SocketPush.LoadTest.Workers;

namespace SocketPush.LoadTest;

/// <summary>The history set's failovers; its fan-out runs are in <see cref="ResultsFile.Runs"/> (with <see cref="RunResult.History"/>).</summary>
internal sealed class HistoryResults
{
    /// <summary>The history: section of the "off" side (the "on" side has none: the node's default).</summary>
    public string OffSection { get; set; } = "";

    public List<FailoverResult> Failovers { get; set; } = [];
}

/// <summary>One failover: kill -9 of a channel's owner under steady publishes, with recovering clients on every node.</summary>
internal sealed class FailoverResult
{
    public int Round { get; set; }

    public int N { get; set; }

    public string Victim { get; set; } = "";

    public string Placement { get; set; } = "";

    public string Status { get; set; } = "ok";

    public int Connected { get; set; }

    public int ConnectFailures { get; set; }

    /// <summary>Clients connected to the node that was killed (their users' owner).</summary>
    public int ClientsOnVictim { get; set; }

    public double PublishesPerSecond { get; set; }

    /// <summary>From the kill until a survivor first showed the victim other than alive (manager.status).</summary>
    public double SuspectedSeconds { get; set; }

    /// <summary>From the kill until both survivors' rings had dropped the victim (ring share 0 in manager.status): the failure detector's verdict.</summary>
    public double DetectionSeconds { get; set; }

    /// <summary>The goal: detection + 2 s.</summary>
    public double GoalSeconds { get; set; }

    /// <summary>Every client held every publish acknowledged among those sent before the verdict within <see cref="GoalSeconds"/> of the kill.</summary>
    public bool GoalMet { get; set; }

    public int Publishes { get; set; }

    public int Acknowledged { get; set; }

    public int PublishesNot200 { get; set; }

    /// <summary>Answers other than 200 by status code ("no answer": a timeout or a broken connection).</summary>
    public Dictionary<string, int> PublishAnswers { get; set; } = [];

    public int RequiredAtKill { get; set; }

    public int RequiredAtVerdict { get; set; }

    /// <summary>Per client, from the kill until it held every acknowledged publish sent before the kill.</summary>
    public CatchUp CaughtUpAtKill { get; set; } = new();

    /// <summary>Per client, from the kill until it held every acknowledged publish sent before the verdict (the goal's figure).</summary>
    public CatchUp CaughtUpAtVerdict { get; set; } = new();

    /// <summary>Per client, from the kill until it held every acknowledged publish of the run.</summary>
    public CatchUp CaughtUpAll { get; set; } = new();

    /// <summary>Per client that reconnected, from the kill until its Recover was answered.</summary>
    public CatchUp Reconnected { get; set; } = new();

    /// <summary>What the recovering clients saw of the stream, summed over the client processes (no per-client times).</summary>
    public StreamReport Streams { get; set; } = new();

    /// <summary>Growth of socketpush_messages_recovered_total on the survivors.</summary>
    public double MessagesRecovered { get; set; }

    /// <summary>From the last sample before the counter grew to the first at its final value (samples every 250 ms).</summary>
    public double RecoveryWindowSeconds { get; set; }

    public double RecoveredPerSecond { get; set; } = double.NaN;

    /// <summary>Publish calls (HTTP, to a survivor) by when they were sent: before the kill, from the kill to the verdict + 2 s, after.</summary>
    public LatencySummary? PublishLatencyBeforeKill { get; set; }

    public LatencySummary? PublishLatencyAroundKill { get; set; }

    public LatencySummary? PublishLatencyAfter { get; set; }

    public LatencySummary? PublishLatencyAll { get; set; }

    /// <summary>The survivors' history counters at the end, each prefixed with the node's id.</summary>
    public Dictionary<string, double> ServerCounters { get; set; } = [];

    public double OtherLoadCores { get; set; }

    public List<string> Errors { get; set; } = [];
}

/// <summary>Times of the clients (seconds from the kill), and the clients that never got there.</summary>
internal sealed class CatchUp
{
    public int Clients { get; set; }

    public int Lacking { get; set; }

    public double P50Seconds { get; set; } = double.NaN;

    public double P99Seconds { get; set; } = double.NaN;

    public double MaxSeconds { get; set; } = double.NaN;

    /// <summary>From per-client milliseconds, -1 for a client that never got there.</summary>
    public static CatchUp Of(IEnumerable<double> milliseconds)
    {
        var all = milliseconds.ToList();
        var done = all.Where(ms => ms >= 0).Select(ms => Math.Max(0, ms) / 1000).Order().ToList();
        return new CatchUp
        {
            Clients = all.Count,
            Lacking = all.Count - done.Count,
            P50Seconds = done.Count == 0 ? double.NaN : done[(done.Count - 1) / 2],
            P99Seconds = done.Count == 0 ? double.NaN : done[(int)Math.Ceiling(done.Count * 0.99) - 1],
            MaxSeconds = done.Count == 0 ? double.NaN : done[^1],
        };
    }
}
