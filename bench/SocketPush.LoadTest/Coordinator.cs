using System.Diagnostics;
using System.Globalization;
using SocketPush.LoadTest.Clients;
using SocketPush.LoadTest.PeerTraffic;
using SocketPush.LoadTest.Systems;
using SocketPush.LoadTest.Workers;

namespace SocketPush.LoadTest;

/// <summary>Runs every planned measurement, one server at a time, with the same client processes for all.</summary>
internal sealed class Coordinator(RunOptions options, ProgressLog log)
{
    public const string FanOutChannel = "bench";
    public const string SlowConsumersMetric = "socketpush_slow_consumers_closed_total";
    private const int WarmupRounds = 40;
    private static readonly TimeSpan QuietDrain = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan MaxDrain = TimeSpan.FromSeconds(60);

    /// <summary>One measurement; the cluster set chooses its audience, rate and count, otherwise they follow from the scenario and N.</summary>
    public sealed record PlannedRun(ISystemUnderTest System, string Transport, string Scenario, int N)
    {
        /// <summary>The users that connect, one connection each (default u0 ... u{N-1}).</summary>
        public IReadOnlyList<string>? Users { get; init; }

        /// <summary>The fan-out's channel (default <see cref="FanOutChannel"/>).</summary>
        public string? Channel { get; init; }

        /// <summary>Publishes per second (default: fan-out --delivery-rate / N; users --user-rate).</summary>
        public double? PublishesPerSecond { get; init; }

        /// <summary>Publishes in all (default: fan-out rate × --duration; users one per user), cycling over the users.</summary>
        public int? Publishes { get; init; }

        /// <summary>The cluster comparison this run is one side of (<see cref="ClusterComparison"/>), or null.</summary>
        public string? Comparison { get; init; }

        /// <summary>Subscribers besides <see cref="Users"/> that connect and never read (the stalled set).</summary>
        public int Stalled { get; init; }

        /// <summary>The history set: "off" or "on", as the system's config has it.</summary>
        public string? History { get; init; }

        /// <summary>The history set: its round.</summary>
        public int Round { get; init; }
    }

    public async Task<ResultsFile> RunAsync(IReadOnlyList<ISystemUnderTest> systems, Action<ResultsFile> checkpoint)
    {
        var results = new ResultsFile
        {
            Started = DateTimeOffset.Now,
            Command = options.CommandLine,
            Machine = Machine.Describe(),
            Settings = Settings(),
        };
        var plan = Plan(systems);
        var perProcess = plan.Select(r => r.N).DefaultIfEmpty(0).Max() / options.Workers + 256;
        if (results.Machine.OpenFilesLimit < perProcess)
        {
            log.Line($"warning: open files limit {results.Machine.OpenFilesLimit} < {perProcess} needed per client process; add --workers");
        }

        log.Line($"{plan.Count} measurements; {options.Workers} client processes; load average {results.Machine.LoadAverageBefore}");
        if (plan.Count > 0)
        {
            await RunPlanAsync(systems, plan, results, checkpoint);
        }

        if (options.ScenarioNames.Contains(Scenarios.Replicas))
        {
            var cluster = systems.OfType<SocketPushClusterSystem>().Single();
            results.Versions[cluster.Name] = cluster.Version;
            await new ReplicaBench(options, log, cluster).RunAsync(results, checkpoint);
        }

        if (options.ScenarioNames.Contains(Scenarios.PeerPath))
        {
            await new PeerPathBench(options, log).RunAsync(results, checkpoint);
        }

        if (options.ScenarioNames.Contains(Scenarios.History))
        {
            var one = systems.OfType<SocketPushSystem>().Single();
            results.Versions[one.Name] = one.Version;
            await new HistoryBench(options, log, this, one).RunAsync(results, checkpoint);
        }

        results.Finished = DateTimeOffset.Now;
        results.Machine.LoadAverageAfter = Machine.LoadAverage();
        return results;
    }

    private async Task RunPlanAsync(IReadOnlyList<ISystemUnderTest> systems, List<PlannedRun> plan, ResultsFile results, Action<ResultsFile> checkpoint)
    {
        await using var workers = WorkerPool.Start(options.Workers);
        for (var i = 0; i < plan.Count; i++)
        {
            var run = plan[i];
            log.Line($"[{i + 1}/{plan.Count}] {run.System.Name} {run.Transport} {run.Scenario} N={run.N:N0}");
            var result = await MeasureAsync(run, workers);
            results.Runs.Add(result);
            foreach (var s in systems)
            {
                results.Versions[s.Name] = s.Version;
            }

            log.Line($"    {Summary(result)}");
            checkpoint(results);
        }
    }

