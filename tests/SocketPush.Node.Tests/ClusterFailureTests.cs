using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SocketPush.Node.Cluster;
using SocketPush.Node.Cluster.Peers;

namespace SocketPush.Node.Tests;

/// <summary>A cluster of its own whose owner stops answering its peers: the calls waiting for it end, as 503.</summary>
public sealed class ClusterFailureTests
{
    private const string ForwardedPublishes = "socketpush_forwarded_calls_total{service=\"user\",method=\"publish\",result=";

    [Fact]
    public async Task An_owner_that_does_not_answer_gives_503_unavailable_at_the_request_timeout_and_a_call_beyond_the_in_flight_bound_fails_at_once()
    {
        await using var cluster = await TestCluster.StartAsync(3, c =>
        {
            c.Cluster.RequestTimeout = TimeSpan.FromSeconds(3);
            c.Cluster.LeaveTimeout = TimeSpan.FromSeconds(1);
            c.Cluster.MaxRequestsInFlightPerPeer = 2;
        });
        var (caller, owner) = (cluster[0], cluster[2]);
        var userId = cluster.UserOwnedBy(owner, "stuck");
        await caller.CallAsync("auth", "set", new { userId, sessionId = "stuck-session" });

        // The owner's data plane stops serving while its gossip goes on: it stays alive, so only the timeout ends the calls.
        owner.Service<PeerLinks>().Dispose();
        var peers = caller.Service<ClusterMembership>().Peers;
        var sent = peers.Counters.MessagesSent;
        // Only a guard against a hang, far beyond the request timeout; not a measure of speed.
        using var hangGuard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var waiting = Enumerable.Range(0, 2)
            .Select(i => caller.Admin.PostAsJsonAsync("/api/user/publish", new { userId, message = i }, hangGuard.Token))
            .ToList();
        await Eventually.TrueAsync(() => peers.Counters.MessagesSent >= sent + 2, "both calls went out to the owner");

        using (var third = await caller.Admin.PostAsJsonAsync("/api/user/publish", new { userId, message = 2 }, hangGuard.Token))
        {
            await AssertUnavailableAsync(third, "cluster.maxRequestsInFlightPerPeer");
        }

        foreach (var call in waiting)
        {
            using var response = await call;
            await AssertUnavailableAsync(response, "cluster.requestTimeout");
        }

        Assert.True(caller.Service<ClusterMembership>().View.Member(owner.Host.Identity.NodeId)?.IsLive, "the owner is still an alive member");
        // A publish whose owner timed out asks it again after a moment (it may only be slow), until cluster.publishTimeout:
        // the bound and the timeout may each be met more than once on the way.
        Assert.InRange(await caller.MetricAsync(ForwardedPublishes + "\"overloaded\"}"), 1, 10);
        Assert.InRange(await caller.MetricAsync(ForwardedPublishes + "\"unavailable\"}"), 2, 10);
    }

    [Fact]
    public async Task A_write_succeeds_with_one_replica_silent_and_answers_503_when_the_write_quorum_cannot_be_reached()
    {
        await using var cluster = await TestCluster.StartAsync(3, c =>
        {
            c.Cluster.RequestTimeout = TimeSpan.FromSeconds(2);
            // The silent nodes take nothing at the end either: each stop gives up handing over after a second.
            c.Cluster.LeaveTimeout = TimeSpan.FromSeconds(1);
            c.Cluster.Replicas = 3;
            c.Cluster.WriteQuorum = 2;
        });
        var owner = cluster[0];
        // Every key of the calls is the owner's, so the only other nodes they need are the replicas.
        var first = cluster.UserOwnedBy(owner, "quorum-a");
        var second = cluster.UserOwnedBy(owner, "quorum-b");
        var channelId = cluster.ChannelOwnedBy(owner, "quorum/");

        // One replica silent: the owner and the other replica make the quorum of 2.
        cluster[2].Service<PeerLinks>().Dispose();
        await owner.CallAsync("channel", "subscribe", new { userId = first, channelId });
        Assert.Equal([channelId], (await cluster[1].CallAsync("channel", "getSubscriptions", new { userId = first })).Deserialize<string[]>()!);

        // Both others silent: only the owner has the write, so it answers 503 at the request timeout and says why.
        cluster[1].Service<PeerLinks>().Dispose();
        using var hangGuard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var refused = await owner.Admin.PostAsJsonAsync("/api/channel/subscribe", new { userId = second, channelId }, hangGuard.Token);
        await AssertUnavailableAsync(refused, "cluster.writeQuorum");
        // Two writes missed their quorum: the user's record and the channel's (both on the owner).
        Assert.Equal(2, await owner.MetricAsync("socketpush_quorum_failures_total"));
        Assert.True(await owner.MetricAsync("socketpush_records_replicated_total") >= 2);
    }

    private static async Task AssertUnavailableAsync(HttpResponseMessage response, string setting)
    {
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("unavailable", body.GetProperty("code").GetString());
        Assert.Contains(setting, body.GetProperty("error").GetString(), StringComparison.Ordinal);
    }
}
