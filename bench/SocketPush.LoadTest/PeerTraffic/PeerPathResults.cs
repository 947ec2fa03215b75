using System.Globalization;
using Samples = System.Collections.Generic.IReadOnlyDictionary<string, double>;

namespace SocketPush.LoadTest.PeerTraffic;

/// <summary>
/// The peer path set (<c>--peer-path</c>): the node-to-node traffic of two builds of the node, measured in one run
/// from outside (each build's own /metrics and manager.status) with the same scenario.
/// </summary>
internal sealed class PeerPathResults
{
    /// <summary>The builds compared, "before" first.</summary>
    public List<NodeBuildInfo> Builds { get; set; } = [];

    /// <summary>One channel publish = one edge.deliver batch of this many users crossing from the channel's owner to theirs.</summary>
    public int BatchUsers { get; set; }

    /// <summary>Measured publishes per build and round (besides the warm-up).</summary>
    public int Publishes { get; set; }

    /// <summary>Users the three nodes hold when the fourth joins (0: no handoff measured).</summary>
    public int HandoffUsers { get; set; }

    /// <summary>Publishes between two reads of the nodes' /metrics: one window.</summary>
    public int PublishesPerWindow { get; set; }

    public List<DeliveryResult> Delivery { get; set; } = [];

    public List<PeerHandoffResult> Handoff { get; set; } = [];

    public List<AntiEntropyResult> AntiEntropy { get; set; } = [];
}

/// <summary>A build of the node: what the user named, the commit it is, and the binary run.</summary>
internal sealed class NodeBuildInfo
{
    /// <summary>"before" or "after".</summary>
    public string Label { get; set; } = "";

    /// <summary>What was given: a git ref (built here in a temporary worktree) or the path of a built SocketPush.Node.dll.</summary>
    public string Given { get; set; } = "";

    /// <summary>The commit (short), when the build was made from one here.</summary>
    public string? Commit { get; set; }

    public string? Subject { get; set; }

    public string NodeDll { get; set; } = "";

    public double BuildSeconds { get; set; }
}

/// <summary>
/// Channel publishes on the channel's owner (n2) whose subscribers are all users owned by n3: each publish sends n3
/// one edge.deliver batch of <see cref="PeerPathResults.BatchUsers"/> users, and nothing else crosses.
/// </summary>
internal sealed class DeliveryResult
{
    public string Build { get; set; } = "";

    public int Round { get; set; }

    public string Placement { get; set; } = "";

    public long Publishes { get; set; }

    /// <summary>Windows in which only the expected edge.deliver calls crossed, and the publishes in them: the figures below.</summary>
    public int CleanWindows { get; set; }

    public int Windows { get; set; }

    public long CleanPublishes { get; set; }

    /// <summary>What else crossed in the windows left out (an anti-entropy round, a presence report), for the record.</summary>
    public List<string> LeftOut { get; set; } = [];

    /// <summary>Bytes of one edge.deliver request, n2 → n3 (n2's socketpush_peer_bytes_total{direction="sent"} per call).</summary>
    public double RequestBytes { get; set; }

    /// <summary>Bytes of its answer, n3 → n2.</summary>
    public double ResponseBytes { get; set; }

    /// <summary>(request + answer) / 2.</summary>
    public double BytesPerMessage { get; set; }

    /// <summary>n2's socketpush_peer_request_seconds: its sum over its count in the clean windows.</summary>
    public double RoundTripMeanMs { get; set; }

    /// <summary>
    /// The upper bound of the histogram bucket that holds the median (and 99th percentile) call: the node's buckets
    /// double from 50 µs, so this says "at most", within a factor of two.
    /// </summary>
    public double RoundTripP50AtMostMs { get; set; }

    public double RoundTripP99AtMostMs { get; set; }

    /// <summary>channel.publish on n2 as the harness timed it (HTTP, the owner, the edge.deliver round trip), all measured publishes.</summary>
    public LatencySummary? PublishLatency { get; set; }

    /// <summary>Receivers the publishes answered with (no client is connected: 0 each).</summary>
    public long Receivers { get; set; }

    public double OtherLoadCores { get; set; }

    public string Status { get; set; } = "ok";

    public List<string> Errors { get; set; } = [];
}

/// <summary>The replicas set's handoff (three nodes, a fourth joins) on one build, with the peer bytes it took.</summary>
internal sealed class PeerHandoffResult
{
    public string Build { get; set; } = "";

    public int Round { get; set; }

    public HandoffResult Handoff { get; set; } = new();