    /// <summary>
    /// Sizes outermost, then scenarios; inside each scenario the systems take turns, and the first system
    /// changes from one group to the next, so that a load spike on the shared machine does not always hit the same one.
    /// </summary>
    public List<PlannedRun> Plan(IReadOnlyList<ISystemUnderTest> systems)
    {
        var plan = new List<PlannedRun>();
        var group = 0;
        var chosen = systems.Where(s => options.Systems.Contains(s.Name)).ToList();
        foreach (var n in options.Sizes)
        {
            foreach (var scenario in options.ScenarioNames.Where(Scenarios.All.Contains))
            {
                plan.AddRange(Rotated(chosen, group++).Select(s => new PlannedRun(s, Transports.WebSocket, scenario, n)));
                if (scenario == Scenarios.FanOut && options.AllTransports)
                {
                    plan.AddRange(chosen.SelectMany(s => s.FanOutTransports.Where(t => t != Transports.WebSocket).Select(t => new PlannedRun(s, t, scenario, n))));
                }
            }
        }

        if (options.ScenarioNames.Contains(Scenarios.Cluster))
        {
            plan.AddRange(ClusterPlan(systems));
        }

        if (options.ScenarioNames.Contains(Scenarios.Stalled))
        {
            plan.AddRange(StalledPlan(systems));
        }

        return plan;
    }

    /// <summary>
    /// The stalled set: at each N, the fan-out to the same N - K reading clients at the same rate (--delivery-rate / N),
    /// once with K more subscribers that stop reading and once without, --repeat times, the side that goes first alternating.
    /// </summary>
    private IEnumerable<PlannedRun> StalledPlan(IReadOnlyList<ISystemUnderTest> systems)
    {
        var one = systems.Single(s => s.Name == SystemNames.SocketPush);
        foreach (var n in options.Sizes)
        {
            var readers = BenchUsers.Range(n - options.StalledClients);
            var without = new PlannedRun(one, Transports.WebSocket, Scenarios.Stalled, n)
            {
                Users = readers, Channel = FanOutChannel, PublishesPerSecond = Math.Max(1.0, options.DeliveryRate / (double)n),
            };
            for (var i = 0; i < options.Repeat; i++)
            {
                foreach (var run in Rotated([without, without with { Stalled = options.StalledClients }], i))
                {
                    yield return run;
                }
            }
        }
    }

    /// <summary>
    /// The cluster set: each measurement once on one node and once on three, same users, channel, rate and
    /// clients. Latency: publish on n1, channel owned by n2, receivers owned by (and connected to) n3; user.publish
    /// on n1 for users of n3. Fan-out: one channel (owned by n2), N subscribers on their owners, publishes on n1.
    /// </summary>
    private List<PlannedRun> ClusterPlan(IReadOnlyList<ISystemUnderTest> systems)
    {
        var one = systems.Single(s => s.Name == SystemNames.SocketPush);
        var three = systems.Single(s => s.Name == SystemNames.SocketPushCluster);
        var placement = ClusterPlacement.Default;
        var channel = placement.ChannelOwnedBy(ClusterPlacement.ChannelOwner);
        var receivers = placement.UsersOwnedBy(ClusterPlacement.ReceiverOwner, options.ClusterReceivers);
        var rate = options.ClusterPublishRate;
        var count = (int)Math.Ceiling(rate * options.PublishSeconds);
        var cases = new List<PlannedRun>
        {
            new(one, Transports.WebSocket, Scenarios.FanOut, receivers.Count)
            {
                Users = receivers, Channel = channel, PublishesPerSecond = rate, Publishes = count, Comparison = ClusterComparison.ChannelLatency,
            },
            new(one, Transports.WebSocket, Scenarios.Users, receivers.Count)
            {
                Users = receivers, PublishesPerSecond = rate, Publishes = count, Comparison = ClusterComparison.UserLatency,
            },
        };
        cases.AddRange(options.ClusterFanOut.Select(n => new PlannedRun(one, Transports.WebSocket, Scenarios.FanOut, n) { Channel = channel, Comparison = ClusterComparison.FanOut }));
        return [.. cases.SelectMany((c, i) => Rotated([c, c with { System = three }], i))];
    }

