using System.Net;
using System.Net.Sockets;
using System.Text;
using LiteNetLib;
using SocketPush.Gossip.Transport;

namespace SocketPush.Gossip.Tests;

/// <summary>The data plane on the gossip port, through real LiteNetLib on loopback.</summary>
public class PeerChannelTests
{
    private static readonly TimeSpan Patience = UdpCluster.Patience;

    [Fact]
    public async Task Messages_between_three_members_arrive_in_order_both_ways_and_a_reply_reaches_the_requester()
    {
        await using var cluster = await UdpCluster.StartAsync(3);
        var members = cluster.Members;
        var inboxes = members.Select(m => new Inbox(m)).ToList();

        // m2 answers pings from its receive thread, on the connection each came in on.
        members[2].Peers.Received += (from, payload) =>
        {
            var text = Encoding.UTF8.GetString(payload);
            if (text.StartsWith("ping:", StringComparison.Ordinal))
            {
                Assert.True(members[2].Peers.Send(from, Encoding.UTF8.GetBytes("pong:" + text[5..])));
            }
        };

        const int perPair = 200;
        foreach (var sender in members)
        {
            foreach (var receiver in members.Where(m => m != sender))
            {
                for (var i = 0; i < perPair; i++)
                {
                    Assert.True(sender.Peers.Send(receiver.Address, Encoding.UTF8.GetBytes($"{sender.Name}>{receiver.Name}:{i}")));
                }
            }
        }

        Assert.True(members[0].Peers.Send(members[2].Address, "ping:42"u8));

        for (var r = 0; r < members.Count; r++)
        {
            var receiver = members[r];
            var expected = (2 * perPair) + (r == 0 ? 1 : 0) + (r == 2 ? 1 : 0);
            var messages = await inboxes[r].WaitForAsync(all => all.Count >= expected);
            Assert.Equal(expected, messages.Count);
            foreach (var sender in members.Where(m => m != receiver))
            {
                var fromSender = messages.Where(m => m.From.Equals(sender.LocalEndPoint)).Select(m => m.Text)
                    .Where(t => t.Contains('>', StringComparison.Ordinal)).ToList();
                Assert.Equal(Enumerable.Range(0, perPair).Select(i => $"{sender.Name}>{receiver.Name}:{i}"), fromSender);
            }
        }

        var pong = Assert.Single(inboxes[0].Messages, m => m.Text.StartsWith("pong:", StringComparison.Ordinal));
        Assert.Equal("pong:42", pong.Text);
        Assert.Equal(members[2].LocalEndPoint, pong.From);

        Assert.All(members, m => Assert.Equal((2 * perPair) + (m == members[0] ? 1 : 0) + (m == members[2] ? 1 : 0), m.Peers.Counters.MessagesSent));
        Assert.All(members, m => Assert.Equal(0, m.Peers.Counters.SendRefused));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("cluster secret")]
    public async Task A_one_megabyte_payload_arrives_intact_and_one_over_the_limit_is_refused(string? secret)
    {
        await using var cluster = await UdpCluster.StartAsync(2, secret);
        var (sender, receiver) = (cluster.Members[0], cluster.Members[1]);
        var inbox = new Inbox(receiver);
        var payload = new byte[1024 * 1024];
        new Random(11).NextBytes(payload);

        Assert.True(sender.Peers.Send(receiver.Address, payload));
        Assert.False(sender.Peers.Send(receiver.Address, new byte[PeerChannel.MaxMessageBytes + 1]));

        var received = Assert.Single(await inbox.WaitForAsync(all => all.Count >= 1));
        Assert.Equal(payload, received.Payload);
        Assert.Equal(sender.LocalEndPoint, received.From);
        Assert.Equal(1, sender.Peers.Counters.SendRefused);
        Assert.Equal(1, sender.Peers.Counters.MessagesSent);
        Assert.Equal(sender.Peers.Counters.BytesSent, receiver.Peers.Counters.BytesReceived);
    }

