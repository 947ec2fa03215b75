using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SocketPush.LoadTest.Systems;

namespace SocketPush.LoadTest;

/// <summary>
/// The replicas set: management write latency on three nodes (cluster.replicas 3) with each cluster.writeQuorum,
/// every setting on freshly started nodes; then three nodes holding the users' records and a fourth joining, measured
/// until the handoff is done on every node.
/// </summary>
internal sealed class ReplicaBench(RunOptions options, ProgressLog log, SocketPushClusterSystem cluster)
{
    public const string Joiner = "n4";

    /// <summary>The calls cycle over this many channels (user i subscribes to room-(i mod this)).</summary>
    private const int Channels = 1_000;

    private const int LoadConcurrency = 64;

    /// <summary>Tries of one loading auth.set that answers unavailable (503) before the handoff measurement fails.</summary>
    private const int LoadAttempts = 3;
    private static readonly TimeSpan MetricsPoll = TimeSpan.FromMilliseconds(250);

    /// <summary>manager.status counts every record on every node: asked at most this often while the handoff runs.</summary>
    private static readonly TimeSpan StatusPoll = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan SettleTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan HandoffTimeout = TimeSpan.FromMinutes(10);

    public async Task RunAsync(ResultsFile results, Action<ResultsFile> checkpoint)
    {
        results.Replicas = new ReplicaResults { Replicas = ClusterPlacement.Replicas, WarmupSeconds = options.WriteWarmupSeconds };
        foreach (var quorum in options.WriteQuorums)
        {
            log.Line($"[replicas] writes, writeQuorum {quorum}: {options.WriteConcurrency} in flight for {options.PublishSeconds:0} s over {options.WriteUsers:N0} users");
            var result = await MeasureWritesAsync(quorum);
            results.Replicas.WriteLatency.Add(result);
            log.Line($"    {result.Status}; {result.Calls:N0} calls, {result.CallsPerSecond:N0}/s, p50 {result.Latency?.P50Ms:0.00} p99 {result.Latency?.P99Ms:0.00} "
                + $"p99.9 {result.Latency?.P999Ms:0.00} max {result.Latency?.MaxMs:0.00} ms, {result.ServerCpuMicrosecondsPerCall:0} µs CPU/call, other load {result.OtherLoadCores:0.00} cores");
            checkpoint(results);
        }

        if (options.HandoffUsers > 0)
        {
            log.Line($"[replicas] handoff: {options.HandoffUsers:N0} users on n1, n2, n3, then {Joiner} joins");
            var handoff = await MeasureHandoffAsync();
            results.Replicas.Handoff = handoff;
            log.Line($"    {handoff.Status}; {handoff.Figures?.Records:N0} records, {handoff.Figures?.Bytes:N0} bytes in {handoff.Figures?.Seconds:0.0} s: "
                + $"{handoff.Figures?.RecordsPerSecond:N0} records/s, {handoff.Figures?.BytesPerSecond:N0} B/s; {handoff.Held}");
            checkpoint(results);
        }
    }