    /// <summary>The list starting at a different item from one group to the next, so that a load spike on the shared machine does not always hit the same one.</summary>
    internal static IEnumerable<T> Rotated<T>(List<T> items, int group) =>
        items.Skip(group % items.Count).Concat(items.Take(group % items.Count));

    public async Task<RunResult> MeasureAsync(PlannedRun run, WorkerPool workers)
    {
        var result = new RunResult
        {
            System = run.System.Name, Transport = run.Transport, Scenario = run.Scenario, N = run.N, Comparison = run.Comparison, History = run.History, Round = run.Round,
        };
        await OnServerAsync(() => run.System.StartAsync(CancellationToken.None), server => MeasureOnAsync(server, run, workers, result), workers, s => result.Status = s, result.Errors);
        return result;
    }

    /// <summary>
    /// Starts a server and measures on it; a failure becomes the status ("failed: ...") and the errors (with the server's
    /// last output); the clients are closed and the server stopped either way.
    /// </summary>
    internal async Task OnServerAsync<TServer>(Func<Task<TServer>> start, Func<TServer, Task> measure, WorkerPool workers, Action<string> setStatus, List<string> errors)
        where TServer : RunningServer
    {
        TServer? server = null;
        try
        {
            server = await start();
            await measure(server);
        }
        catch (Exception e)
        {
            setStatus("failed: " + e.Message.Split('\n')[0]);
            errors.Add(e.ToString());
            if (server is not null)
            {
                errors.Add("server output:\n" + Tail(server.Output, 40));
            }

            log.Line($"    FAILED: {e.Message}");
        }
        finally
        {
            try
            {
                await workers.CloseAsync();
            }
            catch (Exception e)
            {
                log.Line($"    closing clients: {e.Message}");
            }

            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }
    }

    private async Task MeasureOnAsync(RunningServer server, PlannedRun run, WorkerPool workers, RunResult result)
    {
        var users = run.Users ?? BenchUsers.Range(run.N);
        var channel = run.Scenario is Scenarios.FanOut or Scenarios.Stalled ? run.Channel ?? FanOutChannel : null;
        var prepare = Stopwatch.StartNew();
        await server.PrepareUsersAsync(users, channel, done => log.Status($"backend calls for {done:N0}/{users.Count:N0} users"), CancellationToken.None);
        result.PrepareSeconds = prepare.Elapsed.TotalSeconds;
        result.Nodes = server.Nodes;
        result.Placement = await server.VerifyPlacementAsync(users, channel, CancellationToken.None);
        if (server.Nodes > 1)
        {
            log.Line($"    placement checked: {result.Placement}");
        }

        // Users the readers never use ("stalled0" ...), subscribed like them, connected from this process.
        var stalledUsers = Enumerable.Range(0, run.Stalled).Select(i => "stalled" + i.ToString(CultureInfo.InvariantCulture)).ToList();
        if (stalledUsers.Count > 0)
        {
            await server.PrepareUsersAsync(stalledUsers, channel, done => log.Status($"backend calls for {done:N0}/{stalledUsers.Count:N0} stalled users"), CancellationToken.None);
        }

        var pids = server.ProcessIds();
        var baseline = await SettleAsync(pids);
        await using var stalled = stalledUsers.Count > 0
            ? await StalledClients.OpenAsync(new Uri(server.ClientUrl), stalledUsers, BenchUsers.SessionOf, options.ConnectConcurrency)
            : null;
        result.Stalled = stalled?.Count ?? 0;
        if (stalled is not null)
        {
            log.Line($"    {stalled.Count:N0} stalled clients connected; they read nothing from now on");
        }

        result.BaselinePssKb = baseline.PssKb;
        result.BaselineRssKb = baseline.RssKb;

        var outcome = await workers.ConnectAsync(
            run.System.Name, run.Transport, users, server.ClientUrlOf, channel, options.ConnectConcurrency, options.SignalRClient, SourceAddresses(),
            (attempted, up, failed) => log.Status($"connecting: {up:N0} up, {failed:N0} failed, {attempted:N0}/{users.Count:N0} attempted"),
            server.TrustedCertificate);
        result.Connected = outcome.Up;
        result.ConnectFailures = outcome.Failed;
        result.ConnectSeconds = outcome.Seconds;
        result.ConnectsPerSecond = outcome.Up / outcome.Seconds;
        result.Errors.AddRange(outcome.Errors);
        log.Line($"    {outcome.Up:N0} connected in {outcome.Seconds:0.0} s ({result.ConnectsPerSecond:N0}/s), {outcome.Failed:N0} failed");
        if (outcome.Up == 0)
        {
            throw new InvalidOperationException("no connection came up: " + string.Join("; ", outcome.Errors));
        }

        pids = server.ProcessIds();
        var connected = await SettleAsync(pids);
        result.ServerProcesses = connected.Processes;
        result.ConnectedPssKb = connected.PssKb;
        result.ConnectedRssKb = connected.RssKb;
        result.PssKbPerConnection = (connected.PssKb - baseline.PssKb) / (double)outcome.Up;
        result.RssKbPerConnection = (connected.RssKb - baseline.RssKb) / (double)outcome.Up;

        if (run.Scenario == Scenarios.Idle)
        {
            await using var diagnostics = options.TraceDirectory is not null && run.System.Name == SystemNames.SocketPush
                ? DotNetDiagnostics.Start(server.RootPid, options.TraceDirectory, $"{run.System.Name}-{run.Transport}-{run.Scenario}-{run.N}", TimeSpan.FromSeconds(5), log, heapDump: true)
                : null;
            var before = ProcStats.Sample(pids);
            var clock = Stopwatch.StartNew();
            await Task.Delay(TimeSpan.FromSeconds(5));
            result.IdleCpuPercent = (ProcStats.Sample(pids).CpuSeconds - before.CpuSeconds) / clock.Elapsed.TotalSeconds * 100;
            var (_, _, dropped) = await workers.CountAsync();
            result.DroppedConnections = dropped;
            return;
        }

        result.WarmupPublishes = await WarmUpAsync(server, run, users, channel, workers, outcome.Up);
        await workers.ResetAsync();
        await PublishAndMeasureAsync(server, run, users, channel, workers, pids, outcome.Up, result);
    }