    [Fact]
    public async Task A_burst_of_ten_thousand_messages_each_way_all_arrives_and_gossip_suspects_no_one()
    {
        // A 400 ms probe timeout (500 ms interval): a probe queued behind the burst's 20 MB would miss it, while a
        // 100 ms timeout failed once in CI from CPU contention alone (2 cores shared with the other test projects).
        // 1000-byte messages make the burst last over several probes.
        await using var cluster = await UdpCluster.StartAsync(2, tune: swim =>
        {
            swim.ProbeInterval = TimeSpan.FromMilliseconds(500);
            swim.ProbeTimeout = TimeSpan.FromMilliseconds(400);
        });
        var members = cluster.Members;
        var inboxes = members.Select(m => new Inbox(m)).ToList();
        var notAlive = new List<MembershipChange>();
        foreach (var member in members)
        {
            member.Changed += (_, change) =>
            {
                if (change.Kind is MembershipChangeKind.Suspected or MembershipChangeKind.Failed or MembershipChangeKind.Left)
                {
                    lock (notAlive)
                    {
                        notAlive.Add(change);
                    }
                }
            };
        }

        const int count = 10_000;
        await Task.WhenAll(members.Select((sender, s) => Task.Run(() =>
        {
            var receiver = members[1 - s];
            var payload = new byte[1000];
            for (var i = 0; i < count; i++)
            {
                BitConverter.TryWriteBytes(payload, i);
                payload.AsSpan(4).Fill((byte)s);
                Assert.True(sender.Peers.Send(receiver.Address, payload));
            }
        })));

        for (var r = 0; r < 2; r++)
        {
            var messages = await inboxes[r].WaitForAsync(all => all.Count >= count);
            Assert.Equal(Enumerable.Range(0, count), messages.Select(m => BitConverter.ToInt32(m.Payload)));
            Assert.All(messages, m => Assert.True(m.Payload.AsSpan(4).IndexOfAnyExcept((byte)(1 - r)) < 0));
        }

        // Gossip goes on probing after the burst too.
        foreach (var member in members)
        {
            var probes = member.Counters.Probes;
            await member.WaitUntilAsync(m => m.Counters.Probes >= probes + 3, Patience);
        }

        Assert.All(members, m => Assert.Equal(0, m.Counters.Suspicions));
        Assert.All(members, m => Assert.All(m.Snapshot.Members, member => Assert.Equal(MemberState.Alive, member.State)));
        lock (notAlive)
        {
            Assert.Empty(notAlive);
        }
    }

    [Fact]
    public async Task A_member_with_the_wrong_secret_or_none_cannot_deliver_data_its_connection_is_refused()
    {
        await using var cluster = await UdpCluster.StartAsync(2, secret: "right secret");
        var target = cluster.Members[0];
        var inbox = new Inbox(target);
        foreach (var secret in new[] { "wrong secret", null })
        {
            await using var intruder = UdpCluster.Start(UdpCluster.Options([target.Address], secret), "intruder");
            var lost = new TaskCompletionSource<IPEndPoint>(TaskCreationOptions.RunContinuationsAsynchronously);
            var sent = 0;
            intruder.Peers.Disconnected += endPoint =>
            {
                // Only a loss after the send counts: the join attempts fail the same way before it.
                if (Volatile.Read(ref sent) == 1)
                {
                    lost.TrySetResult(endPoint);
                }
            };

            var refusedBefore = target.Counters.DroppedUnauthenticated;
            Assert.True(intruder.Peers.Send(target.Address, "let me in"u8));
            Volatile.Write(ref sent, 1);

            Assert.Equal(target.LocalEndPoint, await lost.Task.WaitAsync(Patience));
            await target.WaitUntilAsync(m => m.Counters.DroppedUnauthenticated > refusedBefore, Patience);
            Assert.Equal(0, intruder.Peers.Counters.MessagesSent);
        }

        Assert.Empty(inbox.Messages);
        Assert.Equal(0, target.Peers.Counters.MessagesReceived);
    }

