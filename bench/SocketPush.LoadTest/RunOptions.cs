using System.Globalization;
using SocketPush.LoadTest.Systems;

namespace SocketPush.LoadTest;

internal static class Scenarios
{
    public const string Idle = "idle";
    public const string FanOut = "fanout";
    public const string Users = "users";

    /// <summary>The cluster set: latency and fan-out on three nodes against one (not in the default list).</summary>
    public const string Cluster = "cluster";

    /// <summary>The replicas set: write latency per cluster.writeQuorum, and a join's handoff (not in the default list).</summary>
    public const string Replicas = "replicas";

    /// <summary>The fan-out to N - K reading clients with and without K more that stop reading (SocketPush only, not in the default list).</summary>
    public const string Stalled = "stalled";

    /// <summary>Two builds of the node, their node-to-node traffic: a delivery batch, a handoff, anti-entropy (not in the default list).</summary>
    public const string PeerPath = "peer-path";

    /// <summary>History off against on (fan-out on one node and across three), and a channel owner's failover with recovering clients (not in the default list).</summary>
    public const string History = "history";

    public static readonly string[] All = [Idle, FanOut, Users];

    public static readonly string[] Known = [.. All, Cluster, Replicas, Stalled, PeerPath, History];
}

/// <summary>What one run of the harness does; every figure it reports depends on these, so all are written to the results.</summary>
internal sealed class RunOptions
{
    public bool Quick { get; set; }

    public List<int> Sizes { get; set; } = [5_000, 10_000];

    public List<string> Systems { get; set; } = [.. SystemNames.All];

    public List<string> ScenarioNames { get; set; } = [.. Scenarios.All];

    /// <summary>Fan-out over SSE and long polling (SocketPush only) as well as WebSockets.</summary>
    public bool AllTransports { get; set; } = true;

    /// <summary>Target deliveries per second in the fan-out: publishes/s = this / subscribers.</summary>
    public int DeliveryRate { get; set; } = 50_000;

    /// <summary>Publishes per second in the users scenario (one per user).</summary>
    public int UserPublishRate { get; set; } = 2_000;

    public double PublishSeconds { get; set; } = 10;

    /// <summary>Cluster latency measurements: receivers (users owned by n3), one connection each.</summary>
    public int ClusterReceivers { get; set; } = 100;

    /// <summary>Cluster latency measurements: publishes per second (channel.publish, then user.publish).</summary>
    public double ClusterPublishRate { get; set; } = 200;

    /// <summary>Cluster fan-out: subscriber counts, each on one node and on three.</summary>
    public List<int> ClusterFanOut { get; set; } = [3_000, 9_000];

    /// <summary>Replicas set: the cluster.writeQuorum values measured, each on freshly started nodes.</summary>
    public List<int> WriteQuorums { get; set; } = [1, 2, 3];

    /// <summary>Replicas set: management calls in flight (closed loop).</summary>
    public int WriteConcurrency { get; set; } = 32;

    /// <summary>Replicas set: the users the write calls cycle over.</summary>
    public int WriteUsers { get; set; } = 3_000;

    /// <summary>Replicas set: seconds of unmeasured calls before each measurement.</summary>
    public double WriteWarmupSeconds { get; set; } = 5;

    /// <summary>Replicas set: users (auth.set, one session each) the three nodes hold when the fourth joins; 0: no handoff measurement.</summary>
    public int HandoffUsers { get; set; } = 100_000;

    /// <summary>
    /// The commit issue 21 started from: the peer calls carry JSON in a <c>PeerMessage</c>, the "before" of the typed
    /// messages between nodes.
    /// </summary>
    public const string DefaultBefore = "ae9edda";

    /// <summary>Peer path set: the "before" build, a git ref (built in a temporary worktree) or a built SocketPush.Node.dll.</summary>
    public string Before { get; set; } = DefaultBefore;

    /// <summary>Peer path set: the "after" build, likewise (default: this checkout's HEAD, as committed).</summary>
    public string After { get; set; } = "HEAD";

    /// <summary>Peer path set: users in one edge.deliver batch (subscribers of the channel, owned by another node).</summary>
    public int PeerBatchUsers { get; set; } = 100;

    /// <summary>Peer path set: measured channel publishes per build.</summary>
    public int PeerPublishes { get; set; } = 500;

    /// <summary>Peer path set: publishes between two reads of the nodes' counters.</summary>
    public int PeerPublishesPerWindow { get; set; } = 20;

    /// <summary>Peer path set: rounds of all measurements, the builds' order alternating.</summary>
    public int PeerRounds { get; set; } = 1;