    /// <summary>The clients' source addresses: 127.0.0.2 ... (--source-addresses), or 127.0.0.1 alone.</summary>
    internal string[] SourceAddresses() => options.SourceAddresses == 1
        ? ["127.0.0.1"]
        : [.. Enumerable.Range(2, options.SourceAddresses).Select(i => "127.0.0." + i.ToString(CultureInfo.InvariantCulture))];

    /// <summary>
    /// Publishes unmeasured messages until every connection has received one: that proves each is
    /// subscribed (some servers finish a subscription after the handshake answer) and warms the code paths.
    /// </summary>
    internal async Task<long> WarmUpAsync(RunningServer server, PlannedRun run, IReadOnlyList<string> users, string? channel, WorkerPool workers, int up)
    {
        long seen = 0;
        long published = 0;
        for (var round = 0; round < WarmupRounds; round++)
        {
            if (channel is not null)
            {
                await server.PublishChannelAsync(channel, -1, warmup: true, CancellationToken.None);
                published++;
            }
            else
            {
                await Parallel.ForEachAsync(users, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (user, ct) =>
                    await server.PublishUserAsync(user, -1, warmup: true, ct));
                published += users.Count;
            }

            var waited = Stopwatch.StartNew();
            while (waited.Elapsed < TimeSpan.FromSeconds(channel is not null ? 1 : 5))
            {
                (_, seen, _) = await workers.CountAsync();
                if (seen >= up)
                {
                    return published;
                }

                await Task.Delay(100);
            }

            log.Status($"warm-up: {seen:N0}/{up:N0} connections reached");
            if (run.Scenario == Scenarios.Users && round >= 2)
            {
                break;
            }
        }

        log.Line($"    warm-up reached {seen:N0} of {up:N0} connections; measuring anyway");
        return published;
    }