    private async Task<WriteLatencyResult> MeasureWritesAsync(int quorum)
    {
        var users = BenchUsers.Range(options.WriteUsers);
        var result = new WriteLatencyResult
        {
            WriteQuorum = quorum, Nodes = ClusterPlacement.NodeIds.Length, Concurrency = options.WriteConcurrency, Users = users.Count, Channels = Channels,
        };
        await OnClusterAsync(quorum, result.Errors, s => result.Status = s, async running =>
        {
            var placement = ClusterPlacement.Default;
            var owners = users.Select(u => running[placement.OwnerOfUser(u)]).ToArray();

            // Warm-up: at least two calls per user, so that every user has its records before the placement check.
            var warmup = await DriveAsync(owners, users, TimeSpan.FromSeconds(options.WriteWarmupSeconds), 2L * users.Count, null);
            result.WarmupSeconds = warmup.Seconds;
            result.WarmupCalls = warmup.Calls;
            await running.VerifyPlacementAsync(users, null, CancellationToken.None);
            result.Placement = "each call to the node that owns its user; users owned per node: "
                + string.Join(", ", ClusterPlacement.NodeIds.Select(n => $"{n} {users.Count(u => placement.OwnerOfUser(u) == n).ToString(CultureInfo.InvariantCulture)}"));

            var pids = running.ProcessIds();
            var machine0 = Machine.BusyCpuSeconds();
            var server0 = ProcStats.Sample(pids).CpuSeconds;
            var self0 = ProcStats.SelfCpuSeconds();
            var histograms = new Histograms();
            var measured = await DriveAsync(owners, users, TimeSpan.FromSeconds(options.PublishSeconds), 0, histograms);
            var server = ProcStats.Sample(pids).CpuSeconds - server0;
            var self = ProcStats.SelfCpuSeconds() - self0;
            var machine = Machine.BusyCpuSeconds() - machine0;

            result.MeasureSeconds = measured.Seconds;
            result.Calls = measured.Calls;
            result.Failures = measured.Failures;
            result.CallsPerSecond = measured.Calls / measured.Seconds;
            result.Latency = LatencySummary.From(histograms.All, histograms.All.Count);
            result.AuthSet = LatencySummary.From(histograms.AuthSet, histograms.AuthSet.Count);
            result.Subscribe = LatencySummary.From(histograms.Subscribe, histograms.Subscribe.Count);
            result.ServerCpuMicrosecondsPerCall = measured.Calls == 0 ? double.NaN : server * 1e6 / measured.Calls;
            result.OtherLoadCores = Math.Max(0, (machine - server - self) / measured.Seconds);
            result.ServerCounters = await running.ReadMetricsAsync(line => line.StartsWith("socketpush_records_replicated_total", StringComparison.Ordinal)
                || line.StartsWith("socketpush_quorum_failures_total", StringComparison.Ordinal), CancellationToken.None);
            result.Errors.AddRange(measured.Errors);
            if (measured.Failures > 0)
            {
                result.Status = $"ok, {measured.Failures:N0} calls failed";
            }
        });
        return result;
    }

    /// <summary>
    /// Closed loop: <see cref="RunOptions.WriteConcurrency"/> callers, each sending its next call when the last one answered,
    /// until the time is up and at least <paramref name="minCalls"/> calls answered. Call i is auth.set (even i) or
    /// channel.subscribe (odd i) of user i/2 (cycling), sent to the node that owns the user.
    /// </summary>
    private async Task<(long Calls, long Failures, double Seconds, List<string> Errors)> DriveAsync(
        SocketPushSystem.Node[] owners, IReadOnlyList<string> users, TimeSpan duration, long minCalls, Histograms? histograms)
    {
        long next = -1, calls = 0, failures = 0;
        var errors = new List<string>();
        var clock = Stopwatch.StartNew();
        using var progress = new Timer(_ => log.Status($"writes: {Interlocked.Read(ref calls):N0} calls, {Interlocked.Read(ref failures):N0} failed"), null, 1000, 1000);
        await Task.WhenAll(Enumerable.Range(0, options.WriteConcurrency).Select(caller => Task.Run(async () =>
        {
            while (clock.Elapsed < duration || Interlocked.Read(ref calls) < minCalls)
            {
                var i = Interlocked.Increment(ref next);
                var index = (int)(i / 2 % users.Count);
                var user = users[index];
                var authSet = i % 2 == 0;
                var started = Stopwatch.GetTimestamp();
                try
                {
                    _ = authSet
                        ? await owners[index].CallAsync("auth/set", new() { ["userId"] = user, ["sessionId"] = BenchUsers.SessionOf(user) }, CancellationToken.None)
                        : await owners[index].CallAsync("channel/subscribe", new() { ["userId"] = user, ["channelId"] = ChannelOf(index) }, CancellationToken.None);
                    histograms?.Record(authSet, (long)Stopwatch.GetElapsedTime(started).TotalMicroseconds);
                    Interlocked.Increment(ref calls);
                }
                catch (Exception e) when (e is HttpRequestException or InvalidDataException or JsonException or TaskCanceledException)
                {
                    if (Interlocked.Increment(ref failures) <= 3)
                    {
                        lock (errors)
                        {
                            errors.Add((authSet ? "auth.set: " : "channel.subscribe: ") + e.Message);
                        }
                    }
                }
            }
        })));
        return (calls, failures, clock.Elapsed.TotalSeconds, errors);
    }

