using System.Globalization;
using System.Text;
using SocketPush.LoadTest.Systems;

namespace SocketPush.LoadTest.PeerTraffic;

/// <summary>The peer path set's part of the Markdown results: the builds, one table per measurement, after ÷ before.</summary>
internal static class PeerPathReport
{
    public static void Append(StringBuilder sb, PeerPathResults? peer)
    {
        if (peer is null)
        {
            return;
        }

        sb.AppendLine("## node-to-node traffic: before and after").AppendLine();
        sb.AppendLine("| build | given | commit | subject | build s |");
        sb.AppendLine("|---|---|---|---|---:|");
        foreach (var b in peer.Builds)
        {
            sb.AppendLine($"| {b.Label} | `{b.Given}` | {b.Commit ?? "–"} | {b.Subject ?? b.NodeDll} | {F(b.BuildSeconds, "0")} |");
        }

        sb.AppendLine();
        sb.AppendLine("Each measurement runs on freshly started nodes of one build (three, cluster.replicas 3, every port on loopback), the builds taking turns; "
            + "every figure comes from the nodes' own /metrics and manager.status, read from outside, so the same scenario runs against any build.");
        sb.AppendLine();
        AppendDelivery(sb, peer);
        AppendHandoff(sb, peer);
        AppendAntiEntropy(sb, peer);
        AppendRatios(sb, peer);
    }

