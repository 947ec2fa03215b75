using System.Globalization;
using System.Text;

namespace SocketPush.LoadTest;

/// <summary>The history set's section of the Markdown results: the fan-out off against on, and the failovers.</summary>
internal static class HistoryReport
{
    /// <summary>The issue's goal: history on costs at most 15 % of the fan-out.</summary>
    public const double GoalRatio = 1.15;

    public static void Append(StringBuilder sb, ResultsFile r)
    {
        var runs = r.Runs.Where(x => x.History is not null).ToList();
        if (runs.Count == 0 && r.History is null)
        {
            return;
        }

        sb.AppendLine("## history").AppendLine();
        if (runs.Count > 0)
        {
            AppendFanOut(sb, runs, r.History?.OffSection ?? "");
        }

        if (r.History is { Failovers.Count: > 0 } history)
        {
            AppendFailovers(sb, history.Failovers);
        }
    }

    private static void AppendFanOut(StringBuilder sb, List<RunResult> runs, string offSection)
    {
        sb.AppendLine("Fan-out with history off against on, each run on freshly started nodes, the side that goes first alternating from round to round. "
            + $"Off: `{offSection.Replace('\n', ' ').Replace("  ", " ", StringComparison.Ordinal)}`; on: the node's default (100 messages, 2 minutes per stream). "
            + "On three nodes the publish goes to n1, the channel is owned by n2 (it sequences each message and copies it to its replicas before the fan-out), "
            + "and each subscriber is connected to its user's owner. Server CPU is summed over the nodes.");
        sb.AppendLine();
        sb.AppendLine("| nodes | history | round | N | deliveries/s | p50 ms | p99 ms | p99.9 ms | server CPU µs/delivery | delivered / expected | other load | status |");
        sb.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var x in runs.OrderBy(x => x.Nodes).ThenBy(x => x.Round))
        {
            sb.AppendLine(string.Join(" | ",
                "| " + x.Nodes.ToString(CultureInfo.InvariantCulture), x.History, (x.Round + 1).ToString(CultureInfo.InvariantCulture), x.N.ToString("N0", CultureInfo.InvariantCulture),
                Report.F(x.DeliveriesPerSecond, "N0"), Report.F(x.Latency?.P50Ms, "0.00"), Report.F(x.Latency?.P99Ms, "0.00"), Report.F(x.Latency?.P999Ms, "0.00"),
                Report.F(x.ServerCpuMicrosecondsPerDelivery, "0.00"), $"{x.Delivered:N0} / {x.ExpectedDeliveries:N0}", Report.F(x.OtherLoadCores, "0.00"), x.Status + " |"));
        }

        sb.AppendLine();
        sb.AppendLine($"Medians over the rounds; on ÷ off; goal: history on costs at most {(GoalRatio - 1) * 100:0} % (server CPU per delivery ≤ {GoalRatio:0.00}× off, deliveries/s ≥ {1 / GoalRatio:0.00}× off):");
        sb.AppendLine();
        sb.AppendLine("| nodes | runs off / on | deliveries/s off → on | p50 ms off → on | p99 ms off → on | CPU µs/delivery off → on | CPU on ÷ off | deliveries/s on ÷ off | p99 on ÷ off | goal |");
        sb.AppendLine("|---:|---|---|---|---|---|---:|---:|---:|---|");
        foreach (var nodes in runs.Select(x => x.Nodes).Distinct().Order())
        {
            var ok = runs.Where(x => x.Nodes == nodes && x.Status.StartsWith("ok", StringComparison.Ordinal) && x.Latency is not null).ToList();
            var off = ok.Where(x => x.History == "off").ToList();
            var on = ok.Where(x => x.History == "on").ToList();
            double? Med(List<RunResult> side, Func<RunResult, double> figure) => side.Count == 0 ? null : Report.Median([.. side.Select(figure).Order()]);
            var cpu = (Med(off, x => x.ServerCpuMicrosecondsPerDelivery), Med(on, x => x.ServerCpuMicrosecondsPerDelivery));
            var rate = (Med(off, x => x.DeliveriesPerSecond), Med(on, x => x.DeliveriesPerSecond));
            var p50 = (Med(off, x => x.Latency!.P50Ms), Med(on, x => x.Latency!.P50Ms));
            var p99 = (Med(off, x => x.Latency!.P99Ms), Med(on, x => x.Latency!.P99Ms));
            var met = cpu is ({ } c0, { } c1) && rate is ({ } r0, { } r1) ? (c1 <= GoalRatio * c0 && r1 * GoalRatio >= r0 ? "met" : "not met") : "n/a";
            sb.AppendLine(string.Join(" | ",
                "| " + nodes.ToString(CultureInfo.InvariantCulture), $"{off.Count} / {on.Count}",
                $"{Report.F(rate.Item1, "N0")} → {Report.F(rate.Item2, "N0")}", $"{Report.F(p50.Item1, "0.00")} → {Report.F(p50.Item2, "0.00")}",
                $"{Report.F(p99.Item1, "0.00")} → {Report.F(p99.Item2, "0.00")}", $"{Report.F(cpu.Item1, "0.00")} → {Report.F(cpu.Item2, "0.00")}",
                Report.Ratio(cpu.Item2, cpu.Item1), Report.Ratio(rate.Item2, rate.Item1), Report.Ratio(p99.Item2, p99.Item1), met + " |"));
        }

