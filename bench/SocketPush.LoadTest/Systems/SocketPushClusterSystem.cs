using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SocketPush.LoadTest.Clients;

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
        var started = new List<SocketPushSystem.Node>();
        try
        {
            var seed = await nodes.StartNodeAsync(ClusterPlacement.NodeIds[0], [], cancellationToken, writeQuorum);
            started.Add(seed);
            var joining = ClusterPlacement.NodeIds.Skip(1).Select(id => nodes.StartNodeAsync(id, [seed.ClusterEndpoint], cancellationToken, writeQuorum)).ToList();
            try
            {
                await Task.WhenAll(joining);
            }
            finally
            {
                started.AddRange(joining.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result));
            }

            var cluster = new Running(nodes, writeQuorum, started, ClusterPlacement.Default);
            await cluster.WaitUntilFormedAsync(cancellationToken);
            return cluster;
        }
        catch
        {
            await Task.WhenAll(started.Select(n => n.DisposeAsync().AsTask()));
            throw;
        }
    }

    /// <summary>The started nodes (three, and those that <see cref="JoinAsync"/> added); stopping it stops them all.</summary>
    internal sealed class Running(SocketPushSystem system, int? writeQuorum, List<SocketPushSystem.Node> nodes, ClusterPlacement placement) : RunningServer
    {
        private readonly Dictionary<string, SocketPushSystem.Node> _byId = nodes.ToDictionary(n => n.NodeId, StringComparer.Ordinal);

        public IReadOnlyList<SocketPushSystem.Node> Members => nodes;

        public SocketPushSystem.Node this[string nodeId] => _byId[nodeId];

        /// <summary>
        /// Starts one more node, seeded with n1, with the same settings, and returns once it printed its ready line
        /// (it is then part of <see cref="Members"/>; the cluster has not necessarily seen it yet).
        /// </summary>
        public async Task<SocketPushSystem.Node> JoinAsync(string nodeId, CancellationToken cancellationToken)
        {
            var node = await system.StartNodeAsync(nodeId, [Publisher.ClusterEndpoint], cancellationToken, writeQuorum);
            nodes.Add(node);
            _byId[nodeId] = node;
            return node;
        }

        private SocketPushSystem.Node Publisher => _byId[ClusterPlacement.Publisher];

        public override string ClientUrl => Publisher.ClientUrl;

        public override int RootPid => Publisher.RootPid;

        public override int Nodes => nodes.Count;

        public override string Output => string.Join('\n', nodes.Select(n => $"--- {n.NodeId} ---\n{n.Output}"));

        public override IReadOnlyList<int> ProcessIds() => [.. nodes.SelectMany(n => n.ProcessIds())];

        public override string ClientUrlOf(string userId) => _byId[placement.OwnerOfUser(userId)].ClientUrl;

        /// <summary>Through n1, which forwards each call to the owner of its key.</summary>
        public override Task PrepareUsersAsync(IReadOnlyList<string> users, string? channel, Action<int> progress, CancellationToken cancellationToken) =>
            Publisher.PrepareUsersAsync(users, channel, progress, cancellationToken);

        public override Task<long> PublishChannelAsync(string channel, long sequence, bool warmup, CancellationToken cancellationToken) =>
            Publisher.PublishChannelAsync(channel, sequence, warmup, cancellationToken);

        public override Task<long> PublishUserAsync(string userId, long sequence, bool warmup, CancellationToken cancellationToken) =>
            Publisher.PublishUserAsync(userId, sequence, warmup, cancellationToken);

        /// <summary>Every node's counters, each sample prefixed with the node's id.</summary>
        public override async Task<Dictionary<string, double>> ReadCountersAsync(CancellationToken cancellationToken)
        {
            var all = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var node in nodes)
            {
                foreach (var (sample, value) in await node.ReadCountersAsync(cancellationToken))
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
                foreach (var node in nodes)
                {
                    var status = await StatusAsync(node, cancellationToken);
                    var alive = status.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("state").GetString() == "alive");
                    if (alive != nodes.Count || !status.GetProperty("ringAgreed").GetBoolean())
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
                        wrong.Add($"user.getFrontendServer({user}) = {answer}, the harness computed {placement.OwnerOfUser(user)} ({ClientUrlOf(user)})");
                    }
                }
            });
            if (wrong.Count > 0)
            {
                throw new InvalidOperationException($"the harness's ring and the cluster disagree on {wrong.Count} of {users.Count} users: {string.Join("; ", wrong.Take(3))}");
            }

            var heldPerNode = nodes.ToDictionary(n => n.NodeId, n => users.Count(u => placement.Holds(n.NodeId, ClusterPlacement.UserKey(u))), StringComparer.Ordinal);
            var channelOwner = channel is null ? null : placement.OwnerOfChannel(channel);
            var clock = Stopwatch.StartNew();
            while (true)
            {
                wrong.Clear();
                foreach (var node in nodes)
                {
                    var records = (await StatusAsync(node, cancellationToken)).GetProperty("records");
                    var (userRecords, channelRecords) = (records.GetProperty("users").GetInt32(), records.GetProperty("channels").GetInt32());
                    var expectedChannels = channel is not null && placement.Holds(node.NodeId, ClusterPlacement.ChannelKey(channel)) ? 1 : 0;
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

            var spread = string.Join(", ", nodes.Select(n => $"{n.NodeId} {users.Count(u => placement.OwnerOfUser(u) == n.NodeId).ToString(CultureInfo.InvariantCulture)}"));
            return $"publish on {ClusterPlacement.Publisher}; {(channel is null ? "" : $"c:{channel} owned by {channelOwner}; ")}users owned (and connected) per node: {spread}";
        }

        public override async ValueTask DisposeAsync() => await Task.WhenAll(nodes.Select(n => n.DisposeAsync().AsTask()));

        /// <summary>manager.status of one node.</summary>
        public static Task<JsonElement> StatusAsync(SocketPushSystem.Node node, CancellationToken cancellationToken) =>
            node.CallAsync("manager/status", [], cancellationToken);
    }
}