    private static void AppendDelivery(StringBuilder sb, PeerPathResults peer)
    {
        if (peer.Delivery.Count == 0)
        {
            return;
        }

        sb.AppendLine($"### a delivery batch of {peer.BatchUsers} users").AppendLine();
        sb.AppendLine($"A channel owned by {ClusterPlacement.ChannelOwner} with {peer.BatchUsers} subscribers, all users owned by {ClusterPlacement.ReceiverOwner} (no client connected); "
            + $"`channel.publish` on {ClusterPlacement.ChannelOwner} ({peer.Publishes:N0} measured, one after the other, after 50 unmeasured) sends {ClusterPlacement.ReceiverOwner} "
            + "one `edge.deliver` call with the batch of users and the message (about 100 bytes of JSON). The nodes' /metrics are read before and after each "
            + $"window of {peer.PublishesPerWindow} publishes; a window counts only if `socketpush_forwarded_calls_total` grew by exactly its edge.deliver calls on "
            + $"{ClusterPlacement.ChannelOwner}, nothing else crossed and no call was in flight at either end (an anti-entropy round that fell into it leaves it out). Request bytes are "
            + $"{ClusterPlacement.ChannelOwner}'s `socketpush_peer_bytes_total{{direction=\"sent\"}}` per call, answer bytes {ClusterPlacement.ReceiverOwner}'s; both are the data-plane "
            + $"payloads before sealing (the version byte and the message), without LiteNetLib's headers. The round trip is {ClusterPlacement.ChannelOwner}'s "
            + "`socketpush_peer_request_seconds`: its mean (sum ÷ count) is exact; its buckets double from 50 µs, so a percentile is known only as "
            + "\"at most\" the bound of its bucket. `channel.publish` latency is the harness's, over HTTP, so it includes the round trip.");
        sb.AppendLine();
        sb.AppendLine("| build | round | publishes (in clean windows) | request B | answer B | B per message | round trip mean ms | p50 ≤ ms | p99 ≤ ms | channel.publish p50 / p99 ms | other load | status |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var d in peer.Delivery)
        {
            sb.AppendLine(string.Join(" | ",
                $"| {d.Build}", d.Round.ToString(CultureInfo.InvariantCulture), $"{d.Publishes:N0} ({d.CleanPublishes:N0})",
                F(d.RequestBytes, "N0"), F(d.ResponseBytes, "N0"), F(d.BytesPerMessage, "N0"), F(d.RoundTripMeanMs, "0.000"),
                F(d.RoundTripP50AtMostMs, "0.###"), F(d.RoundTripP99AtMostMs, "0.###"),
                $"{F(d.PublishLatency?.P50Ms, "0.00")} / {F(d.PublishLatency?.P99Ms, "0.00")}",
                F(d.OtherLoadCores, "0.00"), d.Status + " |"));
        }

        sb.AppendLine();
    }

    private static void AppendHandoff(StringBuilder sb, PeerPathResults peer)
    {
        if (peer.Handoff.Count == 0)
        {
            return;
        }

        sb.AppendLine($"### handoff of {peer.HandoffUsers:N0} users").AppendLine();
        sb.AppendLine("The replicas set's handoff (see bench/README, Replicas): three nodes hold the users and a session each, every record on all three; "
            + $"{ReplicaBench.Joiner} joins; the time runs from its ready line until every node is done (nothing pending or owed, each holding exactly what the "
            + "ring of four puts on it). Records and bytes handed over are the growth of `socketpush_handoff_records_total` and `socketpush_handoff_bytes_total` "
            + "over the nodes (bytes as each build counts a record: JSON before the typed messages); peer bytes are every data-plane call and answer "
            + "in that time (`socketpush_peer_bytes_total{direction=\"sent\"}`), handoff, owed copies and anti-entropy together.");
        sb.AppendLine();
        sb.AppendLine("| build | round | records handed over | handoff bytes | B per record | copies repaired | seconds | records/s | handoff bytes/s | peer bytes sent | node CPU s | other load | status |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var p in peer.Handoff)
        {
            var h = p.Handoff;
            var f = h.Figures;
            sb.AppendLine(string.Join(" | ",
                $"| {p.Build}", p.Round.ToString(CultureInfo.InvariantCulture),
                N(f?.Records), N(f?.Bytes), F(p.HandoffBytesPerRecord, "0"), N(f?.CopiesRepaired), F(f?.Seconds, "0.0"),
                F(f?.RecordsPerSecond, "N0"), F(f?.BytesPerSecond, "N0"), N(p.PeerBytesSent), F(h.ServerCpuSeconds, "0.0"), F(h.OtherLoadCores, "0.00"), h.Status + " |"));
        }

        sb.AppendLine();
    }

    private static void AppendAntiEntropy(StringBuilder sb, PeerPathResults peer)
    {
        if (peer.AntiEntropy.Count == 0)
        {
            return;
        }

        sb.AppendLine("### anti-entropy").AppendLine();
        sb.AppendLine("Every node starts a round every `cluster.antiEntropyInterval` (10 s) with the next other node: its 256 bucket digests (`records.digest`), "
            + "the peer's answer (the buckets that differ and its records in them), then `records.merge` calls for those buckets. The harness reads every node's "
            + "/metrics each 200 ms, from a read at which no call was in flight (every byte sent received, every call a node began to serve finished "
            + "by its caller) to the first such read after enough rounds, so the window holds whole rounds only: bytes per round is "
            + "`socketpush_peer_bytes_total{direction=\"sent\"}` over the nodes ÷ `socketpush_antientropy_rounds_total`. A stretch between two such reads "
            + "that held exactly one `records.digest` call splits a round into the initiator's request and the peer's answer.");
        sb.AppendLine();
        sb.AppendLine("| build | round | cluster | records held | rounds | calls | bytes sent | B per round | B per message | digest request B | answer B | rounds caught whole | status |");
        sb.AppendLine("|---|---:|---|---:|---|---|---:|---:|---:|---:|---:|---:|---|");
        foreach (var a in peer.AntiEntropy)
        {
            sb.AppendLine(string.Join(" | ",
                $"| {a.Build}", a.Round.ToString(CultureInfo.InvariantCulture), a.Cluster, N(a.RecordsHeld),
                string.Join(", ", a.Rounds.Where(r => r.Value > 0).Select(r => $"{r.Value} {r.Key}")),
                string.Join(", ", a.Calls.Select(c => $"{c.Value} {c.Key}")),
                N(a.BytesSent), F(a.BytesPerRound, "N0"), F(a.BytesPerMessage, "N0"), F(a.DigestRequestBytes, "N0"), F(a.DigestAnswerBytes, "N0"),
                a.RoundsCaughtWhole.ToString(CultureInfo.InvariantCulture), a.Status + " |"));
        }

        sb.AppendLine();
    }

    /// <summary>After ÷ before, from the measurements of each that succeeded (their mean over rounds).</summary>
    private static void AppendRatios(StringBuilder sb, PeerPathResults peer)
    {
        static double Mean<T>(IEnumerable<T> items, string build, Func<T, string> buildOf, Func<T, bool> ok, Func<T, double> figure)
        {
            var values = items.Where(i => buildOf(i) == build && ok(i)).Select(figure).Where(double.IsFinite).ToList();
            return values.Count == 0 ? double.NaN : values.Average();
        }

        var rows = new List<(string What, Func<string, double> Of)>
        {
            ("delivery batch: bytes per peer message", b => Mean(peer.Delivery, b, d => d.Build, d => d.Status.StartsWith("ok", StringComparison.Ordinal), d => d.BytesPerMessage)),
            ("delivery batch: request bytes", b => Mean(peer.Delivery, b, d => d.Build, d => d.Status.StartsWith("ok", StringComparison.Ordinal), d => d.RequestBytes)),
            ("delivery batch: round trip mean ms", b => Mean(peer.Delivery, b, d => d.Build, d => d.Status.StartsWith("ok", StringComparison.Ordinal), d => d.RoundTripMeanMs)),
            ("handoff: records/s", b => Mean(peer.Handoff, b, h => h.Build, h => h.Handoff.Status.StartsWith("ok", StringComparison.Ordinal), h => h.Handoff.Figures?.RecordsPerSecond ?? double.NaN)),
            ("handoff: bytes per record", b => Mean(peer.Handoff, b, h => h.Build, h => h.Handoff.Status.StartsWith("ok", StringComparison.Ordinal), h => h.HandoffBytesPerRecord)),
            ("handoff: peer bytes sent", b => Mean(peer.Handoff, b, h => h.Build, h => h.Handoff.Status.StartsWith("ok", StringComparison.Ordinal), h => h.PeerBytesSent ?? double.NaN)),
            ("anti-entropy: bytes per round, 3 nodes", b => Mean(peer.AntiEntropy.Where(a => a.Cluster.StartsWith('3')), b, a => a.Build, a => a.Status == "ok", a => a.BytesPerRound)),
            ("anti-entropy: bytes per round, 4 nodes after the handoff", b => Mean(peer.AntiEntropy.Where(a => a.Cluster.StartsWith('4')), b, a => a.Build, a => a.Status == "ok", a => a.BytesPerRound)),
        };
        sb.AppendLine("### after ÷ before").AppendLine();
        sb.AppendLine("| figure | before | after | after ÷ before |");
        sb.AppendLine("|---|---:|---:|---:|");
        foreach (var (what, of) in rows)
        {
            var (before, after) = (of("before"), of("after"));
            var format = what.EndsWith("ms", StringComparison.Ordinal) ? "0.000" : "N0";
            sb.AppendLine($"| {what} | {F(before, format)} | {F(after, format)} | {(double.IsFinite(before) && double.IsFinite(after) && before > 0 ? (after / before).ToString("0.00", CultureInfo.InvariantCulture) + "×" : "n/a")} |");
        }

        sb.AppendLine();
    }

    private static string N(long? value) => value is { } v ? v.ToString("N0", CultureInfo.InvariantCulture) : "–";

    private static string F(double? value, string format) =>
        value is { } v && double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "–";
}
