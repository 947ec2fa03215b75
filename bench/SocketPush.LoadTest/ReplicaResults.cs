namespace SocketPush.LoadTest;

/// <summary>The replicas set (<c>--replicas</c>): management write latency per cluster.writeQuorum, and the handoff to a joining node.</summary>
internal sealed class ReplicaResults
{
    /// <summary>cluster.replicas of every node started.</summary>
    public int Replicas { get; set; }

    /// <summary>The least warm-up of each write setting, in seconds (it also lasts until every user has had two calls).</summary>
    public double WarmupSeconds { get; set; }

    public List<WriteLatencyResult> WriteLatency { get; set; } = [];

    public HandoffResult? Handoff { get; set; }
}

/// <summary>Closed-loop management writes (auth.set and channel.subscribe, alternating) on three nodes with one writeQuorum.</summary>
internal sealed class WriteLatencyResult
{
    public int WriteQuorum { get; set; }

    public int Nodes { get; set; }

    /// <summary>Calls in flight, all the time (closed loop: each caller sends its next call when the last one answered).</summary>
    public int Concurrency { get; set; }

    public int Users { get; set; }

    public int Channels { get; set; }

    /// <summary>Which node each call went to and how the users spread over the owners, as checked against the cluster.</summary>
    public string Placement { get; set; } = "";

    public double WarmupSeconds { get; set; }

    public long WarmupCalls { get; set; }

    public double MeasureSeconds { get; set; }

    public long Calls { get; set; }

    public long Failures { get; set; }

    public double CallsPerSecond { get; set; }

    /// <summary>Both methods together; then each alone.</summary>
    public LatencySummary? Latency { get; set; }

    public LatencySummary? AuthSet { get; set; }

    public LatencySummary? Subscribe { get; set; }

    /// <summary>User+system CPU of the three node processes during the measurement, per successful call.</summary>
    public double ServerCpuMicrosecondsPerCall { get; set; }

    /// <summary>CPU used on the machine by other programs during the measurement, in cores.</summary>
    public double OtherLoadCores { get; set; }

    /// <summary>The nodes' replication counters at the end (node-prefixed), for a cross-check.</summary>
    public Dictionary<string, double> ServerCounters { get; set; } = [];

    public string Status { get; set; } = "ok";

    public List<string> Errors { get; set; } = [];
}

/// <summary>Three nodes holding the users' records; a fourth joins; from its ready line until every node is done.</summary>
internal sealed class HandoffResult
{
    public int Users { get; set; }

    /// <summary>Records in all before the join (a user and a session per user), each on every one of the three nodes.</summary>
    public int Records { get; set; }

    public double LoadSeconds { get; set; }

    public double LoadCallsPerSecond { get; set; }

    /// <summary>Loading calls written again after they answered unavailable (a write that missed its quorum in time).</summary>
    public int LoadRetries { get; set; }

    /// <summary>From starting the fourth node's process to its ready line (not part of <see cref="Figures"/>).</summary>
    public double JoinerStartSeconds { get; set; }

    /// <summary>From the ready line until the first handoff records were counted.</summary>
    public double FirstHandoffSeconds { get; set; } = double.NaN;

    /// <summary>The handoff counters of every node over the join, and the seconds from the ready line to done.</summary>
    public HandoffFigures? Figures { get; set; }

    /// <summary>Records each node holds once done, against what the harness's ring of four expects ("n4 150123/150123").</summary>
    public string Held { get; set; } = "";

    public double ServerCpuSeconds { get; set; }

    public double OtherLoadCores { get; set; }

    /// <summary>How the end was established (the conditions every node met).</summary>
    public string Done { get; set; } = "";

    public Dictionary<string, double> CountersBefore { get; set; } = [];

    public Dictionary<string, double> CountersAfter { get; set; } = [];

    public string Status { get; set; } = "ok";

    public List<string> Errors { get; set; } = [];
}

/// <summary>
/// What a join moved, from the nodes' counters before and after (samples prefixed with the node id, "n1 socketpush_..."):
/// handoff records and bytes (a record sent to each replica it goes to counts once per replica), copies sent to a
/// replica a key gained (the repair of owed copies), and records anti-entropy rounds sent.
/// </summary>
internal sealed record HandoffFigures(long Records, long Bytes, long CopiesRepaired, long AntiEntropyRecords, double Seconds)
{
    public const string RecordsMetric = "socketpush_handoff_records_total";
    public const string BytesMetric = "socketpush_handoff_bytes_total";
    public const string RepairedMetric = "socketpush_replica_copies_repaired_total";
    public const string AntiEntropySentMetric = "socketpush_antientropy_records_total{direction=\"sent\"}";
    public const string PeerBytesMetric = "socketpush_peer_bytes_total";

    /// <summary>The metrics lines these figures come from.</summary>
    public static bool IsCounted(string line) =>
        line.StartsWith(RecordsMetric, StringComparison.Ordinal) || line.StartsWith(BytesMetric, StringComparison.Ordinal)
        || line.StartsWith(RepairedMetric, StringComparison.Ordinal) || line.StartsWith(AntiEntropySentMetric, StringComparison.Ordinal)
        || line.StartsWith("socketpush_keys_under_replicated", StringComparison.Ordinal) || line.StartsWith("socketpush_replica_copies_missing", StringComparison.Ordinal);

    public double RecordsPerSecond => Seconds > 0 ? Records / Seconds : double.NaN;

    public double BytesPerSecond => Seconds > 0 ? Bytes / Seconds : double.NaN;

    public static HandoffFigures From(IReadOnlyDictionary<string, double> before, IReadOnlyDictionary<string, double> after, double seconds) =>
        new(Delta(before, after, RecordsMetric), Delta(before, after, BytesMetric), Delta(before, after, RepairedMetric), Delta(before, after, AntiEntropySentMetric), seconds);

    /// <summary>The sum over nodes of one counter's growth; a node absent before (the one joining) started from 0.</summary>
    public static long Delta(IReadOnlyDictionary<string, double> before, IReadOnlyDictionary<string, double> after, string metric)
    {
        double sum = 0;
        foreach (var (sample, value) in after)
        {
            if (SampleName(sample) == metric)
            {
                sum += value - before.GetValueOrDefault(sample);
            }
        }

        return (long)Math.Round(sum);
    }

    /// <summary>The sum over nodes of one gauge.</summary>
    public static double Sum(IReadOnlyDictionary<string, double> samples, string metric) =>
        samples.Where(s => SampleName(s.Key) == metric).Sum(s => s.Value);

    /// <summary>"n1 socketpush_handoff_records_total" → "socketpush_handoff_records_total".</summary>
    private static string SampleName(string sample) => sample[(sample.IndexOf(' ') + 1)..];
}
