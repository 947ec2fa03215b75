using System.Globalization;

namespace SocketPush.EndToEnd.Tests;

/// <summary>
/// A <see cref="NodeProcessCluster"/> of one test with the management API of each node, the questions cluster
/// tests ask of it (who owns a user, do the nodes agree), and, when it ends, every node's output in the test's
/// output. Disposing it ends every node, also one a test suspended.
/// </summary>
internal sealed class ClusterUnderTest : IAsyncDisposable
{
    private readonly NodeProcessCluster _cluster;
    private readonly Dictionary<string, AdminApi> _apis;
    private readonly ITestOutputHelper _output;

    private ClusterUnderTest(NodeProcessCluster cluster, ITestOutputHelper output)
    {
        _cluster = cluster;
        _output = output;
        _apis = cluster.Nodes.ToDictionary(n => n.NodeId, n => new AdminApi(n.AdminUrl, n.AdminApiKey), StringComparer.Ordinal);
    }

    public NodeProcess this[string nodeId] => _cluster.Node(nodeId);

    /// <summary>Starts <paramref name="count"/> nodes with <paramref name="extraConfig"/> and waits until each lists all alive.</summary>
    public static async Task<ClusterUnderTest> StartAsync(int count, string extraConfig, ITestOutputHelper output, TimeSpan? stopTimeout = null)
    {
        var options = new NodeProcessOptions { ExtraConfig = extraConfig };
        var cluster = await NodeProcessCluster.StartAsync(count, stopTimeout is { } timeout ? options with { StopTimeout = timeout } : options);
        return await AgreedAsync(cluster, output);
    }

    /// <summary>
    /// Starts <paramref name="count"/> nodes with <paramref name="extraConfig"/>, node nI in host nI of
    /// <paramref name="network"/> (see <see cref="NodeProcessCluster.StartAsync(int, NodeProcessOptions?, NetworkNamespaces)"/>),
    /// and waits until each lists all alive. The APIs carry the nodes' admin key.
    /// </summary>
    public static async Task<ClusterUnderTest> StartAsync(int count, string extraConfig, ITestOutputHelper output, NetworkNamespaces network) =>
        await AgreedAsync(await NodeProcessCluster.StartAsync(count, new NodeProcessOptions { ExtraConfig = extraConfig }, network), output);

    private static async Task<ClusterUnderTest> AgreedAsync(NodeProcessCluster cluster, ITestOutputHelper output)
    {
        var started = new ClusterUnderTest(cluster, output);
        try
        {
            await started.WaitForAgreementAsync([.. cluster.Nodes.Select(n => n.NodeId)], new Dictionary<string, string>(), TimeSpan.FromSeconds(30));
            return started;
        }
        catch
        {
            await started.DisposeAsync();
            throw;
        }
    }

    public AdminApi Api(string nodeId) => _apis[nodeId];

    /// <summary>Starts one more node (the next id) with <paramref name="extraConfig"/> before the cluster's own, and gives it an API.</summary>
    public async Task<NodeProcess> AddNodeAsync(string extraConfig = "")
    {
        var node = await _cluster.AddNodeAsync(extraConfig);
        _apis[node.NodeId] = new AdminApi(node.AdminUrl, node.AdminApiKey);
        return node;
    }

    /// <summary>Starts a killed node again with its id; its first life's output goes to the test's output first.</summary>
    public async Task<NodeProcess> StartAgainAsync(string nodeId)
    {
        _output.WriteLine($"--- {nodeId} output before it was started again ---");
        _output.WriteLine(this[nodeId].OutputSince(0));
        var node = await _cluster.StartAgainAsync(nodeId);
        _apis[nodeId].Dispose();
        _apis[nodeId] = new AdminApi(node.AdminUrl, node.AdminApiKey);
        return node;
    }

    /// <summary>
    /// The first <paramref name="count"/> user ids <c>{prefix}-0</c>, <c>{prefix}-1</c>, … whose owner is
    /// <paramref name="ownerId"/>, as user.getFrontendServer on <paramref name="askedId"/> names it.
    /// </summary>
    public async Task<string[]> UsersOwnedByAsync(string ownerId, string prefix, int count, string askedId = "n1")
    {
        var owner = this[ownerId].ClientUrl.Authority;
        var users = new List<string>();
        for (var i = 0; users.Count < count; i++)
        {
            Assert.True(i < 1000, $"fewer than {count} of 1000 users {prefix}-n are owned by {ownerId}");
            var userId = string.Create(CultureInfo.InvariantCulture, $"{prefix}-{i}");
            var url = (await Api(askedId).CallAsync("user", "getFrontendServer", new { userId })).GetString()!;
            if (new Uri(url).Authority == owner)
            {
                users.Add(userId);
            }
        }

        return [.. users];
    }

    /// <summary>
    /// Waits until every node of <paramref name="alive"/> lists exactly those members alive and the others in the
    /// states <paramref name="gone"/> gives (e.g. <c>dead</c>, <c>left</c>), agrees on the ring settings, and gives
    /// each alive member the same ring share (so all name the same owners).
    /// </summary>
    public Task WaitForAgreementAsync(string[] alive, IReadOnlyDictionary<string, string> gone, TimeSpan? timeout = null) =>
        Eventually.PassesAsync(
            async () =>
            {
                var statuses = await Task.WhenAll(alive.Select(id => Api(id).StatusAsync()));
                foreach (var status in statuses)
                {
                    Assert.True(status.RingAgreed, status.ToString());
                    Assert.Equal(alive.Order(StringComparer.Ordinal), status.MembersIn("alive"));
                    foreach (var (nodeId, state) in gone)
                    {
                        Assert.True(status.States.GetValueOrDefault(nodeId) == state, $"{status.NodeId} does not list {nodeId} {state}: {status}");
                    }

                    Assert.Equal(statuses[0].AliveShares, status.AliveShares);
                }
            },
            $"{string.Join(", ", alive)} list each other alive{string.Concat(gone.Select(g => $", {g.Key} {g.Value}"))} and agree on the ring",
            timeout ?? TimeSpan.FromSeconds(30));

    /// <summary>The nodes of <paramref name="nodeIds"/> with their APIs, for checks that ask each.</summary>
    public IEnumerable<(string NodeId, AdminApi Api)> Apis(params string[] nodeIds) => nodeIds.Select(id => (id, Api(id)));

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _cluster.Nodes)
        {
            node.Resume();
        }

        foreach (var api in _apis.Values)
        {
            api.Dispose();
        }

        var nodes = _cluster.Nodes;
        await _cluster.DisposeAsync();
        foreach (var node in nodes)
        {
            _output.WriteLine($"--- {node.NodeId} output ---");
            _output.WriteLine(node.OutputSince(0));
        }
    }
}