    /// <summary>Peer path set: anti-entropy rounds observed per cluster.</summary>
    public int PeerAntiEntropyRounds { get; set; } = 6;

    /// <summary>Stalled set: clients of the N that stop reading.</summary>
    public int StalledClients { get; set; } = 1_000;

    /// <summary>Stalled set: measurements of each side (with and without the stalled clients), alternating.</summary>
    public int Repeat { get; set; } = 3;

    /// <summary>History set: rounds of the fan-out across three nodes (off and on each; 0 skips it); the one-node rounds and the failovers are --repeat.</summary>
    public int CrossRounds { get; set; } = 2;

    /// <summary>History set, failover: channel publishes per second, through the nodes that survive.</summary>
    public double FailoverRate { get; set; } = 10;

    /// <summary>History set, failover: seconds of publishing before the kill.</summary>
    public double FailoverBefore { get; set; } = 8;

    /// <summary>History set, failover: seconds of publishing after the kill.</summary>
    public double FailoverAfter { get; set; } = 20;

    /// <summary>The node's options.maxQueuedMessagesPerConnection (null: its default).</summary>
    public int? MaxQueued { get; set; }

    /// <summary>The node's options.socketSendBufferBytes (null: its default).</summary>
    public int? SendBuffer { get; set; }

    /// <summary>Bytes of JSON per published message (null: about 100).</summary>
    public int? MessageBytes { get; set; }

    public int Workers { get; set; } = 2;

    public int ConnectConcurrency { get; set; } = 200;

    public int SourceAddresses { get; set; } = 4;

    /// <summary>"raw" (SignalR JSON protocol over ClientWebSocket) or "official" (HubConnection) for WebSockets.</summary>
    public string SignalRClient { get; set; } = "raw";

    /// <summary>SocketPush's client port over TLS (a test certificate; the admin port, where the harness publishes, stays plain).</summary>
    public bool Tls { get; set; }

    /// <summary>Wait for the server's memory to stop moving before reading it (off only in the harness's own test).</summary>
    public bool SettleMemory { get; set; } = true;

    /// <summary>Attach dotnet-counters and dotnet-trace to the SocketPush node while it publishes; files go here.</summary>
    public string? TraceDirectory { get; set; }

    public string Repository { get; set; } = Directory.GetCurrentDirectory();

    public string? NodeDll { get; set; }

    public string OutputDirectory { get; set; } = "";

    public string NchanWorkers { get; set; } = "auto";

    public Dictionary<string, string> NodeEnvironment { get; set; } = [];

    /// <summary>Base name of the result files (latest.md, latest.json, latest.png).</summary>
    public string ResultName { get; set; } = "latest";

    public string CommandLine { get; set; } = "";

    public string ResolvedNodeDll => NodeDll ?? Path.Combine(Repository, "node", "SocketPush.Node", "bin", "Release", "net10.0", "SocketPush.Node.dll");

    public string ResolvedOutputDirectory => string.IsNullOrEmpty(OutputDirectory) ? Path.Combine(Repository, "bench", "results") : OutputDirectory;

