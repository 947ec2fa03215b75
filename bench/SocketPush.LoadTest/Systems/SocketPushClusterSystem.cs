using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SocketPush.LoadTest.Clients;
using SocketPush.Testing;

namespace SocketPush.LoadTest.Systems;

/// <summary>
/// Three SocketPush nodes from the same built binary, on loopback, in one cluster: n1 starts alone, n2 and n3
/// are seeded with n1's cluster endpoint from its ready line. Ready once every node's manager.status shows
/// all three alive with the ring agreed. Publishes go to n1's admin API; each client connects to the node that
/// owns its user, where the node would redirect it anyway.
/// </summary>
internal sealed class SocketPushClusterSystem(SocketPushSystem nodes) : ISystemUnderTest
{
    private static readonly TimeSpan FormTimeout = TimeSpan.FromSeconds(60);

    public string Name => SystemNames.SocketPushCluster;

    public string Version => $"{nodes.Version}, {ClusterPlacement.NodeIds.Length} nodes";

    public IReadOnlyList<string> FanOutTransports { get; } = [Transports.WebSocket];

    public async Task<RunningServer> StartAsync(CancellationToken cancellationToken) => await StartClusterAsync(null, cancellationToken);

    /// <summary>The three nodes, formed; <paramref name="writeQuorum"/> is cluster.writeQuorum on each (null: the node's default).</summary>
    public async Task<Running> StartClusterAsync(int? writeQuorum, CancellationToken cancellationToken)
    {
        // n1 first, then n2 and n3 seeded with it: the ids the harness's ring (ClusterPlacement) is built from.
        var processes = await NodeProcessCluster.StartAsync(ClusterPlacement.NodeIds.Length, nodes.NodeOptions(writeQuorum));
        var cluster = new Running(nodes, processes, ClusterPlacement.Default);
        try
        {
            if (!cluster.Members.Select(n => n.NodeId).SequenceEqual(ClusterPlacement.NodeIds))
            {
                throw new InvalidOperationException($"the nodes are {string.Join(", ", cluster.Members.Select(n => n.NodeId))}, the harness's ring has {string.Join(", ", ClusterPlacement.NodeIds)}");
            }

            await cluster.WaitUntilFormedAsync(cancellationToken);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>The started nodes (three, and those that <see cref="JoinAsync"/> added); stopping it stops them all.</summary>
    internal sealed class Running : RunningServer
    {
        private readonly SocketPushSystem _system;
        private readonly NodeProcessCluster _processes;
        private readonly ClusterPlacement _placement;
        private readonly List<SocketPushSystem.Node> _nodes;
        private readonly Dictionary<string, SocketPushSystem.Node> _byId;

        public Running(SocketPushSystem system, NodeProcessCluster processes, ClusterPlacement placement)
        {
            _system = system;
            _processes = processes;
            _placement = placement;
            _nodes = [.. processes.Nodes.Select(system.Wrap)];
            _byId = _nodes.ToDictionary(n => n.NodeId, StringComparer.Ordinal);
        }

        public IReadOnlyList<SocketPushSystem.Node> Members => _nodes;

        public SocketPushSystem.Node this[string nodeId] => _byId[nodeId];

        /// <summary>
        /// Starts one more node with the next id (n4 after n1, n2, n3), seeded with n1, with the same settings, and
        /// returns once it printed its ready line (it is then part of <see cref="Members"/>; the cluster has not
        /// necessarily seen it yet).
        /// </summary>
        public async Task<SocketPushSystem.Node> JoinAsync()
        {
            var node = _system.Wrap(await _processes.AddNodeAsync());
            _nodes.Add(node);
            _byId[node.NodeId] = node;
            return node;
        }

        /// <summary>Kills one node (SIGKILL, as a crash); the cluster is left to notice.</summary>
        public void Kill(string nodeId) => _processes.Node(nodeId).Kill();

        private SocketPushSystem.Node Publisher => _byId[ClusterPlacement.Publisher];

        public override string ClientUrl => Publisher.ClientUrl;

        public override int RootPid => Publisher.RootPid;

        public override int Nodes => _nodes.Count;

        public override string Output => string.Join('\n', _nodes.Select(n => $"--- {n.NodeId} ---\n{n.Output}"));

        public override IReadOnlyList<int> ProcessIds() => [.. _nodes.SelectMany(n => n.ProcessIds())];

        public override string ClientUrlOf(string userId) => _byId[_placement.OwnerOfUser(userId)].ClientUrl;

        /// <summary>Through n1, which forwards each call to the owner of its key.</summary>
        public override Task PrepareUsersAsync(IReadOnlyList<string> users, string? channel, Action<int> progress, CancellationToken cancellationToken) =>
            Publisher.PrepareUsersAsync(users, channel, progress, cancellationToken);

        public override Task<long> PublishChannelAsync(string channel, long sequence, bool warmup, CancellationToken cancellationToken) =>
            Publisher.PublishChannelAsync(channel, sequence, warmup, cancellationToken);

        public override Task<long> PublishUserAsync(string userId, long sequence, bool warmup, CancellationToken cancellationToken) =>
            Publisher.PublishUserAsync(userId, sequence, warmup, cancellationToken);

        /// <summary>Every node's counters, each sample prefixed with the node's id.</summary>
        public override Task<Dictionary<string, double>> ReadCountersAsync(CancellationToken cancellationToken) =>
            ReadAllAsync(node => node.ReadCountersAsync(cancellationToken));

        /// <summary>
        /// Every node's /metrics samples that <paramref name="wanted"/> picks, each prefixed with the node's id
        /// ("n2 socketpush_..."); the nodes are read at once, so that the reads are as close in time as they can be.
        /// </summary>
        public Task<Dictionary<string, double>> ReadMetricsAsync(Func<string, bool> wanted, CancellationToken cancellationToken) =>
            ReadAllAsync(node => node.ReadMetricsAsync(wanted, cancellationToken));

        private async Task<Dictionary<string, double>> ReadAllAsync(Func<SocketPushSystem.Node, Task<Dictionary<string, double>>> read)
        {
            var all = new Dictionary<string, double>(StringComparer.Ordinal);
            var samples = await Task.WhenAll(_nodes.Select(read));
            foreach (var (node, ofNode) in _nodes.Zip(samples))
            {
                foreach (var (sample, value) in ofNode)
                {
                    all[node.NodeId + " " + sample] = value;
                }
            }

            return all;
        }

        public async Task WaitUntilFormedAsync(CancellationToken cancellationToken)
        {
            var clock = Stopwatch.StartNew();
            var problems = new List<string>();
            while (true)
            {
                problems.Clear();
                foreach (var node in _nodes)
                {
                    var status = await StatusAsync(node, cancellationToken);
                    var alive = status.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("state").GetString() == "alive");
                    if (alive != _nodes.Count || !status.GetProperty("ringAgreed").GetBoolean())
                    {
                        problems.Add($"{node.NodeId}: {alive} alive, ring agreed {status.GetProperty("ringAgreed")}, {status.GetProperty("ringProblem")}");
                    }
                }

                if (problems.Count == 0)
                {
                    return;
                }

                if (clock.Elapsed > FormTimeout)
                {
                    throw new TimeoutException($"the cluster did not form within {FormTimeout.TotalSeconds:0} s: {string.Join("; ", problems)}");
                }

                await Task.Delay(200, cancellationToken);
            }
        }

        /// <summary>
        /// The harness's ring against the cluster's: user.getFrontendServer of every user must name the client URL
        /// of the node the harness computed, and manager.status of each node must hold the users' and the channel's
        /// records the harness expects there (records live on the replicas of their key: its preference list).
        /// </summary>
        public override async Task<string> VerifyPlacementAsync(IReadOnlyList<string> users, string? channel, CancellationToken cancellationToken)
        {
            var wrong = new List<string>();
            await Parallel.ForEachAsync(users, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = cancellationToken }, async (user, ct) =>
            {
                var answer = (await Publisher.CallAsync("user/getFrontendServer", new() { ["userId"] = user }, ct)).GetString();
                if (answer != ClientUrlOf(user))
                {
                    lock (wrong)
                    {
                        wrong.Add($"user.getFrontendServer({user}) = {answer}, the harness computed {_placement.OwnerOfUser(user)} ({ClientUrlOf(user)})");
                    }
                }
            });
            if (wrong.Count > 0)
            {
                throw new InvalidOperationException($"the harness's ring and the cluster disagree on {wrong.Count} of {users.Count} users: {string.Join("; ", wrong.Take(3))}");
            }

            var heldPerNode = _nodes.ToDictionary(n => n.NodeId, n => users.Count(u => _placement.Holds(n.NodeId, ClusterPlacement.UserKey(u))), StringComparer.Ordinal);
            var channelOwner = channel is null ? null : _placement.OwnerOfChannel(channel);
            var clock = Stopwatch.StartNew();
            while (true)
            {
                wrong.Clear();
                foreach (var node in _nodes)
                {
                    var records = (await StatusAsync(node, cancellationToken)).GetProperty("records");
                    var (userRecords, channelRecords) = (records.GetProperty("users").GetInt32(), records.GetProperty("channels").GetInt32());
                    var expectedChannels = channel is not null && _placement.Holds(node.NodeId, ClusterPlacement.ChannelKey(channel)) ? 1 : 0;
                    if (userRecords != heldPerNode[node.NodeId] || (channel is not null && channelRecords != expectedChannels))
                    {
                        wrong.Add($"{node.NodeId} holds {userRecords} user and {channelRecords} channel records, the harness expects {heldPerNode[node.NodeId]} and {expectedChannels}");
                    }
                }

                if (wrong.Count == 0)
                {
                    break;
                }

                if (clock.Elapsed > TimeSpan.FromSeconds(10))
                {
                    throw new InvalidOperationException("the records are not where the harness's ring puts them: " + string.Join("; ", wrong));
                }

                await Task.Delay(200, cancellationToken);
            }

            var spread = string.Join(", ", _nodes.Select(n => $"{n.NodeId} {users.Count(u => _placement.OwnerOfUser(u) == n.NodeId).ToString(CultureInfo.InvariantCulture)}"));
            return $"publish on {ClusterPlacement.Publisher}; {(channel is null ? "" : $"c:{channel} owned by {channelOwner}; ")}users owned (and connected) per node: {spread}";
        }

        public override async ValueTask DisposeAsync()
        {
            // The cluster ends every process it started, those whose start failed midway too; then the HTTP clients go.
            await _processes.DisposeAsync();
            await Task.WhenAll(_nodes.Select(n => n.DisposeAsync().AsTask()));
        }

        /// <summary>manager.status of one node.</summary>
        public static Task<JsonElement> StatusAsync(SocketPushSystem.Node node, CancellationToken cancellationToken) =>
            node.CallAsync("manager/status", [], cancellationToken);
    }
}