    private async Task PublishAndMeasureAsync(
        RunningServer server, PlannedRun run, IReadOnlyList<string> users, string? channel, WorkerPool workers, IReadOnlyList<int> pids, int up, RunResult result)
    {
        var fanOut = channel is not null;
        var rate = run.PublishesPerSecond ?? (fanOut ? Math.Max(1.0, options.DeliveryRate / (double)run.N) : options.UserPublishRate);
        var count = run.Publishes ?? (fanOut ? (int)Math.Ceiling(rate * options.PublishSeconds) : run.N);
        result.OfferedPublishesPerSecond = rate;

        var machine0 = Machine.BusyCpuSeconds();
        var server0 = ProcStats.Sample(pids);
        var clients0 = ProcStats.Sample(workers.Pids).CpuSeconds;
        var self0 = ProcStats.SelfCpuSeconds();
        var clock = Stopwatch.StartNew();
        long reported = 0, failures = 0, sent = 0;
        var errors = new List<string>();

        async Task PublishOne(long i)
        {
            try
            {
                var receivers = channel is not null
                    ? await server.PublishChannelAsync(channel, i, warmup: false, CancellationToken.None)
                    : await server.PublishUserAsync(users[(int)(i % users.Count)], i, warmup: false, CancellationToken.None);
                Interlocked.Add(ref reported, Math.Max(0, receivers));
                Interlocked.Increment(ref sent);
            }
            catch (Exception e)
            {
                if (Interlocked.Increment(ref failures) <= 3)
                {
                    lock (errors)
                    {
                        errors.Add("publish: " + e.Message);
                    }
                }
            }
        }

        await using var diagnostics = options.TraceDirectory is not null && run.System.Name == SystemNames.SocketPush
            ? DotNetDiagnostics.Start(server.RootPid, options.TraceDirectory, $"{run.System.Name}-{run.Transport}-{run.Scenario}-{run.N}", TimeSpan.FromSeconds(Math.Max(3, count / rate)), log)
            : null;
        var publishing = PacedAsync(count, rate, fanOut ? 16 : 64, PublishOne);
        while (!publishing.IsCompleted)
        {
            await Task.WhenAny(publishing, Task.Delay(500));
            var (received, _, _) = await workers.CountAsync();
            log.Status($"publishing: {Interlocked.Read(ref sent):N0}/{count:N0} published, {received:N0} delivered");
        }

        await publishing;
        // Users: one delivery per publish, if every user is connected (else at most one per connected user, as when each is published once).
        var expected = fanOut ? Interlocked.Read(ref sent) * up : up == users.Count ? Interlocked.Read(ref sent) : Math.Min(Interlocked.Read(ref sent), up);
        var delivered = await DrainAsync(workers, expected);
        var seconds = clock.Elapsed.TotalSeconds - delivered.IdleTail.TotalSeconds;
        var server1 = ProcStats.Sample(pids);
        var clients1 = ProcStats.Sample(workers.Pids).CpuSeconds;
        var self1 = ProcStats.SelfCpuSeconds();
        var machine1 = Machine.BusyCpuSeconds();

        var reports = await workers.ReportAsync();
        var histogram = new LatencyHistogram();
        foreach (var r in reports)
        {
            histogram.AddSparse(r.Histogram);
        }

        var total = reports.Sum(r => r.Received);
        result.WarmupDelivered = reports.Sum(r => r.WarmupReceived);
        result.ServerCounters = await StableCountersAsync(server);
        result.SlowConsumersClosed = result.ServerCounters.GetValueOrDefault(SlowConsumersMetric);
        result.Publishes = Interlocked.Read(ref sent);
        result.PublishFailures = Interlocked.Read(ref failures);
        result.ExpectedDeliveries = expected;
        result.Delivered = total;
        result.ServerReportedReceivers = Interlocked.Read(ref reported);
        result.MeasureSeconds = seconds;
        result.DeliveriesPerSecond = total / seconds;
        result.Latency = LatencySummary.From(histogram, total);
        result.ServerCpuSeconds = server1.CpuSeconds - server0.CpuSeconds;
        result.ServerCpuMicrosecondsPerDelivery = total == 0 ? double.NaN : result.ServerCpuSeconds * 1e6 / total;
        result.ClientCpuMicrosecondsPerDelivery = total == 0 ? double.NaN : (clients1 - clients0) * 1e6 / total;
        var wall = clock.Elapsed.TotalSeconds;
        result.OtherLoadCores = Math.Max(0, ((machine1 - machine0) - result.ServerCpuSeconds - (clients1 - clients0) - (self1 - self0)) / wall);
        result.DroppedConnections = reports.Sum(r => r.Dropped);
        result.Errors.AddRange(errors);
        result.Errors.AddRange(reports.SelectMany(r => r.Errors).Distinct().Take(8));
        if (total < expected)
        {
            result.Status = $"ok, {expected - total:N0} of {expected:N0} deliveries missing";
        }
        else if (result.PublishFailures > 0)
        {
            // A failed answer need not mean a lost publish: a forwarded call that times out may still have been delivered.
            result.Status = $"ok, {result.PublishFailures:N0} publish requests failed ({total:N0} delivered, {expected:N0} expected from the successful ones)";
        }
    }

