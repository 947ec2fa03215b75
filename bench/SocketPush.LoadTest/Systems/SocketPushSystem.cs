using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using SocketPush.LoadTest.Clients;
using SocketPush.Testing;

namespace SocketPush.LoadTest.Systems;

/// <summary>
/// A SocketPush node started from its built binary, as one process with every port on loopback; with
/// <paramref name="tls"/>, its client port serves that certificate (the admin port stays plain);
/// <c>maxQueued</c> and <c>sendBuffer</c> set its options.maxQueuedMessagesPerConnection and options.socketSendBufferBytes
/// (null: the node's defaults).
/// </summary>
internal sealed partial class SocketPushSystem(
    string nodeDll, IReadOnlyDictionary<string, string> environment, string version, TestCertificate? tls = null, int? maxQueued = null, int? sendBuffer = null)
    : ISystemUnderTest
{
    public string Name => SystemNames.SocketPush;

    public string Version => version;

    public IReadOnlyList<string> FanOutTransports { get; } =
        [Transports.WebSocket, Transports.ServerSentEvents, Transports.LongPolling, Transports.PlainSse];

    public async Task<RunningServer> StartAsync(CancellationToken cancellationToken) => await StartNodeAsync("bench", [], cancellationToken);

    /// <summary>
    /// One node process with every port on loopback (chosen by the system), joining through the given seeds;
    /// <paramref name="writeQuorum"/> sets cluster.writeQuorum (null: the node's default).
    /// </summary>
    public async Task<Node> StartNodeAsync(string nodeId, IReadOnlyList<string> seeds, CancellationToken cancellationToken, int? writeQuorum = null)
    {
        if (!File.Exists(nodeDll))
        {
            throw new FileNotFoundException($"SocketPush node not built: {nodeDll} (dotnet build -c Release node/SocketPush.Node)");
        }

        var directory = Directory.CreateTempSubdirectory("socketpush-bench-");
        var config = Path.Combine(directory.FullName, "config.yml");
        await File.WriteAllTextAsync(config, ConfigYaml(writeQuorum), cancellationToken);
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = directory.FullName,
            ArgumentList = { nodeDll, "--config", config, "--node-id", nodeId, "--client-port", "0", "--admin-port", "0", "--cluster-port", "0" },
        };
        if (seeds.Count > 0)
        {
            start.ArgumentList.Add("--seeds");
            start.ArgumentList.Add(string.Join(',', seeds));
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        ServerProcess process;
        string? ready;
        try
        {
            (process, ready) = await ServerProcess.StartAsync(start, l => l.StartsWith("SOCKETPUSH READY", StringComparison.Ordinal), TimeSpan.FromSeconds(90));
        }
        catch
        {
            ServerProcess.DeleteScratch(directory);
            throw;
        }

        var match = ReadyLine().Match(ready ?? "");
        if (!match.Success)
        {
            await process.DisposeAsync();
            ServerProcess.DeleteScratch(directory);
            throw new InvalidOperationException("unexpected ready line: " + ready);
        }

        return new Node(process, nodeId, match.Groups["client"].Value, match.Groups["admin"].Value, match.Groups["cluster"].Value, directory)
        {
            TrustedCertificate = tls?.CertificatePath,
        };
    }

    /// <summary>The version a results file names: the node's commit, if the repository says.</summary>
    public static string DescribeVersion(string repository)
    {
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", ["-C", repository, "rev-parse", "--short", "HEAD"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            var commit = git?.StandardOutput.ReadToEnd().Trim();
            git?.WaitForExit();
            return $"SocketPush {commit} on .NET {Environment.Version}";
        }
        catch (Exception)
        {
            return $"SocketPush on .NET {Environment.Version}";
        }
    }

    // Warnings only: every system logs nothing per connection during the measurement (nginx: access_log off).
    // The ring settings are the harness's own copy (ClusterPlacement), so that it picks ids the way the nodes place them.
    private string ConfigYaml(int? writeQuorum) => $$"""
        node:
          id: bench
          bindAddress: 127.0.0.1
          clientPort: 0
          clusterPort: 0
        admin:
          bindAddress: 127.0.0.1
          port: 0
          apiKey: ""
        options:
          authenticationTimeout: 10s
          removeUserAfterDisconnectTimeout: 60s
          maxMessageBytes: 65536{{(maxQueued is { } q ? "\n  maxQueuedMessagesPerConnection: " + q.ToString(CultureInfo.InvariantCulture) : "")}}{{(sendBuffer is { } b ? "\n  socketSendBufferBytes: " + b.ToString(CultureInfo.InvariantCulture) : "")}}
        cluster:
          seeds: []
          virtualNodes: {{ClusterPlacement.VirtualNodes}}
          replicas: {{ClusterPlacement.Replicas}}{{(writeQuorum is { } w ? "\n  writeQuorum: " + w.ToString(CultureInfo.InvariantCulture) : "")}}
        logging:
          level: Warning
        {{TlsYaml()}}
        """;

    private string TlsYaml() => tls is null ? "" : $"""
        tls:
          certificate: {tls.CertificatePath}
          key: {tls.KeyPath}
          admin: false
        """;

    [GeneratedRegex(@"client=(?<client>\S+)\s+admin=(?<admin>\S+)\s+cluster=(?<cluster>\S+)")]
    private static partial Regex ReadyLine();

    /// <summary>A running node: its URLs from the ready line and its management API.</summary>
    internal sealed class Node(ServerProcess process, string nodeId, string clientUrl, string adminUrl, string clusterEndpoint, DirectoryInfo directory) : RunningServer
    {
        private readonly PublishHttp _admin = new(new Uri(adminUrl.TrimEnd('/') + "/"));

        public string NodeId => nodeId;

        public override string ClientUrl => clientUrl;

        public override int RootPid => process.Pid;

        public override string Output => process.Output;

        public string AdminUrl => adminUrl;

        /// <summary>host:port of the node's cluster port, the seed other nodes join through.</summary>
        public string ClusterEndpoint => clusterEndpoint;

        /// <summary>POST /api/{service}/{method} with a JSON object of string parameters; returns the "result" of the answer.</summary>
        public async Task<JsonElement> CallAsync(string serviceMethod, Dictionary<string, string> parameters, CancellationToken cancellationToken)
        {
            var text = await _admin.PostAsync("api/" + serviceMethod, Json(parameters), "application/json", cancellationToken);
            using var document = JsonDocument.Parse(text);
            return document.RootElement.TryGetProperty("result", out var result)
                ? result.Clone()
                : throw new InvalidDataException($"{serviceMethod} answered without a result: {text}");
        }

        public override async Task PrepareUsersAsync(IReadOnlyList<string> users, string? channel, Action<int> progress, CancellationToken cancellationToken)
        {
            var done = 0;
            await Parallel.ForEachAsync(users, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = cancellationToken }, async (user, ct) =>
            {
                await _admin.PostAsync("api/auth/set", Json(new() { ["userId"] = user, ["sessionId"] = BenchUsers.SessionOf(user) }), "application/json", ct);
                if (channel is not null)
                {
                    await _admin.PostAsync("api/channel/subscribe", Json(new() { ["userId"] = user, ["channelId"] = channel }), "application/json", ct);
                }

                progress(Interlocked.Increment(ref done));
            });
        }

        public override async Task<long> PublishChannelAsync(string channel, long sequence, bool warmup, CancellationToken cancellationToken)
        {
            var body = "{\"channelId\":" + JsonSerializer.Serialize(channel) + ",\"message\":" + BenchMessage.Create(sequence, warmup) + "}";
            return PublishHttp.ReadInteger(await _admin.PostAsync("api/channel/publish", body, "application/json", cancellationToken), "result");
        }

        public override async Task<long> PublishUserAsync(string userId, long sequence, bool warmup, CancellationToken cancellationToken)
        {
            var body = "{\"userId\":" + JsonSerializer.Serialize(userId) + ",\"message\":" + BenchMessage.Create(sequence, warmup) + "}";
            return PublishHttp.ReadInteger(await _admin.PostAsync("api/user/publish", body, "application/json", cancellationToken), "result");
        }

        /// <summary>The socketpush_messages_* and socketpush_connections samples of the node's /metrics.</summary>
        public override Task<Dictionary<string, double>> ReadCountersAsync(CancellationToken cancellationToken) =>
            ReadMetricsAsync(
                line => line.StartsWith("socketpush_messages_", StringComparison.Ordinal) || line.StartsWith("socketpush_connections{", StringComparison.Ordinal)
                    || line.StartsWith(Coordinator.SlowConsumersMetric, StringComparison.Ordinal),
                cancellationToken);

        /// <summary>The samples of the node's /metrics whose line <paramref name="wanted"/> picks.</summary>
        public async Task<Dictionary<string, double>> ReadMetricsAsync(Func<string, bool> wanted, CancellationToken cancellationToken) =>
            MetricsText.Samples(await _admin.GetAsync("metrics", cancellationToken), wanted);

        public override async ValueTask DisposeAsync()
        {
            _admin.Dispose();
            await process.DisposeAsync();
            ServerProcess.DeleteScratch(directory);
        }

        private static string Json(Dictionary<string, string> values) => JsonSerializer.Serialize(values);
    }
}
