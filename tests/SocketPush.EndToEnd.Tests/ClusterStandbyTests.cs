using System.Globalization;

namespace SocketPush.EndToEnd.Tests;

/// <summary>
/// Standby nodes (node.standby) with real node processes: two standbys wait beside three active nodes; one active
/// member is killed (SIGKILL); after cluster.standbyAfter exactly one standby stands in for it and every key is back
/// at three copies; the killed member, started again with its id, rejoins as an active member beside the promoted
/// standby, and the other standby keeps waiting.
/// </summary>
public sealed class ClusterStandbyTests(ITestOutputHelper output)
{
    private const int Users = 60;

    [Fact]
    public async Task A_killed_member_is_stood_in_for_by_exactly_one_standby_every_key_gets_its_copies_back_and_the_member_returning_rejoins_beside_it()
    {
        await using var cluster = await ClusterUnderTest.StartAsync(3, "cluster:\n  standbyAfter: 2s\n", output);
        await cluster.AddNodeAsync("node:\n  standby: true\n");
        await cluster.AddNodeAsync("node:\n  standby: true\n");
        string[] all = ["n1", "n2", "n3", "n4", "n5"];
        await cluster.WaitForAgreementAsync(all, new Dictionary<string, string>());

        // Waiting standbys: in gossip, out of the ring, not ready for clients.
        foreach (var (nodeId, api) in cluster.Apis(all))
        {
            var status = await api.StatusAsync();
            Assert.Equal(["n4", "n5"], status.Standbys);
            Assert.Equal(0m, status.AliveShares["n4"]);
            Assert.Equal(0m, status.AliveShares["n5"]);
        }

        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => cluster.Api("n5").GetTextAsync("/readyz"));
        Assert.Contains("503", refused.Message, StringComparison.Ordinal);
        Assert.Contains("standby", refused.Message, StringComparison.Ordinal);

        // Records on every active node (3 replicas of 3 nodes), written through a standby too: it forwards.
        for (var i = 0; i < Users; i++)
        {
            var userId = string.Create(CultureInfo.InvariantCulture, $"standby-{i}");
            await cluster.Api(i % 2 == 0 ? "n1" : "n5").CallAsync("auth", "set", new { userId, sessionId = "s-" + userId });
        }

        cluster["n2"].Kill();

        // The first standby by id stands in for n2; the other keeps waiting; the ring is n1, n3, n4.
        string[] alive = ["n1", "n3", "n4", "n5"];
        await cluster.WaitForAgreementAsync(alive, new Dictionary<string, string> { ["n2"] = "dead" }, TimeSpan.FromSeconds(60));
        await Eventually.PassesAsync(
            async () =>
            {
                foreach (var (_, api) in cluster.Apis(alive))
                {
                    var status = await api.StatusAsync();
                    Assert.Equal(["n5"], status.Standbys);
                    Assert.Equal("n2", status.StandsInFor("n4"));
                    Assert.Equal("", status.StandsInFor("n5"));
                    Assert.True(status.AliveShares["n4"] > 0m, status.ToString());
                    Assert.Equal(0m, status.AliveShares["n5"]);
                }
            },
            "n4 stands in for n2 on every node, n5 still waits",
            TimeSpan.FromSeconds(60));
        Assert.Contains("ready", await cluster.Api("n4").GetTextAsync("/readyz"), StringComparison.Ordinal);

        // Every key back at three copies: each active node holds every session, nothing is owed.
        await WaitForCopiesAsync(cluster, ["n1", "n3", "n4"]);
        Assert.Equal(0, (await cluster.Api("n1").StatusAsync()).RecordsOf("n5")?.Sessions ?? 0);

        // n2 comes back with its id: an active member again, beside n4 (which stays); n5 still waits.
        await cluster.StartAgainAsync("n2");
        string[] back = ["n1", "n2", "n3", "n4", "n5"];
        await cluster.WaitForAgreementAsync(back, new Dictionary<string, string>(), TimeSpan.FromSeconds(60));
        foreach (var (_, api) in cluster.Apis(back))
        {
            var status = await api.StatusAsync();
            Assert.Equal(["n5"], status.Standbys);
            Assert.True(status.AliveShares["n2"] > 0m && status.AliveShares["n4"] > 0m, status.ToString());
        }

        await WaitForCopiesAsync(cluster, ["n1", "n2", "n3", "n4"]);
        foreach (var (_, api) in cluster.Apis(back))
        {
            Assert.Equal("standby-7", (await api.CallAsync("auth", "check", new { sessionId = "s-standby-7" })).GetString());
        }
    }

    /// <summary>Waits until every node of the ring holds its keys at min(replicas, ring) copies, owes none, and together they hold every session three times.</summary>
    private static Task WaitForCopiesAsync(ClusterUnderTest cluster, string[] ring) =>
        Eventually.PassesAsync(
            async () =>
            {
                var sessions = 0;
                foreach (var (nodeId, api) in cluster.Apis(ring))
                {
                    var status = await api.StatusAsync();
                    Assert.Equal(3, status.CopiesPossible);
                    Assert.Equal(0, status.KeysUnderReplicated);
                    Assert.Equal(0, status.MissingCopies);
                    sessions += status.RecordsOf(nodeId)?.Sessions ?? 0;
                }

                Assert.Equal(3 * Users, sessions);
            },
            $"{string.Join(", ", ring)} hold every session three times and owe no copy",
            TimeSpan.FromSeconds(60));
}
