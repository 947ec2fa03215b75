using System.Diagnostics;
using System.Text.Json;
using SocketPush.LoadTest.Systems;

namespace SocketPush.LoadTest.PeerTraffic;

/// <summary>
/// The peer path set: two builds of the node ("before" and "after"), the same scenarios on freshly started nodes of
/// each, in one run, the builds taking turns. Everything is read from outside: each node's /metrics and manager.status.
/// <list type="number">
/// <item>Delivery: three nodes; a channel owned by n2 whose subscribers are users owned by n3; channel.publish on n2,
/// so each publish sends one edge.deliver batch of those users n2 → n3 and nothing else crosses. Bytes per message
/// and round trip from n2's and n3's peer counters over windows in which only those calls crossed.</item>
/// <item>Anti-entropy: on those three nodes, then on four holding the handoff's records, every node's counters
/// polled until several rounds completed; bytes per round from the peer bytes of a window in which only anti-entropy
/// calls crossed.</item>
/// <item>Handoff: the replicas set's (three nodes with the users, a fourth joins, until done on every node).</item>
/// </list>
/// </summary>
internal sealed class PeerPathBench(RunOptions options, ProgressLog log)
{
    private const string ChannelOwner = ClusterPlacement.ChannelOwner;
    private const string ReceiverOwner = ClusterPlacement.ReceiverOwner;
    private const int WarmupPublishes = 50;
    private static readonly TimeSpan AntiEntropyPoll = TimeSpan.FromMilliseconds(200);

    /// <summary>Rounds run every cluster.antiEntropyInterval (10 s) on each node: six on three nodes take about 20 s.</summary>
    private static readonly TimeSpan AntiEntropyTimeout = TimeSpan.FromSeconds(120);

    public async Task RunAsync(ResultsFile results, Action<ResultsFile> checkpoint)
    {
        var peer = results.PeerPath = new PeerPathResults
        {
            BatchUsers = options.PeerBatchUsers, Publishes = options.PeerPublishes, PublishesPerWindow = options.PeerPublishesPerWindow, HandoffUsers = options.HandoffUsers,
        };
        await using var builds = new NodeBuilds(options.Repository, log);
        peer.Builds.Add(await builds.ResolveAsync("before", options.Before));
        peer.Builds.Add(await builds.ResolveAsync("after", options.After));
        results.Versions["before"] = Describe(peer.Builds[0]);
        results.Versions["after"] = Describe(peer.Builds[1]);
        checkpoint(results);

        var clusters = peer.Builds.ToDictionary(
            b => b.Label,
            b => new SocketPushClusterSystem(new SocketPushSystem(b.NodeDll, options.NodeEnvironment, Describe(b))),
            StringComparer.Ordinal);
        for (var round = 1; round <= options.PeerRounds; round++)
        {
            // The first build changes from one round to the next, so that a load spike does not always hit the same one.
            var order = round % 2 == 1 ? peer.Builds : [.. Enumerable.Reverse(peer.Builds)];
            foreach (var build in order)
            {
                log.Line($"[peer-path] round {round}: delivery and anti-entropy on 3 nodes, {build.Label} ({build.Commit ?? build.NodeDll})");
                var (delivery, antiEntropy) = await MeasureDeliveryAsync(clusters[build.Label], build.Label, round);
                peer.Delivery.Add(delivery);
                peer.AntiEntropy.Add(antiEntropy);
                log.Line($"    delivery {delivery.Status}: request {delivery.RequestBytes:N0} B, answer {delivery.ResponseBytes:N0} B, round trip mean {delivery.RoundTripMeanMs:0.000} ms "
                    + $"({delivery.CleanPublishes:N0} of {delivery.Publishes:N0} publishes in clean windows)");
                log.Line($"    anti-entropy {antiEntropy.Status}: {antiEntropy.BytesPerRound:N0} B per round over {antiEntropy.Rounds.Values.Sum()} rounds");
                checkpoint(results);
            }

            if (options.HandoffUsers == 0)
            {
                continue;
            }

            foreach (var build in order)
            {
                log.Line($"[peer-path] round {round}: handoff of {options.HandoffUsers:N0} users to a fourth node, {build.Label}");
                var handoff = await MeasureHandoffAsync(clusters[build.Label], build.Label, round, peer);
                peer.Handoff.Add(handoff);
                var f = handoff.Handoff.Figures;
                log.Line($"    handoff {handoff.Handoff.Status}: {f?.Records:N0} records in {f?.Seconds:0.0} s, {f?.RecordsPerSecond:N0} records/s, "
                    + $"{handoff.HandoffBytesPerRecord:0} B per record, {handoff.PeerBytesSent:N0} peer bytes");
                checkpoint(results);
            }
        }
    }