    private async Task<(long Received, TimeSpan IdleTail)> DrainAsync(WorkerPool workers, long expected)
    {
        var clock = Stopwatch.StartNew();
        var lastChange = clock.Elapsed;
        long last = -1;
        while (true)
        {
            var (received, _, _) = await workers.CountAsync();
            if (received >= expected)
            {
                return (received, TimeSpan.Zero);
            }

            if (received != last)
            {
                last = received;
                lastChange = clock.Elapsed;
            }
            else if (clock.Elapsed - lastChange > QuietDrain || clock.Elapsed > MaxDrain)
            {
                return (received, clock.Elapsed - lastChange);
            }

            log.Status($"draining: {received:N0}/{expected:N0} delivered");
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// The server's counters once two readings 100 ms apart agree (at most 5 s): a write that finished in the
    /// background is counted when its completion runs, which may be just after the client has the message.
    /// </summary>
    private static async Task<Dictionary<string, double>> StableCountersAsync(RunningServer server)
    {
        var clock = Stopwatch.StartNew();
        var last = await server.ReadCountersAsync(CancellationToken.None);
        while (clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(100);
            var next = await server.ReadCountersAsync(CancellationToken.None);
            if (next.Count == last.Count && next.All(kv => last.TryGetValue(kv.Key, out var v) && v == kv.Value))
            {
                return next;
            }

            last = next;
        }

        return last;
    }

    /// <summary>Starts action(i) for i = 0..count-1 at the given rate, with a bound on the calls in flight.</summary>
    internal static async Task PacedAsync(int count, double perSecond, int maxInFlight, Func<long, Task> action)
    {
        using var inFlight = new SemaphoreSlim(maxInFlight);
        var tasks = new List<Task>(count);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            var due = TimeSpan.FromSeconds(i / perSecond);
            var ahead = due - clock.Elapsed;
            if (ahead > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(ahead);
            }

            await inFlight.WaitAsync();
            var index = i;
            tasks.Add(Task.Run(async () =>
            {
                try
                {
                    await action(index);
                }
                finally
                {
                    inFlight.Release();
                }
            }));
        }

        await Task.WhenAll(tasks);
    }

    /// <summary>Samples memory until it stops moving (within 1 % over 2 s) or 10 s pass.</summary>
    private async Task<ProcSample> SettleAsync(IReadOnlyList<int> pids)
    {
        if (!options.SettleMemory)
        {
            return ProcStats.Sample(pids);
        }

        var samples = new List<ProcSample>();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            samples.Add(ProcStats.Sample(pids));
            if (samples.Count >= 5)
            {
                var recent = samples.TakeLast(5).Select(s => s.PssKb).ToList();
                if (recent.Max() - recent.Min() <= recent[^1] / 100 || clock.Elapsed > TimeSpan.FromSeconds(10))
                {
                    return samples[^1];
                }
            }

            await Task.Delay(500);
        }
    }