    /// <summary>socketpush_peer_bytes_total{direction="sent"} summed over the nodes, from n4's ready line until done (every call and answer).</summary>
    public long? PeerBytesSent { get; set; }

    /// <summary>socketpush_handoff_bytes_total per record handed over (what the node counts as a record's bytes); NaN without a handoff.</summary>
    public double HandoffBytesPerRecord { get; set; } = double.NaN;
}

/// <summary>Anti-entropy rounds on a quiet cluster, observed through every node's /metrics.</summary>
internal sealed class AntiEntropyResult
{
    public string Build { get; set; } = "";

    public int Round { get; set; }

    /// <summary>Which cluster: "3 nodes, 100 users" or "4 nodes after the handoff".</summary>
    public string Cluster { get; set; } = "";

    /// <summary>Records the nodes hold together (manager.status), copies counted on each node.</summary>
    public long RecordsHeld { get; set; }

    public double Seconds { get; set; }

    /// <summary>socketpush_antientropy_rounds_total growth over the nodes, by result.</summary>
    public Dictionary<string, long> Rounds { get; set; } = [];

    /// <summary>socketpush_forwarded_calls_total growth over the nodes, by "service.method result".</summary>
    public Dictionary<string, long> Calls { get; set; } = [];

    public long BytesSent { get; set; }

    /// <summary><see cref="BytesSent"/> over the rounds, when only anti-entropy calls crossed in the window.</summary>
    public double BytesPerRound { get; set; } = double.NaN;

    /// <summary><see cref="BytesSent"/> over twice the calls (each call is a request and an answer).</summary>
    public double BytesPerMessage { get; set; } = double.NaN;

    /// <summary>
    /// From the polls (every 200 ms) that held exactly one records.digest call: the initiator's bytes (its digests) and
    /// the peer's (its answer); NaN when no poll caught a round whole.
    /// </summary>
    public double DigestRequestBytes { get; set; } = double.NaN;

    public double DigestAnswerBytes { get; set; } = double.NaN;

    public int RoundsCaughtWhole { get; set; }

    public string Status { get; set; } = "ok";

    public List<string> Errors { get; set; } = [];
}

/// <summary>
/// The peer figures from /metrics samples of several nodes, each prefixed with its node id ("n2 socketpush_...").
/// Pure, so that the arithmetic is tested without nodes.
/// </summary>
internal static class PeerFigures
{
    public const string Forwarded = "socketpush_forwarded_calls_total";
    public const string PeerBytes = "socketpush_peer_bytes_total";
    public const string PeerRequestSeconds = "socketpush_peer_request_seconds";
    public const string AntiEntropyRounds = "socketpush_antientropy_rounds_total";
    public const string Served = "socketpush_peer_calls_served_total";

    /// <summary>The /metrics lines the peer path set reads.</summary>
    public static bool IsRead(string line) =>
        line.StartsWith(Forwarded, StringComparison.Ordinal) || line.StartsWith(PeerBytes, StringComparison.Ordinal)
        || line.StartsWith(PeerRequestSeconds, StringComparison.Ordinal) || line.StartsWith(AntiEntropyRounds, StringComparison.Ordinal)
        || line.StartsWith(Served, StringComparison.Ordinal);

    /// <summary>
    /// Whether no call was in flight between the nodes when they were read: every byte sent was received, and every call
    /// a node began to serve (counted as it starts) has been counted by its caller as finished (with its answer, or
    /// given up). A call refused before it was sent (result "overloaded") was never served. The samples must be of
    /// every node of the cluster, read since each started.
    /// </summary>
    public static bool Idle(Samples samples)
    {
        double sent = 0, received = 0, served = 0, finished = 0;
        foreach (var (sample, value) in samples)
        {
            var (_, name) = Split(sample);
            if (name == $"{PeerBytes}{{direction=\"sent\"}}")
            {
                sent += value;
            }
            else if (name == $"{PeerBytes}{{direction=\"received\"}}")
            {
                received += value;
            }
            else if (name.StartsWith(Served + "{", StringComparison.Ordinal))
            {
                served += value;
            }
            else if (name.StartsWith(Forwarded + "{", StringComparison.Ordinal) && Labels(name).GetValueOrDefault("result") != "overloaded")
            {
                finished += value;
            }
        }

        return sent == received && served == finished;
    }

    /// <summary>Bytes one node sent (or received) over the data plane between two reads.</summary>
    public static long Bytes(Samples before, Samples after, string node, string direction) =>
        (long)Math.Round(Growth(before, after, node, $"{PeerBytes}{{direction=\"{direction}\"}}"));

