using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SocketPush.Node.Cluster.ConfigLayer;

namespace SocketPush.Node.Tests;

/// <summary>Three nodes, each with a state directory of its own, shared by the tests of <see cref="ClusterConfigTests"/>.</summary>
public sealed class ClusterConfigFixture : IAsyncLifetime
{
    private readonly DirectoryInfo _state = Directory.CreateTempSubdirectory("socketpush-cluster-config-");

    internal TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await TestCluster.StartAsync(3, c => c.Node.StateDir = Path.Combine(_state.FullName, c.Node.Id));

    public async Task DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }

        _state.Delete(recursive: true);
    }
}

/// <summary>
/// manager.setConfig and manager.getConfig on a cluster of real nodes (real gossip, real peer calls): a set on one
/// node is in force on every node, keys that cannot be in the layer are refused by name, concurrent sets converge.
/// Each test leaves the keys it set out of the layer again.
/// </summary>
public sealed class ClusterConfigTests(ClusterConfigFixture fixture) : IClassFixture<ClusterConfigFixture>
{
    private TestCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task A_set_on_one_node_is_in_force_on_every_node_with_the_cluster_as_its_source()
    {
        var set = await SetAsync(Cluster[1], new Dictionary<string, object?> { ["options.maxMessageBytes"] = 200 });
        var version = set.GetProperty("version").GetString()!;
        Assert.Equal(200, set.GetProperty("values").GetProperty("options.maxMessageBytes").GetInt32());
        Assert.Equal("n2", set.GetProperty("entries").EnumerateArray().Single(e => e.GetProperty("key").GetString() == "options.maxMessageBytes").GetProperty("setBy").GetString());

        await AgreeAsync(version);
        foreach (var node in Cluster.Nodes)
        {
            var config = await node.CallAsync("worker", "getConfig", new { });
            Assert.Equal(200, config.GetProperty("config").GetProperty("options").GetProperty("maxMessageBytes").GetInt32());
            Assert.Equal("cluster", config.GetProperty("sources").GetProperty("options.maxMessageBytes").GetString());
            Assert.Equal("default", config.GetProperty("sources").GetProperty("options.maxConnections").GetString());
            Assert.Equal(version, config.GetProperty("cluster").GetProperty("version").GetString());
            Assert.Equal(version, (await node.CallAsync("manager", "getConfig", new { })).GetProperty("version").GetString());

            // In force, not only shown: every node refuses the publish its file would take.
            using var refused = await node.Admin.PostAsJsonAsync("/api/user/publish", new { userId = "u1", message = new string('x', 300) });
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
        }

        var removed = await SetAsync(Cluster[2], new Dictionary<string, object?> { ["options.maxMessageBytes"] = null });
        Assert.False(removed.GetProperty("values").TryGetProperty("options.maxMessageBytes", out _));
        await AgreeAsync(removed.GetProperty("version").GetString()!);
        foreach (var node in Cluster.Nodes)
        {
            var config = await node.CallAsync("worker", "getConfig", new { });
            Assert.Equal(65536, config.GetProperty("config").GetProperty("options").GetProperty("maxMessageBytes").GetInt32());
            Assert.Equal("default", config.GetProperty("sources").GetProperty("options.maxMessageBytes").GetString());
        }
    }

    [Fact]
    public async Task Keys_that_need_a_restart_secrets_and_unknown_keys_are_refused_each_by_name_and_nothing_changes()
    {
        var before = await LayerVersionAsync(Cluster[0]);

        var error = await RefusedAsync(Cluster[0], new Dictionary<string, object?>
        {
            ["node.clientPort"] = 9000,
            ["cluster"] = new { replicas = 5 },
            ["cluster.secret"] = "a-new-secret-of-the-cluster",
            ["options.noSuchKey"] = 1,
            ["options.maxConnections"] = 10,
        });

        Assert.Contains("node.clientPort: needs a restart", error, StringComparison.Ordinal);
        Assert.Contains("cluster.replicas: needs a restart", error, StringComparison.Ordinal);
        Assert.Contains("cluster.secret: a secret", error, StringComparison.Ordinal);
        Assert.Contains("options.noSuchKey: not a config key", error, StringComparison.Ordinal);
        Assert.DoesNotContain("options.maxConnections", error, StringComparison.Ordinal);
        Assert.Equal(before, await LayerVersionAsync(Cluster[0]));
        Assert.Equal(100_000, (await Cluster[0].CallAsync("worker", "getConfig", new { })).GetProperty("config").GetProperty("options").GetProperty("maxConnections").GetInt32());
    }