    /// <summary>The handoff's counters, and the peer bytes (every call and answer between the nodes) over the same time.</summary>
    private static bool IsRecorded(string line) =>
        HandoffFigures.IsCounted(line) || line.StartsWith(HandoffFigures.PeerBytesMetric, StringComparison.Ordinal);

    private static string ChannelOf(int userIndex) => "room-" + (userIndex % Channels).ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Three nodes holding <see cref="RunOptions.HandoffUsers"/> users, then n4 joins; measured until done on every node.
    /// <paramref name="afterwards"/> runs on the four nodes once done, before they stop (the peer path set measures
    /// anti-entropy there); what it throws fails the result like the handoff's own failures.
    /// </summary>
    internal async Task<HandoffResult> MeasureHandoffAsync(Func<SocketPushClusterSystem.Running, Task>? afterwards = null)
    {
        var users = BenchUsers.Range(options.HandoffUsers);
        var result = new HandoffResult { Users = users.Count, Records = 2 * users.Count };
        await OnClusterAsync(null, result.Errors, s => result.Status = s, async running =>
        {
            var load = Stopwatch.StartNew();
            var loaded = 0;
            var retried = new ConcurrentBag<string>();
            await Parallel.ForEachAsync(users, new ParallelOptions { MaxDegreeOfParallelism = LoadConcurrency }, async (user, ct) =>
            {
                var owner = running[ClusterPlacement.Default.OwnerOfUser(user)];
                Dictionary<string, string> arguments = new() { ["userId"] = user, ["sessionId"] = BenchUsers.SessionOf(user) };
                for (var attempt = 1; ; attempt++)
                {
                    try
                    {
                        await owner.CallAsync("auth/set", arguments, ct);
                        break;
                    }
                    catch (HttpRequestException e) when (e.Message.Contains(" answered 503", StringComparison.Ordinal) && attempt < LoadAttempts)
                    {
                        // Loading is not measured: a write that missed its quorum on a busy machine (unavailable) is
                        // written again; auth.set of the same user and session merges into the same records.
                        retried.Add(user);
                    }
                }

                var done = Interlocked.Increment(ref loaded);
                log.Status($"loading: {done:N0}/{users.Count:N0} users");
            });
            result.LoadSeconds = load.Elapsed.TotalSeconds;
            result.LoadRetries = retried.Count;
            result.LoadCallsPerSecond = users.Count / result.LoadSeconds;
            log.Line($"    loaded {users.Count:N0} users in {result.LoadSeconds:0.0} s ({result.LoadCallsPerSecond:N0} calls/s)");

            var three = new Dictionary<string, (int Users, int Sessions)>(StringComparer.Ordinal);
            foreach (var node in running.Members)
            {
                three[node.NodeId] = (users.Count, users.Count);
            }

            await WaitUntilAsync(running, three, SettleTimeout, "the three nodes did not settle on every record");
            result.CountersBefore = await running.ReadMetricsAsync(IsRecorded, CancellationToken.None);

            var joinerStart = Stopwatch.StartNew();
            var joiner = await running.JoinAsync();
            if (joiner.NodeId != Joiner)
            {
                throw new InvalidOperationException($"the joining node is {joiner.NodeId}, the harness expects {Joiner}");
            }

            var clock = Stopwatch.StartNew();
            result.JoinerStartSeconds = joinerStart.Elapsed.TotalSeconds;
            var pids = running.ProcessIds();
            var machine0 = Machine.BusyCpuSeconds();
            var server0 = ProcStats.Sample(pids).CpuSeconds;
            var self0 = ProcStats.SelfCpuSeconds();

            var four = new ClusterPlacement([.. running.Members.Select(n => n.NodeId)]);
            var expected = running.Members.ToDictionary(
                n => n.NodeId,
                n => (users.Count(u => four.Holds(n.NodeId, ClusterPlacement.UserKey(u))), users.Count(u => four.Holds(n.NodeId, ClusterPlacement.SessionKey(BenchUsers.SessionOf(u))))),
                StringComparer.Ordinal);
            var (seconds, firstHandoff, held) = await WaitForHandoffAsync(running, expected, result.CountersBefore, clock);
            result.FirstHandoffSeconds = firstHandoff;
            var server = ProcStats.Sample(pids).CpuSeconds - server0;
            var self = ProcStats.SelfCpuSeconds() - self0;
            var machine = Machine.BusyCpuSeconds() - machine0;
            var wall = clock.Elapsed.TotalSeconds;
            result.ServerCpuSeconds = server;
            result.OtherLoadCores = Math.Max(0, (machine - server - self) / wall);
            result.CountersAfter = await running.ReadMetricsAsync(IsRecorded, CancellationToken.None);
            result.Figures = HandoffFigures.From(result.CountersBefore, result.CountersAfter, seconds);
            result.Held = held;
            result.Done = $"every node: {running.Members.Count} members alive, ring agreed, pendingHandoff 0, replication.keysUnderReplicated 0 and missingCopies 0, "
                + "and the user and session records the harness's ring of four puts on it";
            if (afterwards is not null)
            {
                await afterwards(running);
            }
        });
        return result;
    }

