using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using SocketPush.LoadTest.Clients;
using SocketPush.LoadTest.Systems;
using SocketPush.LoadTest.Workers;

namespace SocketPush.LoadTest;

/// <summary>
/// The history set (issue 22): what history costs the fan-out (off against on, the sides alternating round by round,
/// on one node and across three), and a failover: three nodes with default timers, N recovering clients on their
/// users' owners, channel publishes with publish ids through the nodes that survive, kill -9 of the channel's owner.
/// </summary>
internal sealed class HistoryBench(RunOptions options, ProgressLog log, Coordinator coordinator, SocketPushSystem node)
{
    /// <summary>The node killed in a failover: the owner of the channel (<see cref="ClusterPlacement.ChannelOwnedBy"/>).</summary>
    public const string Victim = ClusterPlacement.ChannelOwner;

    /// <summary>No stream keeps anything: maxBytes 0 turns history off, and the rules say so too.</summary>
    public const string OffSection = """
        history:
          maxBytes: 0
          channels:
            - match: "*"
              size: 0
              age: 2m
          users:
            - match: "*"
              size: 0
              age: 2m
        """;

    private const string RecoveredMetric = "socketpush_messages_recovered_total";
    private static readonly string[] Survivors = [ClusterPlacement.Publisher, ClusterPlacement.ReceiverOwner];
    private static readonly string[] FailoverMetrics =
        [RecoveredMetric, "socketpush_recoveries_total", "socketpush_publishes_failed_over_total", "socketpush_gaps_filled_total", "socketpush_publishes_deduplicated_total"];

    private static readonly TimeSpan StatusPoll = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MetricsPoll = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan VerdictTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan CatchUpTimeout = TimeSpan.FromSeconds(60);

    public async Task RunAsync(ResultsFile results, Action<ResultsFile> checkpoint)
    {
        results.History = new HistoryResults { OffSection = OffSection };
        List<(string Label, SocketPushSystem System)> sides = [("off", node.WithHistory(OffSection)), ("on", node)];
        await using var workers = WorkerPool.Start(options.Workers);
        var n = options.Sizes[0];
        var round = 0;
        for (var i = 0; i < options.Repeat; i++, round++)
        {
            foreach (var (label, system) in Coordinator.Rotated(sides, round))
            {
                await MeasureAsync(new Coordinator.PlannedRun(system, Transports.WebSocket, Scenarios.FanOut, n) { History = label, Round = i }, workers, results, checkpoint);
            }
        }

        var channel = ClusterPlacement.Default.ChannelOwnedBy(ClusterPlacement.ChannelOwner);
        for (var i = 0; i < options.CrossRounds; i++, round++)
        {
            foreach (var (label, system) in Coordinator.Rotated(sides, round))
            {
                var run = new Coordinator.PlannedRun(new SocketPushClusterSystem(system), Transports.WebSocket, Scenarios.FanOut, n) { Channel = channel, History = label, Round = i };
                await MeasureAsync(run, workers, results, checkpoint);
            }
        }

        for (var i = 0; i < options.Repeat; i++)
        {
            log.Line($"[history] failover {i + 1}/{options.Repeat}: N={n:N0} on 3 nodes, {options.FailoverRate:0.#} publishes/s, kill -9 of {Victim} after {options.FailoverBefore:0.#} s");
            var failover = await FailoverAsync(i, n, workers);
            results.History.Failovers.Add(failover);
            log.Line($"    {failover.Status}; detection {failover.DetectionSeconds:0.00} s, every client caught up {failover.CaughtUpAtVerdict.MaxSeconds:0.00} s after the kill "
                + $"(goal {failover.GoalSeconds:0.00} s: {(failover.GoalMet ? "met" : "not met")}), {failover.PublishesNot200} publishes not 200, "
                + $"gaps {failover.Streams.Gaps}, duplicates {failover.Streams.Duplicates}, recovered {failover.MessagesRecovered:N0} ({failover.RecoveredPerSecond:N0}/s), other load {failover.OtherLoadCores:0.00} cores");
            checkpoint(results);
        }
    }

    private async Task MeasureAsync(Coordinator.PlannedRun run, WorkerPool workers, ResultsFile results, Action<ResultsFile> checkpoint)
    {
        log.Line($"[history] fan-out, history {run.History}, {(run.System is SocketPushClusterSystem ? "3 nodes" : "1 node")}, round {run.Round + 1}, N={run.N:N0}");
        var result = await coordinator.MeasureAsync(run, workers);
        results.Runs.Add(result);
        results.Versions[run.System.Name] = run.System.Version;
        log.Line($"    {Coordinator.Summary(result)}");
        checkpoint(results);
    }

