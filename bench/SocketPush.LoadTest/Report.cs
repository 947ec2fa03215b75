using System.Globalization;
using System.Text;
using SocketPush.LoadTest.Clients;
using SocketPush.LoadTest.PeerTraffic;
using SocketPush.LoadTest.Systems;

namespace SocketPush.LoadTest;

/// <summary>Writes the results as JSON, a Markdown table with ratios, and a chart.</summary>
internal static class Report
{
    public static void WriteAll(ResultsFile results, string directory, string name)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, name + ".json"), System.Text.Json.JsonSerializer.Serialize(results, ResultsFile.JsonOptions));
        File.WriteAllText(Path.Combine(directory, name + ".md"), Markdown(results, name + ".png"));
        Chart.Write(results, Path.Combine(directory, name + ".png"));
    }

    public static string Markdown(ResultsFile r, string chartFile)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# SocketPush load harness: results").AppendLine();
        sb.AppendLine($"- Run: {r.Started:yyyy-MM-dd HH:mm} to {r.Finished:HH:mm} (UTC{r.Started:zzz})");
        sb.AppendLine($"- Command: `{r.Command}`");
        sb.AppendLine($"- Machine: {r.Machine.Cpu}, {r.Machine.Cores} cores, {r.Machine.MemoryGb} GB, Linux {r.Machine.Kernel}, open files limit {r.Machine.OpenFilesLimit}");
        var other = r.Runs.Where(x => x.Scenario != Scenarios.Idle && x.Status.StartsWith("ok", StringComparison.Ordinal)).Select(x => x.OtherLoadCores)
            .Concat(r.Replicas?.WriteLatency.Where(w => w.Status.StartsWith("ok", StringComparison.Ordinal)).Select(w => w.OtherLoadCores) ?? [])
            .Concat(r.Replicas?.Handoff is { Status: ['o', 'k', ..] } h ? [h.OtherLoadCores] : [])
            .Concat(r.PeerPath?.Delivery.Where(d => d.Status.StartsWith("ok", StringComparison.Ordinal)).Select(d => d.OtherLoadCores) ?? [])
            .Concat(r.PeerPath?.Handoff.Where(p => p.Handoff.Status.StartsWith("ok", StringComparison.Ordinal)).Select(p => p.Handoff.OtherLoadCores) ?? [])
            .Concat(r.History?.Failovers.Where(f => f.Status.StartsWith("ok", StringComparison.Ordinal)).Select(f => f.OtherLoadCores) ?? [])
            .DefaultIfEmpty(0).ToList();
        sb.AppendLine($"- Load: load average {r.Machine.LoadAverageBefore} before, {r.Machine.LoadAverageAfter} after; other programs used {other.Average():0.00} cores on average (max {other.Max():0.00}) during the measurements (column \"other load\"): the machine is shared, so compare systems within one run");
        sb.AppendLine($"- Versions: {string.Join("; ", r.Versions.OrderBy(v => v.Key).Select(v => v.Value))}");
        sb.AppendLine($"- Settings: {string.Join(", ", r.Settings.Where(s => s.Value.Length > 0).Select(s => $"{s.Key}={s.Value}"))}");
        sb.AppendLine();
        if (r.Runs.Count > 0 && r.History is null)
        {
            sb.AppendLine("Memory is the growth of the server's proportional set size (PSS, summed over its processes: RSS, with pages shared between nginx's processes counted once) from before the clients connect to after, divided by the connections. CPU is the server processes' user+system time during publishing and delivery, divided by the messages delivered. Latency runs from just before the publish request is sent to the client's receive, on one monotonic clock.");
            sb.AppendLine();
            sb.AppendLine($"![latency, CPU and memory per system]({chartFile})");
            sb.AppendLine();
        }

        AppendCluster(sb, r.Cluster);
        AppendStalled(sb, r.Runs.Where(x => x.Scenario == Scenarios.Stalled).ToList());
        AppendReplicas(sb, r.Replicas);
        PeerPathReport.Append(sb, r.PeerPath);
        HistoryReport.Append(sb, r);

        foreach (var n in r.Runs.Select(x => x.N).Distinct().Order())
        {
            sb.AppendLine($"## N = {n:N0}").AppendLine();
            sb.AppendLine("| scenario | system | transport | connected | setup conn/s | KB/conn (PSS) | KB/conn (RSS) | deliveries/s | p50 ms | p99 ms | p99.9 ms | server CPU µs/delivery | delivered / expected | other load | status |");
            sb.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
            foreach (var x in r.Runs.Where(x => x.N == n))
            {
                var idle = x.Scenario == Scenarios.Idle;
                sb.AppendLine(string.Join(" | ",
                    "| " + x.Scenario, x.History is { } history ? $"{x.System} (history {history})" : x.System, x.Transport, x.Connected.ToString("N0", CultureInfo.InvariantCulture), F(x.ConnectsPerSecond, "N0"),
                    F(x.PssKbPerConnection, "0.0"), F(x.RssKbPerConnection, "0.0"),
                    idle ? $"idle CPU {x.IdleCpuPercent:0.0}%" : F(x.DeliveriesPerSecond, "N0"),
                    idle ? "" : F(x.Latency?.P50Ms, "0.00"), idle ? "" : F(x.Latency?.P99Ms, "0.00"), idle ? "" : F(x.Latency?.P999Ms, "0.00"),
                    idle ? "" : F(x.ServerCpuMicrosecondsPerDelivery, "0.00"),
                    idle ? "" : $"{x.Delivered:N0} / {x.ExpectedDeliveries:N0}",
                    idle ? "" : F(x.OtherLoadCores, "0.00"),
                    x.Status + " |"));
            }

            sb.AppendLine();
            AppendRatios(sb, r, n);
        }

        return sb.ToString();
    }

    private static void AppendRatios(StringBuilder sb, ResultsFile r, int n)
    {
        RunResult? Find(string system, string scenario) =>
            r.Runs.FirstOrDefault(x => x.N == n && x.System == system && x.Scenario == scenario && x.Transport == Transports.WebSocket && x.Status.StartsWith("ok", StringComparison.Ordinal));

        var lines = new List<string>();
        foreach (var peer in new[] { SystemNames.Nchan, SystemNames.SocketIo })
        {
            var parts = new List<string>();
            var (spIdle, peerIdle) = (Find(SystemNames.SocketPush, Scenarios.Idle), Find(peer, Scenarios.Idle));
            if (spIdle is not null && peerIdle is not null)
            {
                parts.Add($"memory/conn (idle) {Ratio(spIdle.PssKbPerConnection, peerIdle.PssKbPerConnection)}");
            }

            var (spFan, peerFan) = (Find(SystemNames.SocketPush, Scenarios.FanOut), Find(peer, Scenarios.FanOut));
            if (spFan is not null && peerFan is not null)
            {
                parts.Add($"CPU/delivery (fan-out) {Ratio(spFan.ServerCpuMicrosecondsPerDelivery, peerFan.ServerCpuMicrosecondsPerDelivery)}");
                parts.Add($"p99 (fan-out) {Ratio(spFan.Latency?.P99Ms, peerFan.Latency?.P99Ms)}");
            }

            var (spUsers, peerUsers) = (Find(SystemNames.SocketPush, Scenarios.Users), Find(peer, Scenarios.Users));
            if (spUsers is not null && peerUsers is not null)
            {
                parts.Add($"CPU/delivery (users) {Ratio(spUsers.ServerCpuMicrosecondsPerDelivery, peerUsers.ServerCpuMicrosecondsPerDelivery)}");
                parts.Add($"p99 (users) {Ratio(spUsers.Latency?.P99Ms, peerUsers.Latency?.P99Ms)}");
            }

            if (parts.Count > 0)
            {
                lines.Add($"- SocketPush ÷ {peer}: {string.Join(", ", parts)}");
            }
        }

        if (lines.Count > 0)
        {
            sb.AppendLine("Ratios (SocketPush over WebSockets ÷ peer; below 1 means SocketPush uses less or is faster):").AppendLine();
            foreach (var line in lines)
            {
                sb.AppendLine(line);
            }

            sb.AppendLine();
        }
    }

    /// <summary>The table "cluster": each measurement of the cluster set on one node and on three, side by side.</summary>
    private static void AppendStalled(StringBuilder sb, List<RunResult> runs)
    {
        if (runs.Count == 0)
        {
            return;
        }

        sb.AppendLine("## stalled clients").AppendLine();
        sb.AppendLine("The fan-out to the same reading clients at the same rate (--delivery-rate / N publishes/s, N counting the stalled clients too), "
            + "each measurement on a freshly started node, with and without further subscribers of the channel that connect and then never read "
            + $"(raw sockets with a {StalledClients.ReceiveBuffer}-byte receive buffer that send a hub ping every 10 s). Latency and deliveries are the reading clients'; "
            + "slow consumers closed is the node's socketpush_slow_consumers_closed_total at the end.");
        sb.AppendLine();
        sb.AppendLine("| N | stalled clients | reading clients | deliveries/s | p50 ms | p99 ms | p99.9 ms | delivered / expected | slow consumers closed | server CPU µs/delivery | other load | status |");
        sb.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var x in runs)
        {
            sb.AppendLine(string.Join(" | ",
                "| " + x.N.ToString("N0", CultureInfo.InvariantCulture), x.Stalled.ToString("N0", CultureInfo.InvariantCulture), x.Connected.ToString("N0", CultureInfo.InvariantCulture),
                F(x.DeliveriesPerSecond, "N0"), F(x.Latency?.P50Ms, "0.00"), F(x.Latency?.P99Ms, "0.00"), F(x.Latency?.P999Ms, "0.00"),
                $"{x.Delivered:N0} / {x.ExpectedDeliveries:N0}", F(x.SlowConsumersClosed, "N0"), F(x.ServerCpuMicrosecondsPerDelivery, "0.00"),
                F(x.OtherLoadCores, "0.00"), x.Status + " |"));
        }

        sb.AppendLine();
        foreach (var side in runs.Where(x => x.Latency is not null).GroupBy(x => (x.N, x.Stalled)))
        {
            var p50 = side.Select(x => x.Latency!.P50Ms).Order().ToList();
            var p99 = side.Select(x => x.Latency!.P99Ms).Order().ToList();
            sb.AppendLine($"- N = {side.Key.N:N0}, {side.Key.Stalled:N0} stalled, {p50.Count} runs: p50 {F(p50[0], "0.00")}–{F(p50[^1], "0.00")} ms (median {F(Median(p50), "0.00")}), "
                + $"p99 {F(p99[0], "0.00")}–{F(p99[^1], "0.00")} ms (median {F(Median(p99), "0.00")})");
        }

        sb.AppendLine();
    }

    /// <summary>The middle of sorted figures; the mean of the two middle ones for an even count.</summary>
    internal static double Median(List<double> sorted) => (sorted[(sorted.Count - 1) / 2] + sorted[sorted.Count / 2]) / 2;

    private static void AppendCluster(StringBuilder sb, List<ClusterComparison> pairs)
    {
        if (pairs.Count == 0)
        {
            return;
        }

        sb.AppendLine("## cluster").AppendLine();
        sb.AppendLine("Three nodes (n1, n2, n3) against one, same users, channel, publish rate and clients, each on freshly started nodes. "
            + "Latency: the publish request goes to n1's admin API, the channel is owned by n2, the receivers are users owned by n3 and connected to n3 "
            + "(user.publish: on n1 for users of n3, one forward hop). Fan-out: one channel owned by n2, subscribers spread over the three nodes by the ring, "
            + "each connected to its owner, publishes on n1. The harness computes owners with the ring of consistent-hashing and checks them against "
            + "the cluster (user.getFrontendServer of every user, the user and channel records in each node's manager.status) before measuring. "
            + "Server CPU is summed over the three node processes. Goal: the cluster adds at most 1 ms to p50.");
        sb.AppendLine();
        sb.AppendLine("| measurement | N | publishes/s | 1 node p50 / p99 / p99.9 ms | 3 nodes p50 / p99 / p99.9 ms | Δ p50 ms | Δ p99 ms | p50 goal (≤ +1 ms) | deliveries/s 1 → 3 nodes | server CPU µs/delivery 1 → 3 nodes | other load 1 / 3 | status 1 / 3 |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|");
        foreach (var c in pairs)
        {
            static string Latency(ClusterSide? s) => s is null ? "–" : $"{F(s.P50Ms, "0.00")} / {F(s.P99Ms, "0.00")} / {F(s.P999Ms, "0.00")}";
            static string Pair(ClusterSide? a, ClusterSide? b, Func<ClusterSide, double> figure, string format, string separator) =>
                $"{(a is null ? "–" : F(figure(a), format))}{separator}{(b is null ? "–" : F(figure(b), format))}";
            sb.AppendLine(string.Join(" | ",
                "| " + c.Measurement, c.N.ToString("N0", CultureInfo.InvariantCulture), F(c.OfferedPublishesPerSecond, "N0"),
                Latency(c.OneNode), Latency(c.ThreeNodes), F(c.P50DeltaMs, "+0.00;-0.00"), F(c.P99DeltaMs, "+0.00;-0.00"),
                c.P50GoalMet switch { true => "met", false => "not met", null => "" },
                Pair(c.OneNode, c.ThreeNodes, s => s.DeliveriesPerSecond, "N0", " → "),
                Pair(c.OneNode, c.ThreeNodes, s => s.ServerCpuMicrosecondsPerDelivery, "0.00", " → "),
                Pair(c.OneNode, c.ThreeNodes, s => s.OtherLoadCores, "0.00", " / "),
                $"{c.OneNode?.Status ?? "–"} / {c.ThreeNodes?.Status ?? "–"} |"));
        }

        sb.AppendLine();
        foreach (var c in pairs.Where(c => c.ThreeNodes is not null))
        {
            sb.AppendLine($"- {c.Measurement}, N = {c.N:N0}, 3 nodes: {c.ThreeNodes!.Placement}");
        }

        sb.AppendLine();
    }

    /// <summary>The replicas set: write latency per writeQuorum, then the handoff to a joining node.</summary>
    private static void AppendReplicas(StringBuilder sb, ReplicaResults? replicas)
    {
        if (replicas is null)
        {
            return;
        }

        if (replicas.WriteLatency.Count > 0)
        {
            var first = replicas.WriteLatency[0];
            sb.AppendLine("## management write latency by cluster.writeQuorum").AppendLine();
            sb.AppendLine($"Three nodes (n1, n2, n3), cluster.replicas {replicas.Replicas}, started afresh for each writeQuorum (set in their config file at start, not reloaded). "
                + $"A closed loop of {first.Concurrency} calls in flight: each caller sends its next call as soon as the last one answered. The calls alternate "
                + $"`POST /api/auth/set` (userId, its session) and `POST /api/channel/subscribe` (userId, one of {first.Channels:N0} channels), cycling over "
                + $"{first.Users:N0} users spread over the ring by their ids; each call goes over HTTP/1.1 keep-alive to the admin port of the node that owns its user "
                + "(as a client that knows the ring would send it), so latency is the owner's write and its replication, not a forwarding hop. An auth.set also "
                + "binds the session on the owner of `s:{sessionId}`, and a subscribe adds the user to the channel on the owner of `c:{channelId}`, each replicated "
                + $"with the same quorum. Each setting: a warm-up of at least two calls per user and {replicas.WarmupSeconds:0.#} s, not counted "
                + $"({string.Join(", ", replicas.WriteLatency.Select(w => w.WarmupSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s"))}), then {first.MeasureSeconds:0} s measured. "
                + "Latency runs from just before the request is sent to the end of the answer; CPU is the three node processes' user+system time per call.");
            sb.AppendLine();
            sb.AppendLine("| writeQuorum | calls | calls/s | p50 ms | p99 ms | p99.9 ms | max ms | auth.set p50 / p99 ms | channel.subscribe p50 / p99 ms | server CPU µs/call | failed | other load | status |");
            sb.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
            foreach (var w in replicas.WriteLatency)
            {
                sb.AppendLine(string.Join(" | ",
                    "| " + w.WriteQuorum.ToString(CultureInfo.InvariantCulture), w.Calls.ToString("N0", CultureInfo.InvariantCulture), F(w.CallsPerSecond, "N0"),
                    F(w.Latency?.P50Ms, "0.00"), F(w.Latency?.P99Ms, "0.00"), F(w.Latency?.P999Ms, "0.00"), F(w.Latency?.MaxMs, "0.00"),
                    $"{F(w.AuthSet?.P50Ms, "0.00")} / {F(w.AuthSet?.P99Ms, "0.00")}", $"{F(w.Subscribe?.P50Ms, "0.00")} / {F(w.Subscribe?.P99Ms, "0.00")}",
                    F(w.ServerCpuMicrosecondsPerCall, "0"), w.Failures.ToString("N0", CultureInfo.InvariantCulture), F(w.OtherLoadCores, "0.00"), w.Status + " |"));
            }

            sb.AppendLine();
            foreach (var w in replicas.WriteLatency.Where(w => w.Placement.Length > 0))
            {
                sb.AppendLine($"- writeQuorum {w.WriteQuorum}: {w.Placement}");
            }

            sb.AppendLine();
        }

        if (replicas.Handoff is { } h)
        {
            sb.AppendLine("## handoff to a joining node").AppendLine();
            sb.AppendLine($"Three nodes (n1, n2, n3; cluster.replicas {replicas.Replicas}, the default writeQuorum) hold {h.Users:N0} users, each with a session "
                + $"({h.Records:N0} records, every one on all three nodes), loaded with auth.set calls to the owners, {h.LoadCallsPerSecond:N0} calls/s, not counted. "
                + $"Then {ReplicaBench.Joiner} starts, seeded with n1 ({h.JoinerStartSeconds:0.0} s from its process start to its ready line, not counted). "
                + "The time runs from its ready line until done: " + h.Done + ". The harness reads every node's /metrics each 250 ms and, once no copy is owed "
                + "and the handoff counters stood still, confirms with every node's manager.status (at most once a second); done is the time of the metrics poll it "
                + "confirmed. Records handed over are the growth of `socketpush_handoff_records_total` summed over the nodes (a record sent to each of its new "
                + "replicas counts once per replica), bytes likewise from `socketpush_handoff_bytes_total`; copies repaired "
                + "(`socketpush_replica_copies_repaired_total`) are the copies a key's first remaining replica sends to the replica it gained.");
            sb.AppendLine();
            sb.AppendLine("| users | records before | records handed over | bytes handed over | copies repaired | anti-entropy records sent | seconds | records/s | bytes/s | first handoff after s | server CPU s | other load | status |");
            sb.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
            var f = h.Figures;
            sb.AppendLine(string.Join(" | ",
                "| " + h.Users.ToString("N0", CultureInfo.InvariantCulture), h.Records.ToString("N0", CultureInfo.InvariantCulture),
                f is null ? "–" : f.Records.ToString("N0", CultureInfo.InvariantCulture), f is null ? "–" : f.Bytes.ToString("N0", CultureInfo.InvariantCulture),
                f is null ? "–" : f.CopiesRepaired.ToString("N0", CultureInfo.InvariantCulture), f is null ? "–" : f.AntiEntropyRecords.ToString("N0", CultureInfo.InvariantCulture),
                F(f?.Seconds, "0.00"), F(f?.RecordsPerSecond, "N0"), F(f?.BytesPerSecond, "N0"), F(h.FirstHandoffSeconds, "0.00"),
                F(h.ServerCpuSeconds, "0.00"), F(h.OtherLoadCores, "0.00"), h.Status + " |"));
            sb.AppendLine();
            if (h.Held.Length > 0)
            {
                sb.AppendLine($"- {h.Held}");
                sb.AppendLine();
            }
        }
    }

    internal static string Ratio(double? a, double? b) =>
        a is { } x && b is { } y && y > 0 && double.IsFinite(x) && double.IsFinite(y) ? (x / y).ToString("0.00", CultureInfo.InvariantCulture) + "×" : "n/a";

    internal static string F(double? value, string format) =>
        value is { } v && double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "–";
}