    /// <summary>"ae9edda (subject)" or the path of a given binary.</summary>
    private static string Describe(NodeBuildInfo build) =>
        build.Commit is null ? $"{build.Label}: {build.NodeDll}" : $"{build.Label}: SocketPush {build.Commit} ({build.Given}) on .NET {Environment.Version}";

    private async Task<(DeliveryResult Delivery, AntiEntropyResult AntiEntropy)> MeasureDeliveryAsync(SocketPushClusterSystem cluster, string build, int round)
    {
        var delivery = new DeliveryResult { Build = build, Round = round };
        var antiEntropy = new AntiEntropyResult { Build = build, Round = round, Cluster = $"3 nodes, {options.PeerBatchUsers} users subscribed to one channel" };
        SocketPushClusterSystem.Running? running = null;
        try
        {
            running = await cluster.StartClusterAsync(writeQuorum: null, CancellationToken.None);
            var placement = ClusterPlacement.Default;
            var channel = placement.ChannelOwnedBy(ChannelOwner);
            var users = placement.UsersOwnedBy(ReceiverOwner, options.PeerBatchUsers);
            await running.PrepareUsersAsync(users, channel, done => log.Status($"subscribing: {done}/{users.Count}"), CancellationToken.None);
            delivery.Placement = await running.VerifyPlacementAsync(users, channel, CancellationToken.None)
                + $"; channel.publish on {ChannelOwner}, the channel's owner";
            await MeasurePublishesAsync(running, channel, delivery);
        }
        catch (Exception e)
        {
            Fail(delivery.Errors, s => delivery.Status = s, e, running);
        }

        if (running is not null && delivery.Status == "ok")
        {
            await MeasureAntiEntropyAsync(running, antiEntropy);
        }
        else
        {
            antiEntropy.Status = "not measured: the delivery failed";
        }

        if (running is not null)
        {
            await running.DisposeAsync();
        }

        return (delivery, antiEntropy);
    }

    /// <summary>
    /// Unmeasured publishes first (the code paths warm), then windows of <see cref="RunOptions.PeerPublishesPerWindow"/>
    /// publishes, one after the other, between two reads of every node's /metrics.
    /// </summary>
    private async Task MeasurePublishesAsync(SocketPushClusterSystem.Running running, string channel, DeliveryResult delivery)
    {
        var publisher = running[ChannelOwner];
        long sequence = 0;
        for (var i = 0; i < WarmupPublishes; i++)
        {
            await publisher.PublishChannelAsync(channel, sequence++, warmup: true, CancellationToken.None);
        }

        // Other programs' CPU meanwhile; the nodes' own is not reported: reading /metrics between windows costs them more than a publish.
        var pids = running.ProcessIds();
        var machine0 = Machine.BusyCpuSeconds();
        var server0 = ProcStats.Sample(pids).CpuSeconds;
        var self0 = ProcStats.SelfCpuSeconds();
        var clock = Stopwatch.StartNew();
        var latency = new LatencyHistogram();
        var roundTrips = RoundTrips.None;
        long requestBytes = 0, responseBytes = 0;
        var nodes = running.Members.Select(n => n.NodeId).ToList();
        while (delivery.Publishes < options.PeerPublishes)
        {
            var count = (int)Math.Min(options.PeerPublishesPerWindow, options.PeerPublishes - delivery.Publishes);
            var before = await running.ReadMetricsAsync(PeerFigures.IsRead, CancellationToken.None);
            for (var i = 0; i < count; i++)
            {
                var started = Stopwatch.GetTimestamp();
                delivery.Receivers += await publisher.PublishChannelAsync(channel, sequence++, warmup: false, CancellationToken.None);
                latency.Record((long)Stopwatch.GetElapsedTime(started).TotalMicroseconds);
            }

            var after = await running.ReadMetricsAsync(PeerFigures.IsRead, CancellationToken.None);
            delivery.Publishes += count;
            delivery.Windows++;
            var calls = PeerFigures.Calls(before, after);
            var sent = PeerFigures.Bytes(before, after, ChannelOwner, "sent");
            var answered = PeerFigures.Bytes(before, after, ReceiverOwner, "sent");
            var quiet = nodes.Where(n => n is not (ChannelOwner or ReceiverOwner))
                .All(n => PeerFigures.Bytes(before, after, n, "sent") == 0 && PeerFigures.Bytes(before, after, n, "received") == 0);
            // Idle at both ends: no call of another kind (an anti-entropy round between n2 and n3) half inside the window.
            var clean = calls.Count == 1 && calls.GetValueOrDefault($"{ChannelOwner} edge.deliver ok") == count && quiet
                && PeerFigures.Idle(before) && PeerFigures.Idle(after)
                && PeerFigures.Bytes(before, after, ReceiverOwner, "received") == sent && PeerFigures.Bytes(before, after, ChannelOwner, "received") == answered;
            if (!clean)
            {
                delivery.LeftOut.Add($"window {delivery.Windows}: " + string.Join(", ", calls.Select(c => $"{c.Key} ×{c.Value}")));
                continue;
            }

            delivery.CleanWindows++;
            delivery.CleanPublishes += count;
            requestBytes += sent;
            responseBytes += answered;
            roundTrips = roundTrips.Add(PeerFigures.RoundTripsOf(before, after, ChannelOwner));
        }

        var server = ProcStats.Sample(pids).CpuSeconds - server0;
        var self = ProcStats.SelfCpuSeconds() - self0;
        var machine = Machine.BusyCpuSeconds() - machine0;
        delivery.PublishLatency = LatencySummary.From(latency, latency.Count);
        delivery.OtherLoadCores = Math.Max(0, (machine - server - self) / clock.Elapsed.TotalSeconds);
        if (delivery.CleanPublishes == 0)
        {
            delivery.Status = "failed: no window in which only the edge.deliver calls crossed";
            return;
        }

        delivery.RequestBytes = (double)requestBytes / delivery.CleanPublishes;
        delivery.ResponseBytes = (double)responseBytes / delivery.CleanPublishes;
        delivery.BytesPerMessage = (delivery.RequestBytes + delivery.ResponseBytes) / 2;
        delivery.RoundTripMeanMs = roundTrips.MeanMs;
        delivery.RoundTripP50AtMostMs = roundTrips.AtMostMs(0.50);
        delivery.RoundTripP99AtMostMs = roundTrips.AtMostMs(0.99);
        if (roundTrips.Count != delivery.CleanPublishes)
        {
            delivery.Status = $"ok, but n2 timed {roundTrips.Count} calls for {delivery.CleanPublishes} publishes";
        }
    }