    private async Task<FailoverResult> FailoverAsync(int round, int n, WorkerPool workers)
    {
        var result = new FailoverResult { Round = round, N = n, PublishesPerSecond = options.FailoverRate, Victim = Victim };
        var cluster = new SocketPushClusterSystem(node);
        await coordinator.OnServerAsync(
            () => cluster.StartClusterAsync(null, CancellationToken.None), running => FailoverOnAsync(running, cluster, n, workers, result), workers, s => result.Status = s, result.Errors);
        return result;
    }

    private async Task FailoverOnAsync(SocketPushClusterSystem.Running running, SocketPushClusterSystem cluster, int n, WorkerPool workers, FailoverResult result)
    {
        var placement = ClusterPlacement.Default;
        var channel = placement.ChannelOwnedBy(Victim);
        var users = BenchUsers.Range(n);
        await running.PrepareUsersAsync(users, channel, done => log.Status($"backend calls for {done:N0}/{n:N0} users"), CancellationToken.None);
        result.Placement = await running.VerifyPlacementAsync(users, channel, CancellationToken.None);
        result.ClientsOnVictim = users.Count(u => placement.OwnerOfUser(u) == Victim);

        // Each client starts on its user's owner; one whose node dies reconnects to its user's owner in the survivors' ring.
        var afterKill = new ClusterPlacement(Survivors);
        var total = (int)Math.Ceiling(options.FailoverRate * (options.FailoverBefore + options.FailoverAfter));
        var outcome = await workers.ConnectAsync(
            cluster.Name, Transports.WebSocket, users, running.ClientUrlOf, channel, options.ConnectConcurrency, options.SignalRClient, coordinator.SourceAddresses(),
            (attempted, up, failed) => log.Status($"connecting: {up:N0} up, {failed:N0} failed, {attempted:N0}/{n:N0} attempted"),
            recovery: new WorkerPool.Recovery(u => running[afterKill.OwnerOfUser(u)].ClientUrl, total));
        result.Connected = outcome.Up;
        result.ConnectFailures = outcome.Failed;
        result.Errors.AddRange(outcome.Errors);
        log.Line($"    {outcome.Up:N0} recovering clients connected ({result.ClientsOnVictim:N0} on {Victim}), {outcome.Failed:N0} failed; {result.Placement}");
        if (outcome.Up == 0)
        {
            throw new InvalidOperationException("no connection came up: " + string.Join("; ", outcome.Errors));
        }

        await coordinator.WarmUpAsync(running, new Coordinator.PlannedRun(cluster, Transports.WebSocket, Scenarios.FanOut, n), users, channel, workers, outcome.Up);

        var publishers = Survivors.Select(id => running[id]).ToArray();
        var sentAt = new long[total];
        var answeredAt = new long[total];
        var status = new int[total];
        var errors = new ConcurrentQueue<string>();
        async Task PublishOne(long i)
        {
            var seq = (int)i;
            sentAt[seq] = Stopwatch.GetTimestamp();
            try
            {
                // A backend's own publish id: a retry through the failover is appended once.
                await publishers[seq % publishers.Length].PublishChannelAsync(channel, seq, warmup: false, "p" + seq, CancellationToken.None);
                status[seq] = 200;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                status[seq] = e is HttpRequestException { StatusCode: { } code } ? (int)code : -1;
                if (errors.Count < 5)
                {
                    errors.Enqueue($"publish {seq}: {e.Message}");
                }
            }

            answeredAt[seq] = Stopwatch.GetTimestamp();
        }

        var pids = running.ProcessIds();
        var machine0 = Machine.BusyCpuSeconds();
        var server0 = ProcStats.Sample(pids).CpuSeconds;
        var clients0 = ProcStats.Sample(workers.Pids).CpuSeconds;
        var self0 = ProcStats.SelfCpuSeconds();
        var clock = Stopwatch.StartNew();
        var recovered0 = await SurvivorsSumAsync(running, RecoveredMetric);

        // Open loop at the rate: publishes waiting for the failover stay in flight (up to cluster.publishTimeout, 10 s).
        var publishing = Coordinator.PacedAsync(total, options.FailoverRate, (int)(options.FailoverRate * 30) + 16, PublishOne);
        await Task.Delay(TimeSpan.FromSeconds(options.FailoverBefore));
        var killedAt = Stopwatch.GetTimestamp();
        running.Kill(Victim);
        using var stopSampling = new CancellationTokenSource();
        var verdicts = Survivors.Select(id => VerdictAsync(running[id], killedAt)).ToArray();
        var samples = SampleAsync(running, RecoveredMetric, stopSampling.Token);
        while (!publishing.IsCompleted)
        {
            await Task.WhenAny(publishing, Task.Delay(500));
            log.Status($"publishing: {status.Count(s => s == 200):N0} acknowledged, {status.Count(s => s != 0 && s != 200):N0} failed of {total:N0}; {Seconds(killedAt, Stopwatch.GetTimestamp()):0.0} s since the kill");
        }

        await publishing;
        var verdict = await Task.WhenAll(verdicts);
        result.SuspectedSeconds = verdict.Min(v => v.Suspected is { } s ? Seconds(killedAt, s) : double.NaN);
        var droppedAt = verdict.Select(v => v.Dropped).ToArray();
        if (droppedAt.Any(d => d is null))
        {
            throw new TimeoutException($"the survivors did not drop {Victim} from their rings within {VerdictTimeout.TotalSeconds:0} s");
        }

        var verdictAt = droppedAt.Max(d => d!.Value);
        result.DetectionSeconds = Seconds(killedAt, verdictAt);

        var acknowledged = Enumerable.Range(0, total).Where(i => status[i] == 200).ToArray();
        int[][] required =
        [
            [.. acknowledged.Where(i => sentAt[i] < killedAt)],
            [.. acknowledged.Where(i => sentAt[i] < verdictAt)],
            acknowledged,
        ];
        IReadOnlyList<StreamReport> reports;
        var waiting = Stopwatch.StartNew();
        while (true)
        {
            reports = await workers.StreamsAsync(killedAt, required);
            var lacking = reports.Sum(r => r.CaughtUpMs[2].Count(ms => ms < 0));
            if (lacking == 0 || waiting.Elapsed > CatchUpTimeout)
            {
                break;
            }

            log.Status($"catching up: {lacking:N0} clients lack an acknowledged publish");
            await Task.Delay(500);
        }

        await stopSampling.CancelAsync();
        var recoveredSamples = await samples;
        var wall = clock.Elapsed.TotalSeconds;
        var server = ProcStats.Sample(pids).CpuSeconds - server0;
        var clientsCpu = ProcStats.Sample(workers.Pids).CpuSeconds - clients0;
        result.OtherLoadCores = Math.Max(0, (Machine.BusyCpuSeconds() - machine0 - server - clientsCpu - (ProcStats.SelfCpuSeconds() - self0)) / wall);

        result.Publishes = status.Count(s => s != 0);
        result.Acknowledged = acknowledged.Length;
        result.PublishesNot200 = result.Publishes - result.Acknowledged;
        result.PublishAnswers = status.Where(s => s is not (0 or 200)).GroupBy(s => s).ToDictionary(g => g.Key < 0 ? "no answer" : g.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), g => g.Count());
        result.Errors.AddRange(errors);
        var aroundEnd = verdictAt + (2 * Stopwatch.Frequency);
        result.PublishLatencyBeforeKill = PublishLatency(sentAt, answeredAt, status, s => s < killedAt);
        result.PublishLatencyAroundKill = PublishLatency(sentAt, answeredAt, status, s => s >= killedAt && s < aroundEnd);
        result.PublishLatencyAfter = PublishLatency(sentAt, answeredAt, status, s => s >= aroundEnd);
        result.PublishLatencyAll = PublishLatency(sentAt, answeredAt, status, _ => true);
        result.RequiredAtKill = required[0].Length;
        result.RequiredAtVerdict = required[1].Length;
        result.CaughtUpAtKill = CatchUp.Of(reports.SelectMany(r => r.CaughtUpMs[0]));
        result.CaughtUpAtVerdict = CatchUp.Of(reports.SelectMany(r => r.CaughtUpMs[1]));
        result.CaughtUpAll = CatchUp.Of(reports.SelectMany(r => r.CaughtUpMs[2]));
        result.Reconnected = CatchUp.Of(reports.SelectMany(r => r.ReconnectedMs));
        result.Streams = StreamReport.Sum(reports);
        result.GoalSeconds = result.DetectionSeconds + 2;
        result.GoalMet = result.CaughtUpAtVerdict.Lacking == 0 && result.CaughtUpAtVerdict.MaxSeconds <= result.GoalSeconds;

