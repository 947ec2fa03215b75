using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using SocketPush.Client.Services;
using SocketPush.Gossip;
using SocketPush.Node.Edge;
using SocketPush.Node.Cluster;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Configuration;
using SocketPush.Node.Owner;

namespace SocketPush.Node.Tests;

/// <summary>
/// One cluster of three real nodes, sealed with a secret, started once for every test of <see cref="ClusterTests"/>.
/// Those tests leave it as they found it (three alive members) and use ids of their own.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public const string Secret = "the cluster tests' secret";

    internal TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await TestCluster.StartAsync(3, c =>
    {
        c.Cluster.Secret = Secret;
        // The burst test's client receives 10,000 messages at once; the default queue would close it as a slow consumer.
        c.Options.MaxQueuedMessagesPerConnection = 20_000;
        // The burst test measures forwarding against gossip, as it did before history: its user's stream keeps
        // nothing, so each publish is one forwarded call and not also two copies to the replicas (with them, one CI
        // run on 2 shared cores saw members suspect each other; the history benchmark measures that cost).
        c.History.Users = [new HistoryRule { Match = "*" }, new HistoryRule { Match = "burst*", Size = 0 }];
    });

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>Three real nodes in this process (real UDP gossip and peer channel, real Kestrel), seeded with the first.</summary>
public sealed class ClusterTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private const string EdgeDeliveriesServed = "socketpush_peer_calls_served_total{service=\"edge\",method=\"deliver\"}";

    private TestCluster Cluster => fixture.Cluster;

    private IReadOnlyList<TestNode> Nodes => Cluster.Nodes;

    [Fact]
    public async Task Every_node_gives_the_same_answers_and_names_the_owner()
    {
        for (var u = 0; u < 20; u++)
        {
            var userId = $"cu{u}";
            await Nodes[u % 3].CallAsync("auth", "set", new { userId, sessionId = $"s-{userId}" });
            await Nodes[(u + 1) % 3].CallAsync("channel", "subscribe", new { userId, channelId = "cluster/news" });
        }

        var frontends = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in Nodes)
        {
            for (var u = 0; u < 20; u++)
            {
                var userId = $"cu{u}";
                Assert.Equal(userId, (await node.CallAsync("auth", "check", new { sessionId = $"s-{userId}" })).GetString());
                Assert.Equal(["cluster/news"], (await node.CallAsync("channel", "getSubscriptions", new { userId })).Deserialize<string[]>()!);
                var frontend = (await node.CallAsync("user", "getFrontendServer", new { userId })).GetString()!;
                Assert.Equal(Cluster.OwnerOf("u:" + userId).ClientUrl, frontend);
                frontends.Add(frontend);
            }

            Assert.Equal(20, (await node.CallAsync("channel", "getSubscribers", new { channelId = "cluster/news" })).GetArrayLength());
            Assert.Contains("cluster/news", (await node.CallAsync("channel", "listAll", new { })).Deserialize<string[]>()!);
        }

        Assert.True(frontends.Count > 1, "20 users spread over more than one owner");
    }

    [Theory]
    [InlineData(HttpTransportType.WebSockets)]
    [InlineData(HttpTransportType.ServerSentEvents)]
    [InlineData(HttpTransportType.LongPolling)]
    public async Task A_client_sent_to_a_non_owner_ends_on_the_owner_and_receives_publishes_made_on_a_third_node(HttpTransportType transport)
    {
        var (owner, entry, publisher) = (Nodes[2], Nodes[1], Nodes[0]);
        var userId = Cluster.UserOwnedBy(owner, $"hop-{transport}-");
        var channelId = $"hops/{transport}";
        await publisher.CallAsync("auth", "set", new { userId, sessionId = "s-" + userId });
        await publisher.CallAsync("channel", "subscribe", new { userId, channelId });

        await using var hub = entry.Hub(userId, "s-" + userId, transport);
        var inbox = TestNode.Inbox(hub);
        await hub.StartAsync();
        await owner.WaitForConnectionsAsync(userId, 1);
        Assert.Empty(entry.Service<ConnectionRegistry>().ConnectionsOf(userId));

        Assert.Equal(1, (await publisher.CallAsync("user", "publish", new { userId, message = new { n = 1 } })).GetInt32());
        Assert.Equal(1, (await publisher.CallAsync("channel", "publish", new { channelId, message = new { n = 2 } })).GetInt32());
        Assert.Equal("""{"kind":"user","data":{"n":1}}""", TestNode.WithoutPosition(await TestNode.NextAsync(inbox)));
        Assert.Equal($$$"""{"kind":"channel","channelId":"{{{channelId}}}","data":{"n":2}}""", TestNode.WithoutPosition(await TestNode.NextAsync(inbox)));
    }

    [Fact]
    public async Task A_client_that_skipped_negotiate_is_served_in_place_told_its_owner_and_still_receives_publishes_made_on_a_third_node()
    {
        var (owner, entry, publisher) = (Nodes[2], Nodes[1], Nodes[0]);
        var userId = Cluster.UserOwnedBy(owner, "inplace");
        await publisher.CallAsync("auth", "set", new { userId, sessionId = "inplace-session" });
        await publisher.CallAsync("channel", "subscribe", new { userId, channelId = "inplace" });

        await using var hub = entry.Hub(userId, "inplace-session", HttpTransportType.WebSockets, skipNegotiation: true);
        var moved = TestNode.Inbox(hub, "moved");
        var inbox = TestNode.Inbox(hub);
        await hub.StartAsync();
        await entry.WaitForConnectionsAsync(userId, 1);
        Assert.Empty(owner.Service<ConnectionRegistry>().ConnectionsOf(userId));

        var move = await TestNode.NextAsync(moved);
        Assert.Equal(owner.ClientUrl, move.GetProperty("url").GetString());
        Assert.Equal(owner.Host.Identity.NodeId, move.GetProperty("nodeId").GetString());
        await Eventually.TrueAsync(
            () => owner.Service<PresenceTable>().NodesOf(userId).Contains(entry.Host.Identity.NodeId),
            "the owner's presence says the user is connected to the node that serves it");

        Assert.Equal(1, (await publisher.CallAsync("user", "publish", new { userId, message = new { n = 1 } })).GetInt32());
        Assert.Equal(1, (await publisher.CallAsync("channel", "publish", new { channelId = "inplace", message = new { n = 2 } })).GetInt32());
        Assert.Equal("""{"kind":"user","data":{"n":1}}""", TestNode.WithoutPosition(await TestNode.NextAsync(inbox)));
        Assert.Equal("""{"kind":"channel","channelId":"inplace","data":{"n":2}}""", TestNode.WithoutPosition(await TestNode.NextAsync(inbox)));
    }

    [Fact]
    public async Task Negotiate_on_a_non_owner_redirects_counting_the_redirects_and_after_two_answers_where_it_arrives()
    {
        var (owner, entry) = (Nodes[1], Nodes[0]);
        var userId = Cluster.UserOwnedBy(owner, "negotiate");
        using var http = new HttpClient();
        async Task<JsonElement> NegotiateAsync(string query)
        {
            using var answer = await http.PostAsync(new Uri($"{entry.ClientUrl}/push/negotiate?negotiateVersion=1&userId={userId}{query}"), null);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            return JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.Clone();
        }

        // Sent to the owner with the count; a client sent on twice (rings that disagree for a moment would bounce it
        // until the client's own limit) is given a connection here, where it is served and told `moved`.
        Assert.Equal($"{owner.ClientUrl}/push?userId={userId}&redirects=1", (await NegotiateAsync("")).GetProperty("url").GetString());
        Assert.Equal($"{owner.ClientUrl}/push?userId={userId}&redirects=2", (await NegotiateAsync("&redirects=1")).GetProperty("url").GetString());
        var here = await NegotiateAsync("&redirects=2");
        Assert.False(here.TryGetProperty("url", out _), here.ToString());
        Assert.True(here.GetProperty("connectionToken").GetString()!.Length > 0, here.ToString());
    }

    [Fact]
    public async Task Sse_on_a_non_owner_answers_307_and_the_owner_streams_a_publish_made_on_a_third_node()
    {
        var (owner, entry, publisher) = (Nodes[1], Nodes[0], Nodes[2]);
        var userId = Cluster.UserOwnedBy(owner, "sse");
        await publisher.CallAsync("auth", "set", new { userId, sessionId = "sse-session" });
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { Timeout = Timeout.InfiniteTimeSpan };

        using var redirect = await http.GetAsync(new Uri($"{entry.ClientUrl}/sse?userId={userId}&sessionId=sse-session"));
        Assert.Equal(HttpStatusCode.TemporaryRedirect, redirect.StatusCode);
        var location = redirect.Headers.Location!;
        Assert.StartsWith(owner.ClientUrl + "/sse?", location.ToString(), StringComparison.Ordinal);

        using var stream = await http.GetAsync(location, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        Assert.Equal("text/event-stream", stream.Content.Headers.ContentType?.MediaType);
        await owner.WaitForConnectionsAsync(userId, 1);
        Assert.Empty(entry.Service<ConnectionRegistry>().ConnectionsOf(userId));

        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        Assert.Equal(1, (await publisher.CallAsync("user", "publish", new { userId, message = new { n = 3 } })).GetInt32());
        var (name, data) = await TestNode.NextSseEventAsync(reader);
        Assert.Equal(("message", """{"kind":"user","data":{"n":3}}"""), (name, TestNode.WithoutPosition(data)));
    }

    [Fact]
    public async Task A_channel_publish_reaches_subscribers_on_every_node_with_one_batch_per_other_node()
    {
        var channelOwner = Nodes[0];
        var channelId = Cluster.ChannelOwnedBy(channelOwner, "fanout");
        var hubs = new List<HubConnection>();
        var inboxes = new List<ChannelReader<JsonElement>>();
        try
        {
            // Two subscribers owned by each node, each connected to its owner.
            foreach (var node in Nodes)
            {
                for (var i = 0; i < 2; i++)
                {
                    var userId = Cluster.UserOwnedBy(node, $"fan-{node.Host.Identity.NodeId}-{i}-");
                    await channelOwner.CallAsync("auth", "set", new { userId, sessionId = "s-" + userId });
                    await channelOwner.CallAsync("channel", "subscribe", new { userId, channelId });
                    var hub = node.Hub(userId, "s-" + userId, HttpTransportType.WebSockets);
                    hubs.Add(hub);
                    inboxes.Add(TestNode.Inbox(hub));
                    await hub.StartAsync();
                    await node.WaitForConnectionsAsync(userId, 1);
                }
            }

            var before = await Task.WhenAll(Nodes.Select(n => n.MetricAsync(EdgeDeliveriesServed)));
            const int publishes = 5;
            for (var p = 0; p < publishes; p++)
            {
                Assert.Equal(6, (await Nodes[p % 3].CallAsync("channel", "publish", new { channelId, message = p })).GetInt32());
            }

            var after = await Task.WhenAll(Nodes.Select(n => n.MetricAsync(EdgeDeliveriesServed)));
            // The channel's owner delivers to its own users itself; every other node got exactly one batch per publish.
            Assert.Equal(new double[] { 0, publishes, publishes }, after.Zip(before, (a, b) => a - b).ToArray());
            foreach (var inbox in inboxes)
            {
                for (var p = 0; p < publishes; p++)
                {
                    Assert.Equal(p, (await TestNode.NextAsync(inbox)).GetProperty("data").GetInt32());
                }
            }
        }
        finally
        {
            foreach (var hub in hubs)
            {
                await hub.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Garbage_bad_versions_truncated_calls_and_another_secret_are_dropped_and_counted_and_the_node_stays_in_the_cluster()
    {
        const string gossipUnauthenticated = "socketpush_gossip_datagrams_dropped_total{reason=\"unauthenticated\"}";
        const string peerMalformed = "socketpush_peer_messages_dropped_total{reason=\"malformed\"}";
        const string countServed = "socketpush_peer_calls_served_total{service=\"records\",method=\"count\"}";
        var target = Nodes[1];
        var targetAddress = target.Host.Identity.ClusterEndpoint;

        // Datagrams at the cluster port: random bytes, and LiteNetLib unconnected messages of random bytes (first byte 9,
        // LiteNetLib 2's PacketProperty.UnconnectedMessage), which reach the gossip layer and do not open there.
        var unauthenticated = await target.MetricAsync(gossipUnauthenticated);
        var random = new Random(7);
        using (var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0)))
        {
            for (var i = 0; i < 40; i++)
            {
                var datagram = new byte[random.Next(2, 600)];
                random.NextBytes(datagram);
                if (i % 2 == 1)
                {
                    datagram[0] = 9;
                }

                await udp.SendAsync(datagram, IPEndPoint.Parse(targetAddress));
            }
        }

        await Eventually.TrueAsync(
            async () => await target.MetricAsync(gossipUnauthenticated) >= unauthenticated + 20,
            "the 20 unconnected messages that do not open under the secret are counted");

        // A peer that knows the secret but is no member sends data-plane messages the node cannot read, then a valid call.
        var malformed = await target.MetricAsync(peerMalformed);
        var served = await target.MetricAsync(countServed);
        await using (var stranger = Membership.Start(StrangerOptions(target, ClusterFixture.Secret, seeds: []), "stranger", "none"u8.ToArray()))
        {
            var answered = new TaskCompletionSource<PeerEnvelope>(TaskCreationOptions.RunContinuationsAsynchronously);
            stranger.Peers.Received += (sender, payload) =>
            {
                if (PeerEnvelope.TryDecode(payload, out _) is { IsAnswer: true, Id: 42 } answer)
                {
                    answered.TrySetResult(answer);
                }
            };
            var call = new PeerEnvelope { Id = 42, From = "stranger", Request = new RecordsCount() }.Encode();
            byte[] otherVersion = [.. call];
            otherVersion[0] = ClusterSettings.WireVersion + 1;
            foreach (var bad in new byte[][] { otherVersion, call[..(call.Length / 2)], call[..2], [ClusterSettings.WireVersion] })
            {
                Assert.True(stranger.Peers.Send(targetAddress, bad));
            }

            Assert.True(stranger.Peers.Send(targetAddress, call));
            // The data channel is ordered: once the valid call is answered, the four before it were handled.
            var answer = await answered.Task.WaitAsync(Eventually.DefaultTimeout);
            Assert.Null(answer.ErrorCode);
        }

        Assert.Equal(malformed + 4, await target.MetricAsync(peerMalformed));
        Assert.Equal(served + 1, await target.MetricAsync(countServed));

        // A node with another secret can neither join nor call.
        unauthenticated = await target.MetricAsync(gossipUnauthenticated);
        await using (var intruder = Membership.Start(StrangerOptions(target, "another secret", seeds: [targetAddress]), "intruder", "none"u8.ToArray()))
        {
            var refused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var sent = 0;
            intruder.Peers.Disconnected += _ =>
            {
                if (Volatile.Read(ref sent) == 1)
                {
                    refused.TrySetResult();
                }
            };
            Assert.True(intruder.Peers.Send(targetAddress, new PeerEnvelope { Id = 43, From = "intruder", Request = new RecordsCount() }.Encode()));
            Volatile.Write(ref sent, 1);
            await refused.Task.WaitAsync(Eventually.DefaultTimeout);
            await Eventually.TrueAsync(
                async () => await target.MetricAsync(gossipUnauthenticated) > unauthenticated,
                "the intruder's datagrams and connection are counted as unauthenticated");
            Assert.Equal(0, intruder.Peers.Counters.MessagesSent);
            Assert.Equal(["intruder"], intruder.Snapshot.Live.Select(m => m.Name));
        }

        Assert.Equal(served + 1, await target.MetricAsync(countServed));
        await Cluster.WaitForRingsAsync();
        Assert.All(Nodes, n => Assert.Equal(["n1", "n2", "n3"], n.Service<ClusterMembership>().View.Members.Select(m => m.Name)));
        await Cluster.AssertStatusAgreesAsync(alive: 3);
    }

    [Fact]
    public async Task Ten_thousand_publishes_forwarded_to_another_owner_all_arrive_and_no_member_is_suspected()
    {
        const int count = 10_000;
        const string suspicions = "socketpush_gossip_suspicions_total";
        const string forwardedOk = "socketpush_forwarded_calls_total{service=\"user\",method=\"publish\",result=\"ok\"}";
        var (owner, publisher) = (Nodes[1], Nodes[0]);
        var userId = Cluster.UserOwnedBy(owner, "burst");
        await owner.CallAsync("auth", "set", new { userId, sessionId = "burst-session" });
        await using var hub = owner.Hub(userId, "burst-session", HttpTransportType.WebSockets);
        var received = 0;
        hub.On<JsonElement>("message", _ => Interlocked.Increment(ref received));
        await hub.StartAsync();
        await owner.WaitForConnectionsAsync(userId, 1);

        var notAlive = new ConcurrentQueue<string>();
        var watchers = Nodes.Select(n => (Gossip: n.Service<ClusterMembership>().Gossip, Handler: (EventHandler<MembershipChange>)((_, change) =>
        {
            if (change.Kind is MembershipChangeKind.Suspected or MembershipChangeKind.Failed or MembershipChangeKind.Left)
            {
                notAlive.Enqueue($"{n.Host.Identity.NodeId} saw {change.Member.Name} {change.Kind}");
            }
        }))).ToList();
        watchers.ForEach(w => w.Gossip.Changed += w.Handler);
        try
        {
            var suspicionsBefore = await Task.WhenAll(Nodes.Select(n => n.MetricAsync(suspicions)));
            var forwardedBefore = await publisher.MetricAsync(forwardedOk);
            // The routed service, as the API calls it, without HTTP in the way of the burst.
            var users = publisher.Service<IUserService>();
            var delivered = 0;
            await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, cancellationToken) =>
            {
                if (await users.PublishAsync(userId, JsonSerializer.SerializeToElement(i), cancellationToken: cancellationToken) == 1)
                {
                    Interlocked.Increment(ref delivered);
                }
            });

            Assert.Equal(count, delivered);
            Assert.Equal(forwardedBefore + count, await publisher.MetricAsync(forwardedOk));
            await Eventually.TrueAsync(() => Volatile.Read(ref received) == count, $"the client received all {count} messages", TimeSpan.FromSeconds(60));

            // Gossip goes on probing after the burst, and still suspects no one.
            foreach (var (gossip, _) in watchers)
            {
                var probes = gossip.Counters.Probes;
                await Eventually.TrueAsync(() => gossip.Counters.Probes >= probes + 3, $"{gossip.Name} probes three more times");
            }

            Assert.Equal(suspicionsBefore, await Task.WhenAll(Nodes.Select(n => n.MetricAsync(suspicions))));
            Assert.Empty(notAlive);
            Assert.All(watchers, w => Assert.All(w.Gossip.Snapshot.Members, m => Assert.Equal(MemberState.Alive, m.State)));
        }
        finally
        {
            watchers.ForEach(w => w.Gossip.Changed -= w.Handler);
        }
    }

    [Fact]
    public Task Status_shows_three_alive_members_and_the_same_shares_on_every_node() => Cluster.AssertStatusAgreesAsync(alive: 3);

    /// <summary>Gossip options of a member outside the cluster: the node's own timings, on a port the OS picks, only <paramref name="secret"/>.</summary>
    internal static GossipOptions StrangerOptions(TestNode node, string secret, List<string> seeds)
    {
        var options = GossipSettings.Of(node.Service<LiveConfig>().Current, seeds);
        options.Port = 0;
        options.Secret = secret;
        options.PreviousSecret = null;
        return options;
    }
}