    public static RunOptions Parse(IReadOnlyList<string> args)
    {
        var o = new RunOptions();
        var sizesGiven = false;
        var durationGiven = false;
        var handoffUsersGiven = false;
        var clusterSizesGiven = false;
        var repeatGiven = false;
        for (var i = 0; i < args.Count; i++)
        {
            string Next() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--quick":
                    o.Quick = true;
                    break;
                case "--n":
                    o.Sizes = ParseSizes(Next());
                    sizesGiven = true;
                    break;
                case "--cluster":
                    o.ScenarioNames = [Scenarios.Cluster];
                    o.Systems = [SystemNames.SocketPush, SystemNames.SocketPushCluster];
                    break;
                case "--replicas":
                    o.ScenarioNames = [Scenarios.Replicas];
                    o.Systems = [SystemNames.SocketPushCluster];
                    break;
                case "--history":
                    o.ScenarioNames = [Scenarios.History];
                    o.Systems = [SystemNames.SocketPush];
                    break;
                case "--cross-rounds":
                    o.CrossRounds = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--failover-rate":
                    o.FailoverRate = double.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--failover-before":
                    o.FailoverBefore = double.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--failover-after":
                    o.FailoverAfter = double.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--peer-path":
                    o.ScenarioNames = [Scenarios.PeerPath];
                    o.Systems = [];
                    break;
                case "--before":
                    o.Before = Next();
                    break;
                case "--after":
                    o.After = Next();
                    break;
                case "--peer-users":
                    o.PeerBatchUsers = int.Parse(Next(), NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
                    break;
                case "--peer-publishes":
                    o.PeerPublishes = int.Parse(Next(), NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
                    break;
                case "--peer-window":
                    o.PeerPublishesPerWindow = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--peer-rounds":
                    o.PeerRounds = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--antientropy-rounds":
                    o.PeerAntiEntropyRounds = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--write-quorums":
                    o.WriteQuorums = ParseSizes(Next());
                    break;
                case "--write-concurrency":
                    o.WriteConcurrency = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--write-users":
                    o.WriteUsers = int.Parse(Next(), NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
                    break;
                case "--write-warmup":
                    o.WriteWarmupSeconds = double.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--handoff-users":
                    o.HandoffUsers = int.Parse(Next(), NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
                    handoffUsersGiven = true;
                    break;
                case "--cluster-receivers":
                    o.ClusterReceivers = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--cluster-rate":
                    o.ClusterPublishRate = double.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--cluster-n":
                    var fanOut = Next();
                    o.ClusterFanOut = fanOut == "none" ? [] : ParseSizes(fanOut);
                    clusterSizesGiven = true;
                    break;
                case "--systems":
                    o.Systems = [.. Next().Split(',')];
                    break;
                case "--scenarios":
                    o.ScenarioNames = [.. Next().Split(',')];
                    break;
                case "--websocket-only":
                    o.AllTransports = false;
                    break;
                case "--delivery-rate":
                    o.DeliveryRate = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--user-rate":
                    o.UserPublishRate = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--duration":
                    o.PublishSeconds = double.Parse(Next(), CultureInfo.InvariantCulture);
                    durationGiven = true;
                    break;
                case "--stalled":
                    o.StalledClients = int.Parse(Next(), NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
                    if (!o.ScenarioNames.Contains(Scenarios.Stalled))
                    {
                        o.ScenarioNames = [Scenarios.Stalled];
                        o.Systems = [SystemNames.SocketPush];
                    }

                    break;
                case "--repeat":
                    o.Repeat = int.Parse(Next(), CultureInfo.InvariantCulture);
                    repeatGiven = true;
                    break;
                case "--send-buffer":
                    o.SendBuffer = int.Parse(Next(), NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
                    break;
                case "--message-bytes":
                    o.MessageBytes = int.Parse(Next(), NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
                    break;
                case "--max-queued":
                    o.MaxQueued = int.Parse(Next(), NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
                    break;
                case "--workers":
                    o.Workers = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--connect-concurrency":
                    o.ConnectConcurrency = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--source-addresses":
                    o.SourceAddresses = int.Parse(Next(), CultureInfo.InvariantCulture);
                    break;
                case "--signalr-client":
                    o.SignalRClient = Next();
                    break;
                case "--tls":
                    o.Tls = true;
                    break;
                case "--repo":
                    o.Repository = Path.GetFullPath(Next());
                    break;
                case "--node-dll":
                    o.NodeDll = Path.GetFullPath(Next());
                    break;
                case "--out":
                    o.OutputDirectory = Path.GetFullPath(Next());
                    break;
                case "--name":
                    o.ResultName = Next();
                    break;
                case "--trace":
                    o.TraceDirectory = Path.GetFullPath(Next());
                    break;
                case "--nchan-workers":
                    o.NchanWorkers = Next();
                    break;
                case "--node-env":
                    var pair = Next();
                    var eq = pair.IndexOf('=');
                    if (eq <= 0)
                    {
                        throw new ArgumentException("--node-env takes KEY=VALUE");
                    }

                    o.NodeEnvironment[pair[..eq]] = pair[(eq + 1)..];
                    break;
                default:
                    throw new ArgumentException("unknown option " + args[i]);
            }
        }

        if (o.ScenarioNames.Contains(Scenarios.Replicas) && !durationGiven)
        {
            o.PublishSeconds = 20;
        }

        var history = o.ScenarioNames.Contains(Scenarios.History);
        if (history && !sizesGiven)
        {
            o.Sizes = [5_000];
        }

        if (o.Quick)
        {
            if (history)
            {
                o.Repeat = repeatGiven ? o.Repeat : 1;
                o.CrossRounds = Math.Min(o.CrossRounds, 1);
                o.FailoverBefore = Math.Min(o.FailoverBefore, 5);
                o.FailoverAfter = Math.Min(o.FailoverAfter, 15);
            }

            if (!handoffUsersGiven)
            {
                o.HandoffUsers = 10_000;
            }

            o.WriteWarmupSeconds = Math.Min(o.WriteWarmupSeconds, 2);
            o.PeerPublishes = Math.Min(o.PeerPublishes, 200);
            o.PeerAntiEntropyRounds = Math.Min(o.PeerAntiEntropyRounds, 3);

            if (!sizesGiven)
            {
                o.Sizes = [1_000];
            }

            if (!clusterSizesGiven)
            {
                o.ClusterFanOut = [1_000];
            }

            o.PublishSeconds = Math.Min(o.PublishSeconds, 5);
        }

        foreach (var s in o.Systems.Where(s => !SystemNames.Known.Contains(s)))
        {
            throw new ArgumentException($"unknown system '{s}' (known: {string.Join(", ", SystemNames.Known)})");
        }

        foreach (var s in o.ScenarioNames.Where(s => !Scenarios.Known.Contains(s)))
        {
            throw new ArgumentException($"unknown scenario '{s}' (known: {string.Join(", ", Scenarios.Known)})");
        }

        if (o.SignalRClient is not ("raw" or "official"))
        {
            throw new ArgumentException("--signalr-client is raw or official");
        }

        // Only the node reads a tls section; the peers would be measured over plain WebSockets under a TLS label.
        if (o.Tls && (o.Systems.Any(s => s != SystemNames.SocketPush) || o.ScenarioNames.Contains(Scenarios.Cluster) || o.ScenarioNames.Contains(Scenarios.Replicas)))
        {
            throw new ArgumentException("--tls is for one SocketPush node only: add --systems socketpush (not with --cluster or --replicas)");
        }

        if (o.Workers < 1 || o.ConnectConcurrency < 1 || o.SourceAddresses < 1 || o.SourceAddresses > 250 || o.DeliveryRate < 1 || o.UserPublishRate < 1 || o.PublishSeconds <= 0
            || o.WriteConcurrency < 1 || o.WriteUsers < 1 || o.WriteWarmupSeconds < 0 || o.HandoffUsers < 0
            || o.WriteQuorums.Any(w => w < 1 || w > ClusterPlacement.Replicas)
            || o.ClusterReceivers < 1 || o.ClusterPublishRate <= 0 || o.ClusterFanOut.Any(n => n < 1) || o.Sizes.Any(n => n < 1)
            || o.PeerBatchUsers < 1 || o.PeerPublishes < 1 || o.PeerPublishesPerWindow < 1 || o.PeerRounds < 1 || o.PeerAntiEntropyRounds < 1
            || o.Repeat < 1 || o.CrossRounds < 0 || o.FailoverRate <= 0 || o.FailoverBefore <= 0 || o.FailoverAfter <= 0 || o.MaxQueued < 1 || o.SendBuffer < 0 || o.MessageBytes is < 1 or > 60_000)
        {
            throw new ArgumentException("--n, --workers, --connect-concurrency, --delivery-rate, --user-rate, --duration, --cluster-*, --write-*, --peer-*, --antientropy-rounds, --repeat, --max-queued --failover-* must be positive (--cross-rounds 0 or more); --message-bytes 1..60000; --write-quorums 1..3; --source-addresses 1..250");
        }

        if (o.ScenarioNames.Contains(Scenarios.Stalled) && (o.StalledClients < 1 || o.Sizes.Any(n => n <= o.StalledClients)))
        {
            throw new ArgumentException("--stalled K needs 0 < K < every --n: N - K clients read");
        }

        return o;
    }

    private static List<int> ParseSizes(string text) =>
        [.. text.Split(',').Select(s => int.Parse(s, NumberStyles.AllowThousands, CultureInfo.InvariantCulture))];

    public const string Usage = """
        SocketPush.LoadTest run [options]      measure SocketPush, socket.io and Nchan side by side
          --quick                     N = 1,000 and 5 s of publishing
          --n 5000,10000              connection counts (default 5,000 and 10,000)
          --systems a,b               socketpush, socketio, nchan (default all)
          --scenarios a,b             idle, fanout, users (default all); cluster (3 nodes against 1, below)
          --websocket-only            skip SocketPush's fan-out over SSE, long polling and plain SSE
          --delivery-rate 50000       fan-out target deliveries/s (publishes/s = rate / N)
          --user-rate 2000            users scenario: publishes/s, one per user
          --duration 10               seconds of publishing per measurement
          --workers 2                 client processes
          --connect-concurrency 200   connection attempts in flight, all workers together
          --source-addresses 4        client source addresses 127.0.0.2 ... (1 = 127.0.0.1 only)
          --signalr-client raw        raw | official (HubConnection) for SocketPush over WebSockets
          --tls                       SocketPush's client port over TLS (https, wss) with a self-signed test certificate;
                                      publishing stays plain HTTP (tls.admin: false); needs --systems socketpush
          --repo DIR                  repository root (default: current directory)
          --node-dll PATH             SocketPush node (default node/SocketPush.Node/bin/Release/net10.0/SocketPush.Node.dll)
          --node-env KEY=VALUE        environment of the SocketPush node (repeatable), e.g. DOTNET_gcServer=1
          --nchan-workers auto        nginx worker_processes
          --trace DIR                 attach dotnet-counters and dotnet-trace to the node while it publishes (analysis only)
          --out DIR --name latest     where results go: DIR/NAME.md, NAME.json, NAME.png
        Cluster (3 SocketPush nodes n1, n2, n3 against one node, same clients and rates; --systems socketpush-cluster also runs
        the other scenarios on 3 nodes, publishes on n1, each client on the node that owns its user):
          --cluster                   = --scenarios cluster --systems socketpush,socketpush-cluster
          --cluster-receivers 100     latency: receivers, users owned by n3; the channel is owned by n2, publishes go to n1
          --cluster-rate 200          latency: publishes/s, channel.publish then user.publish, for --duration
          --cluster-n 3000,9000       fan-out: subscribers spread over their owners, at --delivery-rate (--quick: 1000; none: latency only)
        Replicas (3 SocketPush nodes, cluster.replicas 3; bench/results/replicas.*):
          --replicas                  = --scenarios replicas --systems socketpush-cluster, 20 s per setting (--quick: 5 s, 10,000 users)
          --write-quorums 1,2,3       management write latency with each cluster.writeQuorum, each on freshly started nodes, for --duration
          --write-concurrency 32      calls in flight (closed loop), auth.set and channel.subscribe alternating, each to the owner of its user
          --write-users 3000          users the calls cycle over (spread over the ring by their ids)
          --write-warmup 5            seconds of calls before each measurement, not counted
          --handoff-users 100000      users (auth.set) the three nodes hold when n4 joins; handoff measured until done (0: skip)
        Stalled clients (SocketPush over WebSockets; bench/results/stalled.*):
          --stalled 1000              = --scenarios stalled --systems socketpush: the fan-out to N - K reading clients, measured with K more
                                        subscribers that stop reading (raw sockets, 4 KB receive buffer, hub ping every 10 s) and without them
          --repeat 3                  measurements of each side, alternating; the offered rate is --delivery-rate / N for both
          --max-queued 1024           the node's options.maxQueuedMessagesPerConnection (default: the node's)
          --send-buffer 0             the node's options.socketSendBufferBytes (SO_SNDBUF of each client socket; default: the node's)
          --message-bytes 100         bytes of JSON per published message, every system and scenario (a larger one fills stalled sockets sooner)
        Peer path (two builds of the node in one run, their node-to-node traffic from each node's /metrics; bench/results/peer-path.*):
          --peer-path                 = --scenarios peer-path: on three nodes, channel.publish on the channel's owner n2 to subscribers owned by
                                        n3 (one edge.deliver batch each: bytes per peer message, round trip), anti-entropy rounds (bytes per
                                        round), then the replicas set's handoff of --handoff-users to a fourth node (records/s) and anti-entropy there
          --before ae9edda            the "before" build: a git ref of --repo, built in Release in a temporary git worktree (removed at the end),
                                        or the path of a built SocketPush.Node.dll
          --after HEAD                the "after" build, likewise
          --peer-users 100            users in one edge.deliver batch
          --peer-publishes 500        measured publishes per build (--quick: 200), in windows of --peer-window 20 between reads of /metrics
          --peer-rounds 1             rounds of every measurement, the builds taking turns (the first alternating)
          --antientropy-rounds 6      anti-entropy rounds observed per cluster (--quick: 3)
        History (issue 22; SocketPush only; bench/results/history.*):
          --history                   = --scenarios history, N = 5,000 (--quick: 1,000, 5 s, one round of each): the fan-out (--delivery-rate, --duration)
                                        with history off (history.maxBytes 0, size 0) and on (the node's default), --repeat rounds on one node and
                                        --cross-rounds on three (publish on n1, channel owned by n2, subscribers on their owners), the sides alternating;
                                        then --repeat failovers: 3 nodes with default timers, N recovering clients (Recover with their position token)
                                        on their users' owners, channel.publish with publish ids through n1 and n3, kill -9 of the channel's owner n2
          --cross-rounds 2            rounds of the fan-out on three nodes (--quick: 1; 0: one node only)
          --failover-rate 10          channel publishes/s during a failover (N deliveries each)
          --failover-before 8         seconds of publishing before the kill (--quick: 5)
          --failover-after 20         seconds of publishing after the kill (--quick: 15)
        SocketPush.LoadTest report IN.json OUT_DIR NAME   rewrite the table and chart from a results file
        """;
}