    /// <summary>
    /// Polls every node's /metrics (cheap) until no copy is owed anywhere and the handoff counters stood still for one
    /// poll, then confirms with every node's manager.status (which counts every record it holds, so at most once a
    /// second). Done is the time of the metrics poll that the status confirmed.
    /// </summary>
    private async Task<(double Seconds, double FirstHandoff, string Held)> WaitForHandoffAsync(
        SocketPushClusterSystem.Running running, Dictionary<string, (int Users, int Sessions)> expected, Dictionary<string, double> before, Stopwatch clock)
    {
        var firstHandoff = double.NaN;
        var lastMoved = -1L;
        TimeSpan? lastStatus = null;
        var problems = "";
        while (clock.Elapsed < HandoffTimeout)
        {
            var at = clock.Elapsed;
            var counters = await running.ReadMetricsAsync(HandoffFigures.IsCounted, CancellationToken.None);
            var figures = HandoffFigures.From(before, counters, at.TotalSeconds);
            if (figures.Records > 0 && double.IsNaN(firstHandoff))
            {
                firstHandoff = at.TotalSeconds;
            }

            var moved = figures.Records + figures.CopiesRepaired;
            var owed = HandoffFigures.Sum(counters, "socketpush_keys_under_replicated") + HandoffFigures.Sum(counters, "socketpush_replica_copies_missing");
            log.Status($"handoff: {figures.Records:N0} records handed over, {figures.CopiesRepaired:N0} copies repaired, {owed:N0} owed, {at.TotalSeconds:0.0} s");
            var quiet = moved > 0 && moved == lastMoved && owed == 0;
            lastMoved = moved;
            if (quiet && (lastStatus is null || clock.Elapsed - lastStatus >= StatusPoll))
            {
                lastStatus = clock.Elapsed;
                var (done, held, problem) = await CheckAsync(running, expected);
                if (done)
                {
                    return (at.TotalSeconds, firstHandoff, held);
                }

                problems = problem;
            }

            await Task.Delay(MetricsPoll);
        }

        throw new TimeoutException($"the handoff was not done {HandoffTimeout.TotalMinutes:0} min after {Joiner} was ready: {problems}");
    }