        // Messages recovered per second: the survivors' counter over the time it grew.
        var grown = recoveredSamples.Where(s => s.Value > recovered0).ToList();
        result.MessagesRecovered = recoveredSamples.Count > 0 ? recoveredSamples[^1].Value - recovered0 : 0;
        if (grown.Count > 0)
        {
            var final = grown[^1].Value;
            var firstIndex = recoveredSamples.IndexOf(grown[0]);
            var start = firstIndex > 0 ? recoveredSamples[firstIndex - 1].At : killedAt;
            var end = grown.First(s => s.Value == final).At;
            result.RecoveryWindowSeconds = Seconds(start, end);
            result.RecoveredPerSecond = result.RecoveryWindowSeconds > 0 ? result.MessagesRecovered / result.RecoveryWindowSeconds : double.NaN;
        }

        result.ServerCounters = await SurvivorsAsync(running, line => FailoverMetrics.Any(m => line.StartsWith(m, StringComparison.Ordinal)));
        var problems = new List<string>();
        if (result.CaughtUpAll.Lacking > 0)
        {
            problems.Add($"{result.CaughtUpAll.Lacking:N0} clients lack an acknowledged publish");
        }

        if (result.PublishesNot200 > 0)
        {
            problems.Add($"{result.PublishesNot200:N0} publishes not answered 200");
        }

