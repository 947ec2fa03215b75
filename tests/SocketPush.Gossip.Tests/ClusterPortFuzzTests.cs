using System.Net;
using System.Net.Sockets;
using LiteNetLib;
using MemoryPack;
using SocketPush.Gossip.Protocol;
using SocketPush.Gossip.Transport;
using SocketPush.Testing;

namespace SocketPush.Gossip.Tests;

/// <summary>
/// A generated stream of bad datagrams at a live member's cluster port, with and without a secret: random bytes,
/// real gossip messages bit-flipped, truncated, extended or replayed, wrong versions, oversize, sealed where nothing
/// is sealed and plain where everything is, then raw packets that look like LiteNetLib's own. The member stays
/// healthy and in the cluster (the other member never suspects it), and every datagram that reaches the gossip layer
/// and does not decode is counted once. The messages name only members that do not exist, so what still decodes
/// changes nothing either. CI sends 100 000 datagrams without a secret and 50 000 sealed ones (opening each costs
/// an AES-GCM decryption); SOCKETPUSH_FUZZ_SECONDS runs longer.
/// </summary>
[Trait("Category", "Fuzz")]
public sealed class ClusterPortFuzzTests
{
    private const int BatchSize = 500;
    private const string Secret = "fuzz-secret-0123456789abcdef";
    private static readonly TimeSpan Patience = UdpCluster.Patience;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_member_under_a_stream_of_bad_datagrams_stays_in_the_cluster_and_counts_each_one(bool withSecret)
    {
        var secret = withSecret ? Secret : null;
        await using var cluster = await UdpCluster.StartAsync(2, secret);
        var (target, other) = (cluster.Members[0], cluster.Members[1]);
        var options = UdpCluster.Options([], secret);
        using var sealer = new DatagramSealer(secret);
        var refutations = target.Counters.Refutations;
        var suspicions = other.Counters.Suspicions;
        var expectedDrops = target.Counters.DroppedDatagrams;
        long replays = 0;

        var sender = new NetManager(new EventBasedNetListener()) { UnconnectedMessagesEnabled = true, IPv6Enabled = false };
        Assert.True(sender.Start(IPAddress.Loopback, IPAddress.IPv6Any, 0));
        try
        {
            await Fuzz.RunAsync($"cluster port datagrams, {(withSecret ? "with" : "without")} a secret (batches of {BatchSize})", withSecret ? 100 : 200, async random =>
            {
                for (var i = 0; i < BatchSize; i++)
                {
                    var (datagram, replay) = BadDatagram(random, sealer);
                    replays += replay ? 1 : 0;
                    expectedDrops += IsDropped(datagram, sealer, options) ? 1 : 0;
                    Assert.True(sender.SendUnconnectedMessage(datagram, target.LocalEndPoint));
                }

                // Paced: a batch is handled before the next is sent, so no socket buffer overflows and loses any.
                var expected = expectedDrops;
                await target.WaitUntilAsync(m => m.Counters.DroppedDatagrams >= expected, Patience);
                Assert.Equal(MemberState.Alive, other.Snapshot.Find(target.Name)?.State);
            });

            // A replayed sealed datagram is a valid one today; a replay window may drop it. Either way it is counted at most once.
            Assert.InRange(target.Counters.DroppedDatagrams, expectedDrops, expectedDrops + replays);
        }
        finally
        {
            sender.Stop();
        }

        await RawPacketsAsync(target, new Random(withSecret ? 2 : 1));

        // Still a member both ways: the other has never suspected it, nor has it had to refute a suspicion.
        Assert.Equal(suspicions, other.Counters.Suspicions);
        Assert.Equal(refutations, target.Counters.Refutations);
        var probes = other.Counters.Probes;
        await other.WaitUntilAsync(m => m.Counters.Probes >= probes + 3, Patience);
        Assert.Equal(2, target.Snapshot.Live.Count());
        Assert.Equal(2, other.Snapshot.Live.Count());
        Assert.Equal(suspicions, other.Counters.Suspicions);
    }