        sb.AppendLine();
    }

    private static void AppendFailovers(StringBuilder sb, List<FailoverResult> failovers)
    {
        var f0 = failovers[0];
        sb.AppendLine($"Failover: three nodes with the default timers (config.yml's cluster.swim), N = {f0.N:N0} clients of the raw harness, each on its user's owner, "
            + $"subscribed to one channel owned by {f0.Victim}; channel.publish at {f0.PublishesPerSecond:0.#}/s with a publish id each, open loop, to n1 and n3 in turn; "
            + $"kill -9 of {f0.Victim}. A client authenticates with Recover(userId, sessionId, since), since being the position token of the last message it received "
            + "(`c:channel:epoch.offset`); when its connection ends it reconnects to its user's owner among the survivors at once and then once a second, and recovers. "
            + "Detection: from the kill until both survivors' manager.status show the victim out of the ring (polled every 100 ms). Caught up: from the kill until a client "
            + "holds every publish answered 200 among those sent before the kill, before the verdict, or in the whole run; goal: every client holds those sent before the verdict "
            + "within detection + 2 s. Gaps and duplicates are counted by offset within an epoch, duplicate publishes by the message's sequence number. "
            + "Recovered/s: growth of the survivors' socketpush_messages_recovered_total over the time it grew (samples every 250 ms). Publish latency: the HTTP call, by when it was sent.");
        sb.AppendLine();
        sb.AppendLine("| round | clients (on victim) | suspected s | detection s | caught up, sent before kill: p50 / max s | sent before verdict: p50 / max s | goal (≤ detection + 2 s) | whole run: max s, lacking | reconnected (Recover answered): p50 / max s | publishes: 200 / other | publish p99 ms before / around / after the kill (max around) | gaps / duplicates / duplicate publishes / epoch changes / recovered:false | messages recovered, per s | other load | status |");
        sb.AppendLine("|---:|---|---:|---:|---|---|---|---|---|---|---|---|---|---:|---|");
        foreach (var f in failovers)
        {
            var s = f.Streams;
            sb.AppendLine(string.Join(" | ",
                "| " + (f.Round + 1).ToString(CultureInfo.InvariantCulture),
                $"{f.Connected:N0} ({f.ClientsOnVictim:N0})",
                Report.F(f.SuspectedSeconds, "0.00"),
                Report.F(f.DetectionSeconds, "0.00"),
                $"{Report.F(f.CaughtUpAtKill.P50Seconds, "0.00")} / {Report.F(f.CaughtUpAtKill.MaxSeconds, "0.00")}{Lacking(f.CaughtUpAtKill)}",
                $"{Report.F(f.CaughtUpAtVerdict.P50Seconds, "0.00")} / {Report.F(f.CaughtUpAtVerdict.MaxSeconds, "0.00")}{Lacking(f.CaughtUpAtVerdict)}",
                $"{(f.GoalMet ? "met" : "not met")} ({Report.F(f.GoalSeconds, "0.00")} s)",
                $"{Report.F(f.CaughtUpAll.MaxSeconds, "0.00")}, {f.CaughtUpAll.Lacking:N0}",
                $"{Report.F(f.Reconnected.P50Seconds, "0.00")} / {Report.F(f.Reconnected.MaxSeconds, "0.00")} ({f.Reconnected.Clients:N0} clients)",
                $"{f.Acknowledged:N0} / {f.PublishesNot200:N0}",
                $"{Report.F(f.PublishLatencyBeforeKill?.P99Ms, "0")} / {Report.F(f.PublishLatencyAroundKill?.P99Ms, "0")} / {Report.F(f.PublishLatencyAfter?.P99Ms, "0")} ({Report.F(f.PublishLatencyAroundKill?.MaxMs, "0")})",
                $"{s.Gaps:N0} / {s.Duplicates:N0} / {s.DuplicateSequences:N0} / {s.EpochChanges:N0} / {s.RecoveredFalse:N0}",
                $"{f.MessagesRecovered:N0}, {Report.F(f.RecoveredPerSecond, "N0")}",
                Report.F(f.OtherLoadCores, "0.00"),
                f.Status + " |"));
        }

        sb.AppendLine();
        foreach (var f in failovers)
        {
            sb.AppendLine($"- round {f.Round + 1}: {f.Placement}; {f.Acknowledged:N0} publishes acknowledged ({f.RequiredAtKill:N0} sent before the kill, {f.RequiredAtVerdict:N0} before the verdict); "
                + $"clients disconnected {f.Streams.Disconnected:N0}, reconnects {f.Streams.Reconnects:N0}, failed attempts {f.Streams.FailedAttempts:N0}, down at the end {f.Streams.Down:N0}; "
                + $"publish latency all p50 {Report.F(f.PublishLatencyAll?.P50Ms, "0.0")} / p99 {Report.F(f.PublishLatencyAll?.P99Ms, "0")} / max {Report.F(f.PublishLatencyAll?.MaxMs, "0")} ms"
                + (f.PublishAnswers.Count > 0 ? "; answers other than 200: " + string.Join(", ", f.PublishAnswers.Select(a => $"{a.Key} ×{a.Value}")) : "")
                + "; survivors' counters: " + string.Join(", ", f.ServerCounters.Where(c => c.Value != 0).Select(c => $"{c.Key} {c.Value.ToString("0", CultureInfo.InvariantCulture)}"))
                + (f.Streams.Errors.Length > 0 ? "; clients' last errors: " + string.Join("; ", f.Streams.Errors.Take(3)) : ""));
        }

        sb.AppendLine();
    }

    private static string Lacking(CatchUp c) => c.Lacking > 0 ? $" ({c.Lacking:N0} lacking)" : "";
}