        if (result.Streams.Gaps + result.Streams.Duplicates + result.Streams.DuplicateSequences + result.Streams.EpochChanges + result.Streams.RecoveredFalse > 0)
        {
            problems.Add("gaps, duplicates, epoch changes or recovered: false (see the streams)");
        }

        result.Status = problems.Count == 0 ? "ok" : "ok, " + string.Join("; ", problems);
    }

    /// <summary>
    /// Polls manager.status of one survivor every 100 ms from the kill, each call on its own (a status waits up to 1 s
    /// for a member that does not answer): when the node first saw the victim suspected, and first saw it out of its
    /// ring (no ring share), each time being when the call that showed it was sent.
    /// </summary>
    private static async Task<(long? Suspected, long? Dropped)> VerdictAsync(SocketPushSystem.Node survivor, long killedAt)
    {
        long? suspected = null, dropped = null;
        var gate = new Lock();
        var calls = new List<Task>();
        while (Seconds(killedAt, Stopwatch.GetTimestamp()) < VerdictTimeout.TotalSeconds)
        {
            lock (gate)
            {
                if (dropped is not null)
                {
                    break;
                }
            }

            var sent = Stopwatch.GetTimestamp();
            calls.Add(Task.Run(async () =>
            {
                try
                {
                    var members = (await SocketPushClusterSystem.Running.StatusAsync(survivor, CancellationToken.None)).GetProperty("members").EnumerateArray()
                        .Where(m => m.GetProperty("nodeId").GetString() == Victim).ToList();
                    var notAlive = members.Count == 0 || members.Any(m => m.GetProperty("state").GetString() != "alive");
                    var outOfRing = members.All(m => m.GetProperty("ringShare").GetDouble() == 0);
                    lock (gate)
                    {
                        suspected = notAlive ? Math.Min(suspected ?? long.MaxValue, sent) : suspected;
                        dropped = outOfRing ? Math.Min(dropped ?? long.MaxValue, sent) : dropped;
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or InvalidDataException or KeyNotFoundException)
                {
                    // The survivor is busy; the next call tells.
                }
            }));
            await Task.Delay(StatusPoll);
        }

        await Task.WhenAll(calls);
        return (suspected, dropped);
    }

    /// <summary>The survivors' sum of one counter every 250 ms until stopped.</summary>
    private static async Task<List<(long At, double Value)>> SampleAsync(SocketPushClusterSystem.Running running, string metric, CancellationToken stop)
    {
        var samples = new List<(long At, double Value)>();
        while (!stop.IsCancellationRequested)
        {
            var at = Stopwatch.GetTimestamp();
            try
            {
                samples.Add((at, await SurvivorsSumAsync(running, metric)));
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // A busy survivor: the next sample.
            }

            try
            {
                await Task.Delay(MetricsPoll, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        samples.Add((Stopwatch.GetTimestamp(), await SurvivorsSumAsync(running, metric)));
        return samples;
    }

    private static async Task<double> SurvivorsSumAsync(SocketPushClusterSystem.Running running, string metric) =>
        (await SurvivorsAsync(running, line => line.StartsWith(metric, StringComparison.Ordinal))).Values.Sum();

    /// <summary>The survivors' /metrics samples that <paramref name="wanted"/> picks, each prefixed with the node's id.</summary>
    private static async Task<Dictionary<string, double>> SurvivorsAsync(SocketPushClusterSystem.Running running, Func<string, bool> wanted)
    {
        var all = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var id in Survivors)
        {
            foreach (var (sample, value) in await running[id].ReadMetricsAsync(wanted, CancellationToken.None))
            {
                all[id + " " + sample] = value;
            }
        }

        return all;
    }

    private static LatencySummary PublishLatency(long[] sentAt, long[] answeredAt, int[] status, Func<long, bool> sentIn)
    {
        var histogram = new LatencyHistogram();
        long count = 0;
        for (var i = 0; i < sentAt.Length; i++)
        {
            if (status[i] != 0 && sentIn(sentAt[i]))
            {
                histogram.Record((answeredAt[i] - sentAt[i]) * 1_000_000 / Stopwatch.Frequency);
                count++;
            }
        }

        return LatencySummary.From(histogram, count);
    }

    private static double Seconds(long from, long to) => (to - from) / (double)Stopwatch.Frequency;
}