    /// <summary>Calls each node sent between two reads: "node service.method result" → how many, only those that grew.</summary>
    public static Dictionary<string, long> Calls(Samples before, Samples after)
    {
        var calls = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (sample, value) in after)
        {
            var (node, name) = Split(sample);
            if (!name.StartsWith(Forwarded + "{", StringComparison.Ordinal))
            {
                continue;
            }

            var grown = (long)Math.Round(value - before.GetValueOrDefault(sample));
            if (grown > 0)
            {
                var labels = Labels(name);
                calls[$"{node} {labels.GetValueOrDefault("service")}.{labels.GetValueOrDefault("method")} {labels.GetValueOrDefault("result")}"] = grown;
            }
        }

        return calls;
    }

    /// <summary>Rounds each result counted between two reads, over every node.</summary>
    public static Dictionary<string, long> Rounds(Samples before, Samples after)
    {
        var rounds = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (sample, value) in after)
        {
            var (_, name) = Split(sample);
            if (name.StartsWith(AntiEntropyRounds + "{", StringComparison.Ordinal))
            {
                var result = Labels(name).GetValueOrDefault("result") ?? "";
                rounds[result] = rounds.GetValueOrDefault(result) + (long)Math.Round(value - before.GetValueOrDefault(sample));
            }
        }

        return rounds;
    }

    /// <summary>The growth of one node's peer round-trip histogram: its sum (seconds), count, and buckets (upper bound → calls).</summary>
    public static RoundTrips RoundTripsOf(Samples before, Samples after, string node)
    {
        var buckets = new SortedDictionary<double, long>();
        foreach (var (sample, value) in after)
        {
            var (at, name) = Split(sample);
            if (at == node && name.StartsWith(PeerRequestSeconds + "_bucket{", StringComparison.Ordinal))
            {
                var le = Labels(name).GetValueOrDefault("le") ?? "+Inf";
                var bound = le == "+Inf" ? double.PositiveInfinity : double.Parse(le, NumberStyles.Float, CultureInfo.InvariantCulture);
                buckets[bound] = (long)Math.Round(value - before.GetValueOrDefault(sample));
            }
        }

        return new RoundTrips(
            Growth(before, after, node, PeerRequestSeconds + "_sum"),
            (long)Math.Round(Growth(before, after, node, PeerRequestSeconds + "_count")),
            buckets);
    }

    private static double Growth(Samples before, Samples after, string node, string name)
    {
        var key = node + " " + name;
        return after.GetValueOrDefault(key) - before.GetValueOrDefault(key);
    }

    private static (string Node, string Name) Split(string sample)
    {
        var space = sample.IndexOf(' ', StringComparison.Ordinal);
        return space < 0 ? ("", sample) : (sample[..space], sample[(space + 1)..]);
    }

    /// <summary>The labels of a sample name: <c>x{a="1",b="2"}</c> → a=1, b=2 (label values here hold no quotes or commas).</summary>
    private static Dictionary<string, string> Labels(string name)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        var open = name.IndexOf('{', StringComparison.Ordinal);
        if (open < 0)
        {
            return labels;
        }

        foreach (var pair in name[(open + 1)..name.LastIndexOf('}')].Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                labels[pair[..eq]] = pair[(eq + 1)..].Trim('"');
            }
        }

        return labels;
    }
}

/// <summary>The growth of a peer round-trip histogram: cumulative buckets as Prometheus gives them (upper bound → calls at or below it).</summary>
internal sealed record RoundTrips(double SumSeconds, long Count, SortedDictionary<double, long> Buckets)
{
    public static RoundTrips None { get; } = new(0, 0, []);

    public RoundTrips Add(RoundTrips other)
    {
        var buckets = new SortedDictionary<double, long>(Buckets);
        foreach (var (bound, count) in other.Buckets)
        {
            buckets[bound] = buckets.GetValueOrDefault(bound) + count;
        }

        return new RoundTrips(SumSeconds + other.SumSeconds, Count + other.Count, buckets);
    }

    public double MeanMs => Count > 0 ? SumSeconds / Count * 1000 : double.NaN;

    /// <summary>The upper bound, in ms, of the first bucket that holds at least <paramref name="fraction"/> of the calls.</summary>
    public double AtMostMs(double fraction)
    {
        if (Count == 0)
        {
            return double.NaN;
        }

        var wanted = (long)Math.Ceiling(fraction * Count);
        foreach (var (bound, cumulative) in Buckets)
        {
            if (cumulative >= wanted)
            {
                return bound * 1000;
            }
        }

        return double.PositiveInfinity;
    }
}