    [Fact]
    public async Task With_a_secret_garbage_and_replayed_gossip_on_the_data_channel_are_counted_and_nothing_is_raised()
    {
        const string secret = "right secret";
        await using var cluster = await UdpCluster.StartAsync(2, secret);
        var target = cluster.Members[0];
        var inbox = new Inbox(target);
        using var right = new DatagramSealer(secret);
        using var wrong = new DatagramSealer("wrong secret");
        var garbage = new byte[200];
        new Random(3).NextBytes(garbage);
        garbage[0] = 0x42;

        var unauthenticated = new[]
        {
            garbage,                                                            // neither sealed nor framed
            right.Seal(PeerChannel.WireVersion, "replayed push-pull"u8, SealPurpose.Reliable),
            right.Seal(PeerChannel.WireVersion, "replayed probe"u8, SealPurpose.Datagram),
            wrong.Seal(PeerChannel.WireVersion, "other cluster"u8, SealPurpose.Data),
            [PeerChannel.WireVersion, .. "plain"u8],                            // plain where sealing is required
        };
        var malformed = new[]
        {
            right.Seal(9, "a future layout"u8, SealPurpose.Data),               // opens, unknown version
            right.Seal([], SealPurpose.Data),                                   // opens, empty
        };
        var valid = right.Seal(PeerChannel.WireVersion, "the real one"u8, SealPurpose.Data);
        var last = right.Seal(PeerChannel.WireVersion, "after its replay"u8, SealPurpose.Data);

        await using (var client = await RawClient.ConnectAsync(target.LocalEndPoint, right.Seal(LiteNetTransport.ConnectToken, SealPurpose.Connect)))
        {
            // The valid message twice: the copy is authentic but seen, as a replay on a new connection would be.
            foreach (var message in unauthenticated.Concat(malformed).Append(valid).Append(valid).Append(last))
            {
                client.Peer.Send(message, LiteNetTransport.DataChannel, DeliveryMethod.ReliableOrdered);
            }

            // The channel is ordered: once the last message is raised, every message before it was handled.
            var received = await inbox.WaitForAsync(all => all.Count >= 2);
            Assert.Equal(["the real one", "after its replay"], received.Select(m => m.Text));
        }

        var counters = target.Peers.Counters;
        Assert.Equal(unauthenticated.Length, counters.DroppedUnauthenticated);
        Assert.Equal(malformed.Length, counters.DroppedMalformed);
        Assert.Equal(1, counters.DroppedReplayed);
        Assert.Equal(2, counters.MessagesReceived);

        // The other way round: a sealed data message sent to the gossip port as a datagram does not open as gossip.
        var droppedBefore = target.Counters.DroppedUnauthenticated;
        var sender = new NetManager(new EventBasedNetListener()) { UnconnectedMessagesEnabled = true, IPv6Enabled = false };
        Assert.True(sender.Start(IPAddress.Loopback, IPAddress.IPv6Any, 0));
        try
        {
            Assert.True(sender.SendUnconnectedMessage(valid, target.LocalEndPoint));
            await target.WaitUntilAsync(m => m.Counters.DroppedUnauthenticated > droppedBefore, Patience);
        }
        finally
        {
            sender.Stop();
        }

        Assert.Equal(2, inbox.Messages.Count);
        Assert.Equal(2, target.Snapshot.Live.Count());
    }

    [Fact]
    public async Task Without_a_secret_a_message_that_is_not_framed_is_counted_and_nothing_is_raised()
    {
        await using var cluster = await UdpCluster.StartAsync(2);
        var target = cluster.Members[0];
        var inbox = new Inbox(target);
        await using (var client = await RawClient.ConnectAsync(target.LocalEndPoint, LiteNetTransport.ConnectToken))
        {
            client.Peer.Send([7, 1, 2, 3], LiteNetTransport.DataChannel, DeliveryMethod.ReliableOrdered);               // unknown version
            client.Peer.Send([DatagramSealer.SealedMarker, .. new byte[40]], LiteNetTransport.DataChannel, DeliveryMethod.ReliableOrdered);
            client.Peer.Send([PeerChannel.WireVersion, .. "plain"u8], LiteNetTransport.DataChannel, DeliveryMethod.ReliableOrdered);
            var received = Assert.Single(await inbox.WaitForAsync(all => all.Count >= 1));
            Assert.Equal("plain", received.Text);
        }

        Assert.Equal(1, target.Peers.Counters.DroppedMalformed);
        Assert.Equal(1, target.Peers.Counters.DroppedUnauthenticated);
    }

    [Fact]
    public async Task A_send_to_where_nobody_listens_is_queued_within_the_bound_then_the_loss_is_raised()
    {
        var options = UdpCluster.Options([], secret: null);
        options.PeerConnectTimeout = TimeSpan.FromSeconds(1);
        await using var member = UdpCluster.Start(options, "alone");
        var nobody = FreeLoopbackEndPoint();
        var lost = new TaskCompletionSource<IPEndPoint>(TaskCreationOptions.RunContinuationsAsynchronously);
        member.Peers.Disconnected += endPoint => lost.TrySetResult(endPoint);

        Assert.True(member.Peers.Send(nobody.ToString(), "hello?"u8));
        var large = new byte[1_000_000];
        for (var i = 0; i < 4; i++)
        {
            Assert.True(member.Peers.Send(nobody, large));
        }

        Assert.False(member.Peers.Send(nobody, large));       // 4 MB already wait for this connection
        Assert.False(member.Peers.Send("not an address", "x"u8));

        Assert.Equal(nobody, await lost.Task.WaitAsync(Patience));
        var counters = member.Peers.Counters;
        Assert.Equal(2, counters.SendRefused);
        Assert.Equal(0, counters.MessagesSent);

        // What waited was dropped with the attempt: the next message finds room again.
        Assert.True(member.Peers.Send(nobody, large));
    }

