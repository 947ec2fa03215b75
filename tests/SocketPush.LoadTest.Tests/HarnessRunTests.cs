using SocketPush.LoadTest.Clients;
using SocketPush.LoadTest.Systems;
using SocketPush.LoadTest.Workers;
using SocketPush.Testing;

namespace SocketPush.LoadTest.Tests;

/// <summary>
/// The harness against a real SocketPush node process: 100 connections over two client processes, and the
/// counts the harness measured agree with the node's own /metrics. Figures (latency, CPU) are not asserted.
/// </summary>
public sealed class HarnessRunTests
{
    private const int Connections = 100;

    [Fact]
    public async Task Fan_out_run_completes_and_its_counts_agree_with_the_node_metrics()
    {
        var result = await MeasureAsync(Scenarios.FanOut, Transports.WebSocket);

        Assert.Equal("ok", result.Status);
        Assert.Equal(Connections, result.Connected);
        Assert.Equal(0, result.ConnectFailures);
        Assert.True(result.Publishes > 0);
        Assert.Equal(0, result.PublishFailures);
        Assert.Equal(result.Publishes * Connections, result.ExpectedDeliveries);
        Assert.Equal(result.ExpectedDeliveries, result.Delivered);
        // Every delivery was timed: the histogram holds exactly the delivered messages.
        Assert.Equal(result.Delivered, result.Latency!.Count);
        // What the publish API answered, what the clients received and what the node counted are one number.
        Assert.Equal(result.Delivered, result.ServerReportedReceivers);
        Assert.Equal(result.Publishes + result.WarmupPublishes, Counter(result, "socketpush_messages_published_total{kind=\"channel\"}"));
        Assert.Equal(result.Delivered + result.WarmupDelivered, Counter(result, "socketpush_messages_delivered_total{kind=\"channel\"}"));
        Assert.Equal(0, Counter(result, "socketpush_messages_delivered_total{kind=\"user\"}"));
        Assert.Equal(Connections, Counter(result, "socketpush_connections{transport=\"websockets\"}"));
        Assert.Equal(0, result.DroppedConnections);
        Assert.True(result.ServerCpuSeconds >= 0);
    }

    [Fact]
    public async Task Users_run_delivers_one_message_per_user_as_the_node_counts_it()
    {
        var result = await MeasureAsync(Scenarios.Users, Transports.WebSocket);

        Assert.Equal("ok", result.Status);
        Assert.Equal(Connections, result.Connected);
        Assert.Equal(Connections, result.Publishes);
        Assert.Equal(Connections, result.Delivered);
        Assert.Equal(Connections, result.ServerReportedReceivers);
        Assert.Equal(result.Publishes + result.WarmupPublishes, Counter(result, "socketpush_messages_published_total{kind=\"user\"}"));
        Assert.Equal(result.Delivered + result.WarmupDelivered, Counter(result, "socketpush_messages_delivered_total{kind=\"user\"}"));
        Assert.Equal(0, Counter(result, "socketpush_messages_delivered_total{kind=\"channel\"}"));
    }

    [Fact]
    public async Task Plain_sse_fan_out_counts_agree_with_the_node_metrics()
    {
        var result = await MeasureAsync(Scenarios.FanOut, Transports.PlainSse);

        Assert.Equal("ok", result.Status);
        Assert.Equal(Connections, result.Connected);
        Assert.Equal(result.Publishes * Connections, result.Delivered);
        Assert.Equal(result.Delivered + result.WarmupDelivered, Counter(result, "socketpush_messages_delivered_total{kind=\"channel\"}"));
        Assert.Equal(Connections, Counter(result, "socketpush_connections{transport=\"sse\"}"));
    }

    [Fact]
    public async Task Tls_fan_out_run_connects_over_wss_and_its_counts_agree_with_the_node_metrics()
    {
        // The node serves this certificate on its client port only; the client processes trust it by its file.
        using var certificate = TestCertificate.Create("socketpush-bench-test");
        var system = new SocketPushSystem(Repository.NodeDll, new Dictionary<string, string>(), "test", certificate);
        await using (var server = await system.StartAsync(CancellationToken.None))
        {
            Assert.StartsWith("https://", server.ClientUrl, StringComparison.Ordinal);
            Assert.Equal(certificate.CertificatePath, server.TrustedCertificate);
        }

        var result = await MeasureAsync(Scenarios.FanOut, Transports.WebSocket, system);

        Assert.Equal(Connections, result.Connected);
        Assert.Equal(0, result.ConnectFailures);
        Assert.True(result.Publishes > 0);
        Assert.Equal(result.Publishes * Connections, result.Delivered);
        // Publishing went to the plain admin port and was counted there like any other.
        Assert.Equal(result.Delivered, result.ServerReportedReceivers);
        Assert.Equal(result.Delivered + result.WarmupDelivered, Counter(result, "socketpush_messages_delivered_total{kind=\"channel\"}"));
        Assert.Equal(Connections, Counter(result, "socketpush_connections{transport=\"websockets\"}"));
    }