    /// <summary>Waits until every node meets <see cref="CheckAsync"/> (before the join: the three nodes hold every record).</summary>
    private async Task WaitUntilAsync(SocketPushClusterSystem.Running running, Dictionary<string, (int Users, int Sessions)> expected, TimeSpan timeout, string failure)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var (done, _, problem) = await CheckAsync(running, expected);
            if (done)
            {
                return;
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"{failure} within {timeout.TotalSeconds:0} s: {problem}");
            }

            log.Status("settling: " + problem);
            await Task.Delay(StatusPoll);
        }
    }

    /// <summary>Whether every node sees all members alive with the ring agreed, has nothing to hand off or repair, and holds the records expected of it.</summary>
    private static async Task<(bool Done, string Held, string Problem)> CheckAsync(SocketPushClusterSystem.Running running, Dictionary<string, (int Users, int Sessions)> expected)
    {
        var statuses = await Task.WhenAll(running.Members.Select(n => SocketPushClusterSystem.Running.StatusAsync(n, CancellationToken.None)));
        var problems = new List<string>();
        var held = new List<string>();
        foreach (var (node, status) in running.Members.Zip(statuses))
        {
            var alive = status.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("state").GetString() == "alive");
            var records = status.GetProperty("records");
            var (users, sessions) = (records.GetProperty("users").GetInt32(), records.GetProperty("sessions").GetInt32());
            var pending = status.GetProperty("pendingHandoff").GetInt32();
            var replication = status.GetProperty("replication");
            var under = replication.GetProperty("keysUnderReplicated").GetInt32();
            var missing = replication.GetProperty("missingCopies").GetInt32();
            var want = expected[node.NodeId];
            held.Add($"{node.NodeId} {users}/{want.Users} users, {sessions}/{want.Sessions} sessions");
            if (alive != running.Members.Count || !status.GetProperty("ringAgreed").GetBoolean() || pending != 0 || under != 0 || missing != 0
                || users != want.Users || sessions != want.Sessions)
            {
                problems.Add($"{node.NodeId}: {alive} alive, ring agreed {status.GetProperty("ringAgreed")}, pendingHandoff {pending}, keysUnderReplicated {under}, "
                    + $"missingCopies {missing}, users {users}/{want.Users}, sessions {sessions}/{want.Sessions}");
            }
        }

        return (problems.Count == 0, "held (of expected): " + string.Join("; ", held), string.Join("; ", problems));
    }

    /// <summary>
    /// Runs <paramref name="measure"/> on three freshly started nodes with the given cluster.writeQuorum; a failure becomes the
    /// status (with the nodes' last output in the errors); every node started is stopped either way.
    /// </summary>
    private async Task OnClusterAsync(int? writeQuorum, List<string> errors, Action<string> status, Func<SocketPushClusterSystem.Running, Task> measure)
    {
        SocketPushClusterSystem.Running? running = null;
        try
        {
            running = await cluster.StartClusterAsync(writeQuorum, CancellationToken.None);
            await measure(running);
        }
        catch (Exception e)
        {
            status("failed: " + e.Message.Split('\n')[0]);
            errors.Add(e.ToString());
            if (running is not null)
            {
                errors.Add("server output:\n" + string.Join('\n', running.Output.Split('\n').TakeLast(60)));
            }

            log.Line($"    FAILED: {e.Message}");
        }
        finally
        {
            if (running is not null)
            {
                await running.DisposeAsync();
            }
        }
    }

    /// <summary>Latency of the measured calls: all, and per method.</summary>
    private sealed class Histograms
    {
        public LatencyHistogram All { get; } = new();

        public LatencyHistogram AuthSet { get; } = new();

        public LatencyHistogram Subscribe { get; } = new();

        public void Record(bool authSet, long microseconds)
        {
            All.Record(microseconds);
            (authSet ? AuthSet : Subscribe).Record(microseconds);
        }
    }
}