    [Fact]
    public async Task Send_after_dispose_returns_false()
    {
        await using var cluster = await UdpCluster.StartAsync(2);
        var (member, other) = (cluster.Members[0], cluster.Members[1]);
        Assert.True(member.Peers.Send(other.Address, "before"u8));

        await member.DisposeAsync();

        Assert.False(member.Peers.Send(other.Address, "after"u8));
        Assert.False(member.Peers.Send(other.LocalEndPoint, "after"u8));
        Assert.Equal(2, member.Peers.Counters.SendRefused);
    }

    [Fact]
    public void A_connect_timeout_out_of_range_is_named()
    {
        var options = UdpCluster.Options([], secret: null);
        options.PeerConnectTimeout = TimeSpan.FromMilliseconds(5);
        Assert.Contains(GossipOptionsValidator.Validate(options), e => e.Contains(nameof(GossipOptions.PeerConnectTimeout), StringComparison.Ordinal));
        options.PeerConnectTimeout = TimeSpan.FromSeconds(5);
        Assert.Empty(GossipOptionsValidator.Validate(options));
    }

    /// <summary>A loopback port that was free a moment ago; nothing listens there.</summary>
    private static IPEndPoint FreeLoopbackEndPoint()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (IPEndPoint)socket.LocalEndPoint!;
    }

    private sealed record Message(IPEndPoint From, byte[] Payload)
    {
        public string Text => Encoding.UTF8.GetString(Payload);
    }

    /// <summary>Everything a member's data plane raised, with waits on it that end when a condition holds.</summary>
    private sealed class Inbox
    {
        private readonly List<Message> _messages = [];
        private readonly List<(Func<IReadOnlyList<Message>, bool> Condition, TaskCompletionSource Reached)> _waiters = [];

        public Inbox(Membership member) => member.Peers.Received += OnReceived;

        public List<Message> Messages
        {
            get
            {
                lock (_messages)
                {
                    return [.. _messages];
                }
            }
        }

        public async Task<List<Message>> WaitForAsync(Func<IReadOnlyList<Message>, bool> condition)
        {
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_messages)
            {
                if (condition(_messages))
                {
                    return [.. _messages];
                }

                _waiters.Add((condition, reached));
            }

            await reached.Task.WaitAsync(Patience);
            return Messages;
        }

        private void OnReceived(IPEndPoint from, ReadOnlySpan<byte> payload)
        {
            lock (_messages)
            {
                _messages.Add(new Message(from, payload.ToArray()));
                _waiters.RemoveAll(w => w.Condition(_messages) && w.Reached.TrySetResult());
            }
        }
    }

    /// <summary>A bare LiteNetLib client with both channels, to put arbitrary bytes on a member's data channel.</summary>
    internal sealed class RawClient : IAsyncDisposable
    {
        private readonly NetManager _net;

        private RawClient(NetManager net, NetPeer peer)
        {
            _net = net;
            Peer = peer;
        }

        public NetPeer Peer { get; }

        public static async Task<RawClient> ConnectAsync(IPEndPoint target, byte[] token)
        {
            var listener = new EventBasedNetListener();
            var connected = new TaskCompletionSource<NetPeer>(TaskCreationOptions.RunContinuationsAsynchronously);
            listener.PeerConnectedEvent += peer => connected.TrySetResult(peer);
            var net = new NetManager(listener) { UnsyncedEvents = true, IPv6Enabled = false, ChannelsCount = 2 };
            Assert.True(net.Start(IPAddress.Loopback, IPAddress.IPv6Any, 0));
            net.Connect(target, token);
            return new RawClient(net, await connected.Task.WaitAsync(Patience));
        }

        public ValueTask DisposeAsync()
        {
            _net.Stop();
            return ValueTask.CompletedTask;
        }
    }
}