    [Theory]
    [InlineData("""{"options.maxMessageBytes": 0}""", "options.maxMessageBytes: 0 is out of range")]
    [InlineData("""{"options": {"keepAliveInterval": "soon"}}""", "options.keepAliveInterval: expected a duration (write 500ms, 10s, 5m or 1h), found 'soon'.")]
    [InlineData("""{"options.maxConnections": "lots"}""", "options.maxConnections: ")]
    [InlineData("""{"options.keepAliveInterval": "45s"}""", "options.keepAliveInterval: must be at least 1s and below 30s")]
    [InlineData("""{"history.channels": [{"match": "news", "size": 5}]}""", "history.channels: {match: news, size: 5, age: 2m}: match must be")]
    [InlineData("""["options.maxConnections", 5]""", "changes: must be a JSON object")]
    public async Task An_invalid_value_is_refused_as_the_file_would_refuse_it_with_its_key_named(string changes, string named)
    {
        var before = await LayerVersionAsync(Cluster[0]);

        var error = await RefusedAsync(Cluster[0], JsonDocument.Parse(changes).RootElement);

        Assert.Contains(named, error, StringComparison.Ordinal);
        Assert.Equal(before, await LayerVersionAsync(Cluster[0]));
    }

    [Fact]
    public async Task Sets_made_at_once_on_two_nodes_converge_to_one_version_everywhere_and_both_survive()
    {
        var sets = await Task.WhenAll(
            SetAsync(Cluster[0], new Dictionary<string, object?> { ["options.maxSubscriptionsPerUser"] = 11, ["options.maxConnectionsPerUser"] = 21 }),
            SetAsync(Cluster[1], new Dictionary<string, object?> { ["options.maxSubscriptionsPerUser"] = 12, ["cluster.movedPerSecond"] = 33 }));

        // The later write of the key both set wins everywhere; the keys only one set are kept. "Later" is the stamps'
        // order: by setAt when the two differ; within one millisecond the hybrid clock's counter and the node decide,
        // which setAt does not show, and then either value may win, as long as every node holds the same.
        const string Both = "options.maxSubscriptionsPerUser";
        var written = sets.Select(s => (
            Value: s.GetProperty("values").GetProperty(Both).GetInt32(),
            At: s.GetProperty("entries").EnumerateArray().Single(e => e.GetProperty("key").GetString() == Both).GetProperty("setAt").GetDateTimeOffset())).ToList();
        var version = await Eventually.ValueAsync(
            async () => (await Task.WhenAll(Cluster.Nodes.Select(LayerVersionAsync))).Distinct().ToList(),
            versions => versions.Count == 1,
            "every node holds one layer");
        await AgreeAsync(version[0]);
        var winner = (await Cluster[2].CallAsync("manager", "getConfig", new { })).GetProperty("values").GetProperty(Both).GetInt32();
        Assert.Contains(winner, written.Select(w => w.Value));
        if (written[0].At != written[1].At)
        {
            Assert.Equal(written.MaxBy(w => w.At).Value, winner);
        }

        foreach (var node in Cluster.Nodes)
        {
            var options = (await node.CallAsync("worker", "getConfig", new { })).GetProperty("config");
            Assert.Equal(21, options.GetProperty("options").GetProperty("maxConnectionsPerUser").GetInt32());
            Assert.Equal(33, options.GetProperty("cluster").GetProperty("movedPerSecond").GetInt32());
            Assert.True(winner == options.GetProperty("options").GetProperty("maxSubscriptionsPerUser").GetInt32(), $"the later set wins on {node.Host.Identity.NodeId}");
            Assert.Equal(0, await node.MetricAsync("socketpush_cluster_config_disagreements"));
        }

        await SetAsync(Cluster[2], new Dictionary<string, object?>
        {
            ["options.maxSubscriptionsPerUser"] = null, ["options.maxConnectionsPerUser"] = null, ["cluster.movedPerSecond"] = null,
        });
    }

    /// <summary>Until manager.status on every node shows <paramref name="version"/> for every member, and no disagreement.</summary>
    private Task AgreeAsync(string version) =>
        Eventually.PassesAsync(
            async () =>
            {
                foreach (var node in Cluster.Nodes)
                {
                    var status = await node.CallAsync("manager", "status", new { });
                    Assert.Equal(version, status.GetProperty("clusterConfig").GetProperty("version").GetString());
                    Assert.True(status.GetProperty("clusterConfig").GetProperty("agreed").GetBoolean(), status.GetProperty("clusterConfig").ToString());
                    Assert.All(
                        status.GetProperty("members").EnumerateArray().Where(m => m.GetProperty("state").GetString() == "alive"),
                        m => Assert.Equal(version, m.GetProperty("configVersion").GetString()));
                }
            },
            $"every node shows cluster config version {version} for every member");