    private async Task<PeerHandoffResult> MeasureHandoffAsync(SocketPushClusterSystem cluster, string build, int round, PeerPathResults peer)
    {
        var result = new PeerHandoffResult { Build = build, Round = round };
        var antiEntropy = new AntiEntropyResult
        {
            Build = build, Round = round, Cluster = $"4 nodes after the handoff of {options.HandoffUsers:N0} users", Status = "not measured: the handoff failed",
        };
        var replicas = new ReplicaBench(options, log, cluster);
        result.Handoff = await replicas.MeasureHandoffAsync(running => MeasureAntiEntropyAsync(running, antiEntropy));
        peer.AntiEntropy.Add(antiEntropy);
        if (result.Handoff.Figures is { Records: > 0 } figures)
        {
            result.PeerBytesSent = HandoffFigures.Delta(result.Handoff.CountersBefore, result.Handoff.CountersAfter, HandoffFigures.PeerBytesMetric + "{direction=\"sent\"}");
            result.HandoffBytesPerRecord = (double)figures.Bytes / figures.Records;
        }

        return result;
    }

    /// <summary>
    /// Polls every node's /metrics until <see cref="RunOptions.PeerAntiEntropyRounds"/> rounds completed, from a read at
    /// which no call was in flight (<see cref="PeerFigures.Idle"/>) to the first such read after them, so that the window
    /// holds whole rounds only. A round on nodes with many records takes longer than a poll (the peer computes its
    /// digests before it answers): the stretches between two idle reads are what can be split into request and answer.
    /// </summary>
    private async Task MeasureAntiEntropyAsync(SocketPushClusterSystem.Running running, AntiEntropyResult result)
    {
        result.Status = "ok";
        try
        {
            var statuses = await Task.WhenAll(running.Members.Select(n => SocketPushClusterSystem.Running.StatusAsync(n, CancellationToken.None)));
            result.RecordsHeld = statuses.Select(s => s.GetProperty("records"))
                .Sum(r => r.GetProperty("users").GetInt64() + r.GetProperty("sessions").GetInt64() + r.GetProperty("channels").GetInt64());
            var nodes = running.Members.Select(n => n.NodeId).ToList();
            var clock = Stopwatch.StartNew();
            IReadOnlyDictionary<string, double>? start = null, lastIdle = null;
            var startedAt = TimeSpan.Zero;
            var requests = new List<long>();
            var answers = new List<long>();
            while (clock.Elapsed < AntiEntropyTimeout)
            {
                var now = await running.ReadMetricsAsync(PeerFigures.IsRead, CancellationToken.None);
                if (PeerFigures.Idle(now))
                {
                    if (start is null)
                    {
                        (start, startedAt) = (now, clock.Elapsed);
                    }
                    else
                    {
                        CatchWholeRound(lastIdle!, now, nodes, requests, answers);
                        var rounds = PeerFigures.Rounds(start, now).Values.Sum();
                        log.Status($"anti-entropy: {rounds} rounds, {clock.Elapsed.TotalSeconds:0} s");
                        if (rounds >= options.PeerAntiEntropyRounds)
                        {
                            Summarize(result, start, now, nodes, (clock.Elapsed - startedAt).TotalSeconds, requests, answers);
                            return;
                        }
                    }

                    lastIdle = now;
                }

                await Task.Delay(AntiEntropyPoll);
            }

            result.Status = start is null
                ? $"failed: no read without a call in flight within {AntiEntropyTimeout.TotalSeconds:0} s"
                : $"failed: fewer than {options.PeerAntiEntropyRounds} rounds within {AntiEntropyTimeout.TotalSeconds:0} s";
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or InvalidDataException or KeyNotFoundException)
        {
            Fail(result.Errors, s => result.Status = s, e, running);
        }
    }

