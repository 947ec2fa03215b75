using System.Globalization;
using System.Text.Json;
using SocketPush.LoadTest.Clients;
using SocketPush.Testing;

namespace SocketPush.LoadTest.Systems;

/// <summary>
/// A SocketPush node started from its built binary, as one process with every port on loopback; with
/// <paramref name="tls"/>, its client port serves that certificate (the admin port stays plain);
/// <c>maxQueued</c> and <c>sendBuffer</c> set its options.maxQueuedMessagesPerConnection and options.socketSendBufferBytes
/// (null: the node's defaults); <paramref name="history"/> is a <c>history:</c> section for its config (empty: the node's
/// default, history on).
/// </summary>
internal sealed class SocketPushSystem(
    string nodeDll, IReadOnlyDictionary<string, string> environment, string version, TestCertificate? tls = null, int? maxQueued = null, int? sendBuffer = null,
    string history = "")
    : ISystemUnderTest
{
    public string Name => SystemNames.SocketPush;

    public string Version => version;

    public IReadOnlyList<string> FanOutTransports { get; } =
        [Transports.WebSocket, Transports.ServerSentEvents, Transports.LongPolling, Transports.PlainSse];

    public async Task<RunningServer> StartAsync(CancellationToken cancellationToken) =>
        new Node(await NodeProcess.StartAsync(NodeOptions(writeQuorum: null) with { NodeId = "bench" }), tls);

    /// <summary>
    /// What every node of this system is started with: this build, the harness's config (<paramref name="writeQuorum"/>
    /// sets cluster.writeQuorum; null: the node's default) and environment, every port on loopback chosen by the OS.
    /// </summary>
    public NodeProcessOptions NodeOptions(int? writeQuorum) => File.Exists(nodeDll)
        ? new NodeProcessOptions
        {
            NodeDll = nodeDll,
            Config = ConfigYaml(writeQuorum),
            Environment = environment,
            // Generous: several nodes start at once on two cores that other programs share.
            StartTimeout = TimeSpan.FromSeconds(90),
        }
        : throw new FileNotFoundException($"SocketPush node not built: {nodeDll} (dotnet build -c Release node/SocketPush.Node)");

    /// <summary>The same build and settings with another <c>history:</c> section (empty: the node's default).</summary>
    public SocketPushSystem WithHistory(string section) => new(nodeDll, environment, version, tls, maxQueued, sendBuffer, section);

    /// <summary>A started node process as the harness drives it.</summary>
    public Node Wrap(NodeProcess process) => new(process, tls);

    /// <summary>The version a results file names: the node's commit, if the repository says.</summary>
    public static async Task<string> DescribeVersionAsync(string repository)
    {
        try
        {
            var git = await ProcessRunner.RunAsync("git", ["-C", repository, "rev-parse", "--short", "HEAD"], workingDirectory: repository);
            return git.ExitCode == 0 ? $"SocketPush {git.StandardOutput.Trim()} on .NET {Environment.Version}" : $"SocketPush on .NET {Environment.Version}";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return $"SocketPush on .NET {Environment.Version}"; // no git on PATH
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
        {{history}}
        """;

    private string TlsYaml() => tls is null ? "" : $"""
        tls:
          certificate: {tls.CertificatePath}
          key: {tls.KeyPath}
          admin: false
        """;

    /// <summary>A running node: its URLs from the ready line and its management API.</summary>
    internal sealed class Node : RunningServer
    {
        private readonly NodeProcess _process;
        private readonly PublishHttp _admin;

        public Node(NodeProcess process, TestCertificate? tls)
        {
            _process = process;
            _admin = new PublishHttp(new Uri(process.AdminUrl.OriginalString.TrimEnd('/') + "/"));
            TrustedCertificate = tls?.CertificatePath;
        }

        public string NodeId => _process.NodeId;

        /// <summary>As the node printed it: the form user.getFrontendServer answers with.</summary>
        public override string ClientUrl => _process.ClientUrl.OriginalString;

        public override int RootPid => _process.ProcessId;

        public override string Output => string.Join('\n', _process.Output.TakeLast(200));

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

        public override Task<long> PublishChannelAsync(string channel, long sequence, bool warmup, CancellationToken cancellationToken) =>
            PublishChannelAsync(channel, sequence, warmup, null, cancellationToken);

        /// <summary>channel.publish with the backend's own publish id (null: the node gives one); a non-2xx answer throws.</summary>
        public async Task<long> PublishChannelAsync(string channel, long sequence, bool warmup, string? publishId, CancellationToken cancellationToken)
        {
            var id = publishId is null ? "" : ",\"publishId\":" + JsonSerializer.Serialize(publishId);
            var body = "{\"channelId\":" + JsonSerializer.Serialize(channel) + id + ",\"message\":" + BenchMessage.Create(sequence, warmup) + "}";
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

        /// <summary>Stops the node (a node of a cluster: the cluster stops it too, which is then nothing).</summary>
        public override async ValueTask DisposeAsync()
        {
            _admin.Dispose();
            await _process.DisposeAsync();
        }

        private static string Json(Dictionary<string, string> values) => JsonSerializer.Serialize(values);
    }
}