    internal static async Task<JsonElement> SetAsync(TestNode node, object changes) =>
        await node.CallAsync("manager", "setConfig", new { changes });

    internal static async Task<string> LayerVersionAsync(TestNode node) =>
        (await node.CallAsync("manager", "getConfig", new { })).GetProperty("version").GetString()!;

    /// <summary>A setConfig that must answer 400 invalid_argument; its message.</summary>
    private static async Task<string> RefusedAsync(TestNode node, object changes)
    {
        using var response = await node.Admin.PostAsJsonAsync("/api/manager/setConfig", new { changes });
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body.ToString());
        Assert.Equal("invalid_argument", body.GetProperty("code").GetString());
        return body.GetProperty("error").GetString()!;
    }
}

/// <summary>The cluster's config layer across restarts: kept in each node's state directory, caught up after a rejoin.</summary>
public sealed class ClusterConfigRestartTests : IAsyncLifetime
{
    private readonly DirectoryInfo _state = Directory.CreateTempSubdirectory("socketpush-cluster-config-restart-");

    private string StateDir(string nodeId) => Path.Combine(_state.FullName, nodeId);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        _state.Delete(recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Every_node_restarts_with_the_layer_and_a_node_that_was_down_during_a_set_catches_up()
    {
        await using var cluster = await TestCluster.StartAsync(3, c => c.Node.StateDir = StateDir(c.Node.Id));
        var first = await ClusterConfigTests.SetAsync(cluster[0], new Dictionary<string, object?> { ["options.maxConnectionsPerUser"] = 7 });
        var version = first.GetProperty("version").GetString()!;
        await Eventually.TrueAsync(async () => (await Task.WhenAll(cluster.Nodes.Select(ClusterConfigTests.LayerVersionAsync))).All(v => v == version), "every node holds the layer");

        for (var i = 0; i < 3; i++)
        {
            var restarted = await cluster.RestartNodeAsync(cluster[i]);
            Assert.Equal(version, await ClusterConfigTests.LayerVersionAsync(restarted));
            await AssertInForceAsync(restarted, 7);
            Assert.Equal(version, StampedLayer.FromFile(await File.ReadAllBytesAsync(Path.Combine(StateDir(restarted.Host.Identity.NodeId), ConfigLayerStore.FileName))).Version);
        }

        // n3 is down while the layer changes: it comes back with what it kept, then takes the new layer from the others.
        string? second = null;
        var n3 = await cluster.RestartNodeAsync(cluster[2], async () =>
            second = (await ClusterConfigTests.SetAsync(cluster[0], new Dictionary<string, object?> { ["options.maxConnectionsPerUser"] = 8 })).GetProperty("version").GetString());
        await Eventually.TrueAsync(async () => await ClusterConfigTests.LayerVersionAsync(n3) == second, "the rejoined node takes the layer set while it was down");
        await AssertInForceAsync(n3, 8);
        await Eventually.TrueAsync(
            () => File.Exists(Path.Combine(StateDir("n3"), ConfigLayerStore.FileName))
                && StampedLayer.FromFile(File.ReadAllBytes(Path.Combine(StateDir("n3"), ConfigLayerStore.FileName))).Version == second,
            "n3 keeps the layer it caught up with");

        // A new node starts with no layer and takes the cluster's.
        var n4 = await cluster.AddNodeAsync();
        await Eventually.TrueAsync(async () => await ClusterConfigTests.LayerVersionAsync(n4) == second, "the new node takes the layer");
        await AssertInForceAsync(n4, 8);

        // The whole cluster down: a node started alone has nobody to take the layer from but its state directory.
        await cluster.DisposeAsync();
        await using var alone = await TestNode.StartAsync(c =>
        {
            c.Node.Id = "n1";
            c.Node.StateDir = StateDir("n1");
        });
        Assert.Equal(second, await ClusterConfigTests.LayerVersionAsync(alone));
        await AssertInForceAsync(alone, 8);
    }

    private static async Task AssertInForceAsync(TestNode node, int maxConnectionsPerUser)
    {
        var config = await node.CallAsync("worker", "getConfig", new { });
        Assert.Equal(maxConnectionsPerUser, config.GetProperty("config").GetProperty("options").GetProperty("maxConnectionsPerUser").GetInt32());
        Assert.Equal("cluster", config.GetProperty("sources").GetProperty("options.maxConnectionsPerUser").GetString());
    }
}