    /// <summary>A stretch between two idle reads that held exactly one records.digest call, and both its sides: the initiator's bytes and the peer's.</summary>
    private static void CatchWholeRound(IReadOnlyDictionary<string, double> before, IReadOnlyDictionary<string, double> after, List<string> nodes, List<long> requests, List<long> answers)
    {
        var calls = PeerFigures.Calls(before, after);
        if (calls.Count != 1 || calls.Single() is not { Value: 1 } call || !call.Key.EndsWith(" records.digest ok", StringComparison.Ordinal))
        {
            return;
        }

        // Both sides inside, or it is not split: a request that has arrived but waits for a thread to serve it is counted
        // neither as served nor as finished, so a read can look idle with the request's bytes before it.
        var initiator = call.Key[..call.Key.IndexOf(' ', StringComparison.Ordinal)];
        var request = PeerFigures.Bytes(before, after, initiator, "sent");
        var answer = nodes.Where(n => n != initiator).Sum(n => PeerFigures.Bytes(before, after, n, "sent"));
        if (request > 0 && answer > 0)
        {
            requests.Add(request);
            answers.Add(answer);
        }
    }

    private static void Summarize(
        AntiEntropyResult result, IReadOnlyDictionary<string, double> start, IReadOnlyDictionary<string, double> end, List<string> nodes, double seconds, List<long> requests, List<long> answers)
    {
        result.Seconds = seconds;
        result.Rounds = PeerFigures.Rounds(start, end);
        result.Calls = PeerFigures.Calls(start, end)
            .GroupBy(c => c.Key[(c.Key.IndexOf(' ', StringComparison.Ordinal) + 1)..], StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(c => c.Value), StringComparer.Ordinal);
        result.BytesSent = nodes.Sum(n => PeerFigures.Bytes(start, end, n, "sent"));
        var rounds = result.Rounds.Values.Sum();
        var calls = result.Calls.Values.Sum();
        var onlyAntiEntropy = result.Calls.Keys.All(k => k.StartsWith("records.digest ", StringComparison.Ordinal) || k.StartsWith("records.merge ", StringComparison.Ordinal));
        if (!onlyAntiEntropy)
        {
            result.Status = "other calls crossed: " + string.Join(", ", result.Calls.Select(c => $"{c.Key} ×{c.Value}"));
        }
        else if (rounds > 0)
        {
            result.BytesPerRound = (double)result.BytesSent / rounds;
            result.BytesPerMessage = (double)result.BytesSent / (2 * calls);
        }

        result.RoundsCaughtWhole = requests.Count;
        if (requests.Count > 0)
        {
            result.DigestRequestBytes = requests.Average();
            result.DigestAnswerBytes = answers.Average();
        }
    }

    private void Fail(List<string> errors, Action<string> status, Exception e, SocketPushClusterSystem.Running? running)
    {
        status("failed: " + e.Message.Split('\n')[0]);
        errors.Add(e.ToString());
        if (running is not null)
        {
            errors.Add("server output:\n" + string.Join('\n', running.Output.Split('\n').TakeLast(60)));
        }

        log.Line($"    FAILED: {e.Message}");
    }
}