    /// <summary>
    /// Generated messages from a connected peer on both reliable channels: random bytes, a right version byte before
    /// garbage, bit-flipped gossip replies, and on the data channel messages sealed right but framed wrong. Each one is
    /// counted by the rule it breaks (gossip drops, or the data plane's malformed or unauthenticated), the rest are raised
    /// as data, and the member stays in the cluster.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_connected_peer_sending_generated_messages_has_each_bad_one_counted(bool withSecret)
    {
        var secret = withSecret ? Secret : null;
        await using var cluster = await UdpCluster.StartAsync(2, secret);
        var (target, other) = (cluster.Members[0], cluster.Members[1]);
        var options = UdpCluster.Options([], secret);
        using var sealer = new DatagramSealer(secret);
        var raised = 0L;
        target.Peers.Received += (_, _) => Interlocked.Increment(ref raised);
        var suspicions = other.Counters.Suspicions;
        var gossipDrops = target.Counters.DroppedDatagrams;
        var (dataMalformed, dataUnauthenticated, dataRaised) = (0L, 0L, 0L);

        await using (var client = await PeerChannelTests.RawClient.ConnectAsync(target.LocalEndPoint, sealer.Seal(LiteNetTransport.ConnectToken, SealPurpose.Connect)))
        {
            var sent = 0;
            await Fuzz.RunAsync($"cluster port peer messages, {(withSecret ? "with" : "without")} a secret", 20_000, async random =>
            {
                // Paced like the datagrams: this checks what happens to each message, not how a flood queues.
                if (++sent % 1000 == 0)
                {
                    await CaughtUpAsync();
                }

                var payload = PeerPayload(random, sealer);
                if (random.Next(2) == 0)
                {
                    gossipDrops += IsDroppedReliable(payload, sealer, options) ? 1 : 0;
                    client.Peer.Send(payload, LiteNetTransport.GossipChannel, DeliveryMethod.ReliableOrdered);
                }
                else
                {
                    // The data plane's rule: it opens, and its first byte is the version.
                    var reason = sealer.OpenInPlace(payload, SealPurpose.Data, out var plain);
                    _ = reason == DropReason.Unauthenticated ? dataUnauthenticated++
                        : plain.IsEmpty || plain[0] != PeerChannel.WireVersion ? dataMalformed++ : dataRaised++;
                    client.Peer.Send(payload, LiteNetTransport.DataChannel, DeliveryMethod.ReliableOrdered);
                }
            });

            await CaughtUpAsync();
        }

        Task CaughtUpAsync()
        {
            var (expected, expectedData, expectedRaised) = (gossipDrops, dataMalformed + dataUnauthenticated, dataRaised);
            return target.WaitUntilAsync(
                m => m.Counters.DroppedDatagrams >= expected && Interlocked.Read(ref raised) >= expectedRaised
                    && m.Peers.Counters.DroppedMalformed + m.Peers.Counters.DroppedUnauthenticated >= expectedData,
                Patience);
        }

        Assert.Equal(gossipDrops, target.Counters.DroppedDatagrams);
        Assert.Equal((dataMalformed, dataUnauthenticated), (target.Peers.Counters.DroppedMalformed, target.Peers.Counters.DroppedUnauthenticated));
        Assert.Equal(dataRaised, Interlocked.Read(ref raised));
        Assert.Equal(suspicions, other.Counters.Suspicions);
        Assert.Equal(2, target.Snapshot.Live.Count());
    }

    /// <summary>A push-pull request the fuzzer found whose member count overflows MemoryPack's arithmetic (OverflowException).</summary>
    private static readonly byte[] OverflowingPushPull = Convert.FromHexString("010410B82898E604E085CDEF8ACA17EFEFC3B58D8D3BDBDBD6137E18DC029A2F4AC80C886B9E0B7E");

    [Fact]
    public void A_payload_whose_lengths_overflow_is_malformed_not_an_exception() =>
        Assert.Equal(DropReason.Malformed, WireFormat.DecodePayload(OverflowingPushPull, out ReliableEnvelope? _));

    [Fact]
    public async Task A_peer_message_whose_lengths_overflow_is_counted_and_the_member_goes_on()
    {
        // It threw out of the member's loop, which stopped it for good: no more probes, acks or gossip.
        await using var cluster = await UdpCluster.StartAsync(2);
        var target = cluster.Members[0];
        var dropped = target.Counters.DroppedMalformed;
        await using (var client = await PeerChannelTests.RawClient.ConnectAsync(target.LocalEndPoint, LiteNetTransport.ConnectToken))
        {
            client.Peer.Send(OverflowingPushPull, LiteNetTransport.GossipChannel, DeliveryMethod.ReliableOrdered);
            await target.WaitUntilAsync(m => m.Counters.DroppedMalformed > dropped, Patience);
        }

        var probes = target.Counters.Probes;
        await target.WaitUntilAsync(m => m.Counters.Probes >= probes + 3, Patience);
        Assert.Equal(2, cluster.Members[1].Snapshot.Live.Count());
    }

    /// <summary>A message a peer could put on a reliable channel.</summary>
    private static byte[] PeerPayload(Random random, DatagramSealer sealer)
    {
        var reply = new List<byte> { WireFormat.Version };
        reply.AddRange(MemoryPackSerializer.Serialize(new ReliableEnvelope { RequestId = (uint)random.Next(), IsReply = true }));
        switch (random.Next(6))
        {
            case 0:
                return Random(random, 1 + random.Next(300));
            case 1:
                return sealer.Seal([WireFormat.Version, .. Random(random, random.Next(300))], SealPurpose.Reliable);
            case 2:
                var flipped = sealer.Seal([.. reply], SealPurpose.Reliable);
                flipped[random.Next(flipped.Length)] ^= (byte)(1 << random.Next(8));
                return flipped;
            case 3:
                return sealer.Seal([.. reply.Take(1 + random.Next(reply.Count - 1))], SealPurpose.Reliable);
            case 4:
                return sealer.Seal((byte)random.Next(256), Random(random, random.Next(100)), SealPurpose.Data);
            default:
                return sealer.Seal([.. reply], random.Next(2) == 0 ? SealPurpose.Datagram : SealPurpose.Data);
        }
    }