    private Dictionary<string, string> Settings() => new()
    {
        ["sizes"] = string.Join(",", options.Sizes),
        ["deliveryRate"] = options.DeliveryRate.ToString(CultureInfo.InvariantCulture),
        ["userPublishRate"] = options.UserPublishRate.ToString(CultureInfo.InvariantCulture),
        ["publishSeconds"] = options.PublishSeconds.ToString(CultureInfo.InvariantCulture),
        ["workers"] = options.Workers.ToString(CultureInfo.InvariantCulture),
        ["stalledClients"] = options.ScenarioNames.Contains(Scenarios.Stalled) ? options.StalledClients.ToString(CultureInfo.InvariantCulture) : "",
        ["repeat"] = options.ScenarioNames.Contains(Scenarios.Stalled) || History ? options.Repeat.ToString(CultureInfo.InvariantCulture) : "",
        ["crossRounds"] = History ? options.CrossRounds.ToString(CultureInfo.InvariantCulture) : "",
        ["failoverRate"] = History ? options.FailoverRate.ToString(CultureInfo.InvariantCulture) : "",
        ["failoverBefore"] = History ? options.FailoverBefore.ToString(CultureInfo.InvariantCulture) : "",
        ["failoverAfter"] = History ? options.FailoverAfter.ToString(CultureInfo.InvariantCulture) : "",
        ["maxQueuedMessagesPerConnection"] = options.MaxQueued?.ToString(CultureInfo.InvariantCulture) ?? "",
        ["socketSendBufferBytes"] = options.SendBuffer?.ToString(CultureInfo.InvariantCulture) ?? "",
        ["messageBytes"] = options.MessageBytes?.ToString(CultureInfo.InvariantCulture) ?? "",
        ["connectConcurrency"] = options.ConnectConcurrency.ToString(CultureInfo.InvariantCulture),
        ["sourceAddresses"] = options.SourceAddresses.ToString(CultureInfo.InvariantCulture),
        ["signalRClient"] = options.SignalRClient,
        ["tls"] = options.Tls ? "client port" : "",
        ["nchanWorkers"] = options.NchanWorkers,
        ["clusterReceivers"] = options.ScenarioNames.Contains(Scenarios.Cluster) ? options.ClusterReceivers.ToString(CultureInfo.InvariantCulture) : "",
        ["clusterPublishRate"] = options.ScenarioNames.Contains(Scenarios.Cluster) ? options.ClusterPublishRate.ToString(CultureInfo.InvariantCulture) : "",
        ["clusterFanOut"] = options.ScenarioNames.Contains(Scenarios.Cluster) ? string.Join(",", options.ClusterFanOut) : "",
        ["writeQuorums"] = options.ScenarioNames.Contains(Scenarios.Replicas) ? string.Join(",", options.WriteQuorums) : "",
        ["writeConcurrency"] = options.ScenarioNames.Contains(Scenarios.Replicas) ? options.WriteConcurrency.ToString(CultureInfo.InvariantCulture) : "",
        ["writeUsers"] = options.ScenarioNames.Contains(Scenarios.Replicas) ? options.WriteUsers.ToString(CultureInfo.InvariantCulture) : "",
        ["writeWarmupSeconds"] = options.ScenarioNames.Contains(Scenarios.Replicas) ? options.WriteWarmupSeconds.ToString(CultureInfo.InvariantCulture) : "",
        ["handoffUsers"] = options.ScenarioNames.Contains(Scenarios.Replicas) || PeerPath ? options.HandoffUsers.ToString(CultureInfo.InvariantCulture) : "",
        ["before"] = PeerPath ? options.Before : "",
        ["after"] = PeerPath ? options.After : "",
        ["peerBatchUsers"] = PeerPath ? options.PeerBatchUsers.ToString(CultureInfo.InvariantCulture) : "",
        ["peerPublishes"] = PeerPath ? options.PeerPublishes.ToString(CultureInfo.InvariantCulture) : "",
        ["peerPublishesPerWindow"] = PeerPath ? options.PeerPublishesPerWindow.ToString(CultureInfo.InvariantCulture) : "",
        ["peerRounds"] = PeerPath ? options.PeerRounds.ToString(CultureInfo.InvariantCulture) : "",
        ["antiEntropyRounds"] = PeerPath ? options.PeerAntiEntropyRounds.ToString(CultureInfo.InvariantCulture) : "",
        ["nodeEnvironment"] = string.Join(" ", options.NodeEnvironment.Select(kv => kv.Key + "=" + kv.Value)),
    };

    private bool PeerPath => options.ScenarioNames.Contains(Scenarios.PeerPath);

    private bool History => options.ScenarioNames.Contains(Scenarios.History);

    public static string Summary(RunResult r)
    {
        var text = $"{r.Status}; {r.Connected:N0} up, {r.PssKbPerConnection:0.0} KB/conn";
        if (r.Scenario == Scenarios.Idle)
        {
            return text + $", idle CPU {r.IdleCpuPercent:0.0}%";
        }

        return text + $", {r.Delivered:N0}/{r.ExpectedDeliveries:N0} delivered, {r.DeliveriesPerSecond:N0}/s, " +
            $"p50 {r.Latency?.P50Ms:0.00} p99 {r.Latency?.P99Ms:0.00} p99.9 {r.Latency?.P999Ms:0.00} ms, " +
            $"{r.ServerCpuMicrosecondsPerDelivery:0.00} µs CPU/delivery (clients {r.ClientCpuMicrosecondsPerDelivery:0.00}), other load {r.OtherLoadCores:0.00} cores";
    }

    private static string Tail(string text, int lines) => string.Join('\n', text.Split('\n').TakeLast(lines));
}