    [Fact]
    public async Task Cluster_latency_run_delivers_on_the_receivers_owner_only()
    {
        // Three nodes: publishes on n1, the channel on n2, 20 receivers owned by and connected to n3.
        var options = Options(20);
        options.ScenarioNames = [Scenarios.Cluster];
        options.ClusterReceivers = 20;
        options.ClusterPublishRate = 20;
        options.ClusterFanOut = [];
        var one = new SocketPushSystem(Repository.NodeDll, new Dictionary<string, string>(), "test");
        var coordinator = new Coordinator(options, new ProgressLog());
        var run = coordinator.Plan([one, new SocketPushClusterSystem(one)])
            .Single(r => r.System.Name == SystemNames.SocketPushCluster && r.Comparison == ClusterComparison.ChannelLatency);
        await using var workers = WorkerPool.Start(options.Workers);

        var result = await coordinator.MeasureAsync(run, workers);

        Assert.True(result.Status == "ok", $"{result.Status}\n{string.Join("\n", result.Errors)}");
        Assert.Equal(3, result.Nodes);
        Assert.Equal(20, result.Connected);
        Assert.Equal(20, result.Publishes);
        Assert.Equal(result.Publishes * 20, result.Delivered);
        Assert.Contains("c:bench owned by n2", result.Placement, StringComparison.Ordinal);
        Assert.Contains("n1 0, n2 0, n3 20", result.Placement, StringComparison.Ordinal);
        Assert.Equal(result.Delivered + result.WarmupDelivered, Counter(result, "n3 socketpush_messages_delivered_total{kind=\"channel\"}"));
        Assert.Equal(0, Counter(result, "n1 socketpush_messages_delivered_total{kind=\"channel\"}"));
        Assert.Equal(0, Counter(result, "n2 socketpush_messages_delivered_total{kind=\"channel\"}"));
        Assert.Equal(20, Counter(result, "n3 socketpush_connections{transport=\"websockets\"}"));
    }

    [Fact]
    public async Task Stalled_set_measures_the_same_readers_with_and_without_clients_that_never_read()
    {
        var options = RunOptions.Parse(["--stalled", "20", "--n", "60", "--repeat", "1", "--max-queued", "4096"]);
        Assert.Equal([Scenarios.Stalled], options.ScenarioNames);
        Assert.Equal([SystemNames.SocketPush], options.Systems);
        options.Workers = 2;
        options.ConnectConcurrency = 20;
        options.DeliveryRate = 1_200;
        options.PublishSeconds = 1;
        options.SourceAddresses = 2;
        options.SettleMemory = false;
        var system = new SocketPushSystem(Repository.NodeDll, new Dictionary<string, string>(), "test", maxQueued: options.MaxQueued);
        var coordinator = new Coordinator(options, new ProgressLog());
        var plan = coordinator.Plan([system]);
        Assert.Equal([0, 20], plan.Select(r => r.Stalled).Order());
        Assert.All(plan, r => Assert.Equal((40, 20.0), (r.Users!.Count, r.PublishesPerSecond!.Value)));
        await using var workers = WorkerPool.Start(options.Workers);

        var result = await coordinator.MeasureAsync(plan.Single(r => r.Stalled == 20), workers);

        Assert.True(result.Status == "ok", $"{result.Status}\n{string.Join("\n", result.Errors)}");
        Assert.Equal((40, 20), (result.Connected, result.Stalled));
        Assert.True(result.Publishes > 0);
        Assert.Equal(result.Publishes * 40, result.Delivered);
        Assert.Equal(result.Delivered, result.Latency!.Count);
        // A few hundred small messages fit the stalled sockets' buffers and a queue of 4,096: none is closed, and
        // the publish API counts them as receivers too.
        Assert.Equal(0, result.SlowConsumersClosed);
        Assert.Equal(0, Counter(result, Coordinator.SlowConsumersMetric));
        Assert.Equal(result.Publishes * 60, result.ServerReportedReceivers);
        Assert.Equal(60, Counter(result, "socketpush_connections{transport=\"websockets\"}"));
        var report = Report.Markdown(new ResultsFile { Runs = [result] }, "chart.png");
        Assert.Contains("## stalled clients", report, StringComparison.Ordinal);
        Assert.Contains("| 60 | 20 | 40 |", report, StringComparison.Ordinal);
    }

    private static double Counter(RunResult result, string sample)
    {
        Assert.True(result.ServerCounters.TryGetValue(sample, out var value), $"/metrics has no sample {sample}: {string.Join(", ", result.ServerCounters.Keys)}");
        return value;
    }

    private static RunOptions Options(int connections) => new()
    {
        Sizes = [connections],
        Workers = 2,
        ConnectConcurrency = 20,
        // At 100 connections: 20 publishes of 100 deliveries each in one second, a short run, still enough to count.
        DeliveryRate = 2_000,
        UserPublishRate = 500,
        PublishSeconds = 1,
        SourceAddresses = 2,
        SettleMemory = false,
    };

    private static async Task<RunResult> MeasureAsync(string scenario, string transport, SocketPushSystem? system = null)
    {
        var options = Options(Connections);
        system ??= new SocketPushSystem(Repository.NodeDll, new Dictionary<string, string>(), "test");
        var coordinator = new Coordinator(options, new ProgressLog());
        await using var workers = WorkerPool.Start(options.Workers);
        var result = await coordinator.MeasureAsync(new Coordinator.PlannedRun(system, transport, scenario, Connections), workers);
        Assert.True(result.Status == "ok", $"{result.Status}\n{string.Join("\n", result.Errors)}");
        return result;
    }
}