    /// <summary>What the member does with a gossip-channel message: it opens, decodes, and a push-pull in it is valid.</summary>
    private static bool IsDroppedReliable(byte[] payload, DatagramSealer sealer, GossipOptions options)
    {
        var plain = sealer.Open(payload, SealPurpose.Reliable, out _);
        return plain is null
            || WireFormat.DecodePayload(plain, out ReliableEnvelope? envelope) != DropReason.None
            || envelope is null
            || (envelope.PushPull is { } pushPull && !WireFormat.IsValidPushPull(pushPull, options.MaxMetadataBytes));
    }

    /// <summary>
    /// Raw UDP packets whose first byte is one of LiteNetLib's packet kinds (connect requests, acks, pings, MTU checks,
    /// fragments...) with random bodies; LiteNetLib reads them before any gossip code, and must shrug them off.
    /// </summary>
    private static async Task RawPacketsAsync(Membership target, Random random)
    {
        using var raw = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        for (var i = 0; i < 2000; i++)
        {
            var packet = new byte[1 + random.Next(64)];
            random.NextBytes(packet);
            packet[0] = (byte)random.Next(32);
            await raw.SendAsync(packet, target.LocalEndPoint);
        }

        // The member's loop is still turning: it goes on probing.
        var probes = target.Counters.Probes;
        await target.WaitUntilAsync(m => m.Counters.Probes >= probes + 3, Patience);
    }

    /// <summary>One bad datagram, and whether it is a replay of a valid one.</summary>
    private static (byte[] Datagram, bool Replay) BadDatagram(Random random, DatagramSealer sealer)
    {
        var valid = sealer.Seal(Plain(random), SealPurpose.Datagram);
        switch (random.Next(9))
        {
            case 0:
                return (Random(random, 1 + random.Next(1200)), false);
            case 1:
                var flipped = (byte[])valid.Clone();
                for (var flips = 1 + random.Next(3); flips > 0; flips--)
                {
                    flipped[random.Next(flipped.Length)] ^= (byte)(1 << random.Next(8));
                }

                return (flipped, false);
            case 2:
                return (valid[..(1 + random.Next(valid.Length - 1))], false);
            case 3:
                return ([.. valid, .. Random(random, 1 + random.Next(40))], false);
            case 4:
                return (valid, sealer.Enabled);
            case 5:
                return ([(byte)(2 + random.Next(200)), .. Random(random, 1 + random.Next(100))], false);
            case 6:
                return (Random(random, 1451 + random.Next(10)), false);
            case 7:
                // Sealed where nothing is, or plain where everything is.
                return sealer.Enabled ? (Plain(random), false) : ([DatagramSealer.SealedMarker, .. Random(random, DatagramSealer.Overhead + random.Next(60))], false);
            default:
                // A valid message followed by a MemoryPack union tag that does not exist.
                return (sealer.Seal([.. Plain(random), (byte)(8 + random.Next(240)), .. Random(random, random.Next(20))], SealPurpose.Datagram), false);
        }
    }

    /// <summary>A plain datagram of real gossip messages, about members that do not exist (long names no bit flip turns into a real one).</summary>
    private static byte[] Plain(Random random)
    {
        var ghost = $"ghost-{random.Next():x8}-{random.Next():x8}";
        var messages = new List<IGossipMessage>();
        for (var i = 1 + random.Next(3); i > 0; i--)
        {
            messages.Add(random.Next(6) switch
            {
                0 => new PingMessage { Seq = (uint)random.Next(), Target = ghost },
                1 => new AckMessage { Seq = (uint)random.Next() },
                2 => new NackMessage { Seq = (uint)random.Next() },
                3 => new SuspectMessage { Name = ghost, Incarnation = (uint)random.Next(), From = ghost + "-x" },
                4 => new DeadMessage { Name = ghost, Incarnation = (uint)random.Next(), From = ghost + "-y" },
                _ => new LeftMessage { Name = ghost, Incarnation = (uint)random.Next() },
            });
        }

        var bytes = new List<byte> { WireFormat.Version };
        foreach (var message in messages)
        {
            bytes.AddRange(MemoryPackSerializer.Serialize(message));
        }

        return [.. bytes];
    }

    /// <summary>What the member must do with a datagram, decided the way it decides: size, seal, then the messages.</summary>
    private static bool IsDropped(byte[] datagram, DatagramSealer sealer, GossipOptions options)
    {
        if (datagram.Length > 1450)
        {
            return true;
        }

        var plain = sealer.Open(datagram, SealPurpose.Datagram, out _);
        return plain is null || WireFormat.Decode(plain, [], [], options.MaxMetadataBytes) != DropReason.None;
    }

    private static byte[] Random(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
