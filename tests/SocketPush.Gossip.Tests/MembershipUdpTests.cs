using System.Buffers;
using System.Net;
using LiteNetLib;
using SocketPush.Gossip.Protocol;
using SocketPush.Gossip.Transport;

namespace SocketPush.Gossip.Tests;

/// <summary>Real members on loopback UDP through LiteNetLib, with short timings so each test takes seconds.</summary>
public class MembershipUdpTests
{
    private static readonly TimeSpan Patience = UdpCluster.Patience;

    [Fact]
    public async Task Five_members_join_through_one_seed_and_see_each_others_metadata()
    {
        await using var cluster = await UdpCluster.StartAsync(5);
        foreach (var member in cluster.Members)
        {
            var view = member.Snapshot;
            Assert.Equal(5, view.Live.Count());
            foreach (var other in cluster.Members)
            {
                var entry = view.Find(other.Name)!;
                Assert.Equal(MemberState.Alive, entry.State);
                Assert.Equal(other.Address, entry.Address);
                Assert.Equal(UdpCluster.Metadata(other.Name), entry.Metadata.ToArray());
            }
        }
    }

    [Fact]
    public async Task A_member_stopped_without_leaving_is_declared_dead_by_every_other()
    {
        await using var cluster = await UdpCluster.StartAsync(5);
        var victim = cluster.Members[3];
        var failedSeen = cluster.Members.Where(m => m != victim).ToDictionary(m => m.Name, _ => false);
        foreach (var member in cluster.Members.Where(m => m != victim))
        {
            member.Changed += (_, change) =>
            {
                if (change.Kind == MembershipChangeKind.Failed && change.Member.Name == victim.Name)
                {
                    lock (failedSeen)
                    {
                        failedSeen[member.Name] = true;
                    }
                }
            };
        }

        await victim.DisposeAsync();
        foreach (var member in cluster.Members.Where(m => m != victim))
        {
            await member.WaitUntilAsync(m => m.Snapshot.Find(victim.Name)?.State == MemberState.Dead, Patience);
            Assert.Equal(4, member.Snapshot.Live.Count());
        }

        lock (failedSeen)
        {
            Assert.All(failedSeen.Values, Assert.True);
        }
    }

    [Fact]
    public async Task A_member_that_leaves_gracefully_is_seen_as_left()
    {
        await using var cluster = await UdpCluster.StartAsync(4);
        var leaver = cluster.Members[2];

        Assert.True(await leaver.LeaveAsync());
        foreach (var member in cluster.Members.Where(m => m != leaver))
        {
            await member.WaitUntilAsync(m => m.Snapshot.Find(leaver.Name)?.State == MemberState.Left, Patience);
            Assert.Equal(3, member.Snapshot.Live.Count());
        }
    }

    [Fact]
    public async Task A_member_with_the_wrong_secret_cannot_join_and_its_attempts_are_counted()
    {
        await using var cluster = await UdpCluster.StartAsync(2, secret: "right secret");
        var seed = cluster.Members[0];
        await using var intruder = UdpCluster.Start(UdpCluster.Options([seed.Address], secret: "wrong secret"), "intruder");
        await using var plain = UdpCluster.Start(UdpCluster.Options([seed.Address], secret: null), "plain");

        // Each join attempt opens a connection whose token fails; the member retries while alone.
        await seed.WaitUntilAsync(m => m.Counters.DroppedUnauthenticated >= 4, Patience);

        Assert.All(cluster.Members, m => Assert.Null(m.Snapshot.Find("intruder")));
        Assert.All(cluster.Members, m => Assert.Null(m.Snapshot.Find("plain")));
        Assert.Equal(["intruder"], intruder.Snapshot.Members.Select(m => m.Name));
        Assert.Equal(["plain"], plain.Snapshot.Members.Select(m => m.Name));
        Assert.Equal(2, seed.Snapshot.Live.Count());
    }

    [Fact]
    public async Task Garbage_datagrams_change_nothing_and_are_counted()
    {
        await using var cluster = await UdpCluster.StartAsync(2);
        var target = cluster.Members[0];
        var before = target.Snapshot;
        var counted = target.Counters.DroppedDatagrams;

        var random = new Random(5);
        var garbage = new List<byte[]>();
        for (var i = 0; i < 20; i++)
        {
            var bytes = new byte[random.Next(2, 300)];
            random.NextBytes(bytes);
            bytes[0] = 1;        // the right version byte...
            bytes[1] = 0xEE;     // ...followed by a message kind that does not exist
            garbage.Add(bytes);
        }

        garbage.Add([9, 1, 2, 3]);                              // unknown version
        garbage.Add([0xA1, .. new byte[40]]);                   // sealed, but this cluster has no secret
        garbage.Add([1, .. Enumerable.Repeat((byte)4, 1450)]);  // larger than one datagram may be

        var sender = new NetManager(new EventBasedNetListener()) { UnconnectedMessagesEnabled = true, IPv6Enabled = false };
        Assert.True(sender.Start(IPAddress.Loopback, IPAddress.IPv6Any, 0));
        try
        {
            foreach (var bytes in garbage)
            {
                Assert.True(sender.SendUnconnectedMessage(bytes, target.LocalEndPoint));
            }

            await target.WaitUntilAsync(m => m.Counters.DroppedDatagrams >= counted + garbage.Count, Patience);
        }
        finally
        {
            sender.Stop();
        }

        var after = target.Counters;
        Assert.Equal(counted + garbage.Count, after.DroppedDatagrams);
        Assert.Equal(1, after.DroppedUnknownVersion);
        Assert.Equal(1, after.DroppedUnauthenticated);
        Assert.Equal(1, after.DroppedOversize);
        Assert.Equal(before.Members, target.Snapshot.Members);
        Assert.Equal(2, target.Snapshot.Live.Count());
    }

    [Fact]
    public async Task A_replayed_sealed_datagram_is_refused_and_counted_while_reordered_ones_are_answered()
    {
        const string secret = "replay secret";
        await using var cluster = await UdpCluster.StartAsync(2, secret);
        var target = cluster.Members[0];
        await using var prober = RawProber.Start(secret);
        byte[] Ping(uint seq) => prober.Sealer.Seal(Encode(new PingMessage { Seq = seq, Target = target.Name }), SealPurpose.Datagram);
        var (first, second, third, fourth) = (Ping(1), Ping(2), Ping(3), Ping(4));

        prober.Send(first, target.LocalEndPoint);
        await prober.WaitForAckAsync(1);

        // The same bytes again, as an eavesdropper would send them: authentic, but seen.
        prober.Send(first, target.LocalEndPoint);
        await target.WaitUntilAsync(m => m.Counters.DroppedReplayed == 1, Patience);

        // Out of order, within the window: both answered.
        prober.Send(third, target.LocalEndPoint);
        prober.Send(second, target.LocalEndPoint);
        prober.Send(fourth, target.LocalEndPoint);
        await prober.WaitForAckAsync(2, 3, 4);

        Assert.Equal(new uint[] { 1, 2, 3, 4 }, prober.Acked.Order());
        Assert.Equal(1, target.Counters.DroppedReplayed);
        Assert.Equal(1, target.Counters.DroppedDatagrams);
        Assert.Equal(0, target.Counters.DroppedUnauthenticated);
    }

    [Fact]
    public async Task A_member_restarted_on_its_address_is_accepted_at_once()
    {
        const string secret = "restart secret";
        await using var cluster = await UdpCluster.StartAsync(3, secret);
        var victim = cluster.Members[2];
        var port = victim.LocalEndPoint.Port;
        await victim.DisposeAsync();

        // Same name, same endpoint, fresh counters: the others still hold its replay windows (it is not dead yet).
        var options = UdpCluster.Options([cluster.Members[0].Address], secret);
        options.Port = port;
        var restarted = UdpCluster.Start(options, victim.Name);
        cluster.Members[2] = restarted;
        await restarted.WaitUntilAsync(m => m.Snapshot.Live.Count() == 3, Patience);
        foreach (var member in cluster.Members.Take(2))
        {
            await member.WaitUntilAsync(m => m.Snapshot.Find(victim.Name)?.State == MemberState.Alive && m.Counters.PushPulls > 0, Patience);
        }

        Assert.All(cluster.Members, m => Assert.Equal(0, m.Counters.DroppedReplayed));
        Assert.All(cluster.Members, m => Assert.Equal(0, m.Counters.DroppedUnauthenticated));
    }

    [Fact]
    public async Task Members_one_key_apart_in_a_rotation_talk_both_ways()
    {
        await using var a = UdpCluster.Start(Rotating([], "old", previous: "new"), "a");
        await using var b = UdpCluster.Start(Rotating([a.Address], "new", previous: "old"), "b");
        await a.WaitUntilAsync(m => m.Snapshot.Live.Count() == 2, Patience);
        await b.WaitUntilAsync(m => m.Snapshot.Live.Count() == 2, Patience);
        Assert.Equal(0, a.Counters.DroppedUnauthenticated);
        Assert.Equal(0, b.Counters.DroppedUnauthenticated);
    }

    [Fact]
    public async Task A_key_rotation_on_live_members_refuses_nothing_loses_no_one_and_then_shuts_out_the_old_key()
    {
        await using var cluster = await UdpCluster.StartAsync(3, "old");
        var failures = 0;
        foreach (var member in cluster.Members)
        {
            member.Changed += (_, change) =>
            {
                if (change.Kind is MembershipChangeKind.Failed or MembershipChangeKind.Left)
                {
                    Interlocked.Increment(ref failures);
                }
            };
        }

        // The exact procedure: accept the new key everywhere, then seal under it everywhere, then drop the old one.
        // Each step is taken one member at a time, and the cluster probes on for longer than a suspicion lasts.
        (string Secret, string? Previous)[] steps = [("old", "new"), ("new", "old"), ("new", null)];
        foreach (var (secret, previous) in steps)
        {
            foreach (var member in cluster.Members)
            {
                await member.UpdateOptionsAsync(Rotating([], secret, previous));
                await ProbeRoundsAsync(cluster.Members, 15);
            }
        }

        Assert.Equal(0, Volatile.Read(ref failures));
        Assert.All(cluster.Members, m => Assert.Equal(3, m.Snapshot.Members.Count(x => x.State == MemberState.Alive)));
        Assert.All(cluster.Members, m => Assert.Equal(0, m.Counters.DroppedUnauthenticated));
        Assert.All(cluster.Members, m => Assert.Equal(0, m.Peers.Counters.DroppedUnauthenticated));

        // A member that still has only the dropped key can no longer join.
        var seed = cluster.Members[0];
        await using var late = UdpCluster.Start(Rotating([seed.Address], "old", previous: null), "late");
        await seed.WaitUntilAsync(m => m.Counters.DroppedUnauthenticated >= 2, Patience);
        Assert.All(cluster.Members, m => Assert.Null(m.Snapshot.Find("late")));
        Assert.Equal(["late"], late.Snapshot.Members.Select(m => m.Name));
    }

    [Fact]
    public async Task Members_keep_probing_while_the_thread_pool_is_starved()
    {
        await using var cluster = await UdpCluster.StartAsync(2);
        var before = cluster.Members.Select(m => m.Counters.Probes).ToArray();
        using var release = new ManualResetEventSlim();

        // Released from a gossip loop's own thread once both members probed on: that can only
        // happen if the loops do not need a pool thread. The timeout ends the starvation anyway.
        void Check()
        {
            if (cluster.Members.Select((m, i) => m.Counters.Probes - before[i]).Min() >= 8)
            {
                release.Set();
            }
        }

        foreach (var member in cluster.Members)
        {
            member.Processed += Check;
        }

        // Far more blocked work items than the pool has threads; it adds a thread only every half second or so.
        var blockers = Enumerable.Range(0, 64)
            .Select(_ => Task.Factory.StartNew(() => release.Wait(Patience), CancellationToken.None, TaskCreationOptions.None, TaskScheduler.Default))
            .ToArray();
        var released = await Task.WhenAll(blockers);
        foreach (var member in cluster.Members)
        {
            member.Processed -= Check;
        }

        Assert.All(released, Assert.True);
        Assert.All(cluster.Members, m => Assert.Equal(0, m.Counters.Suspicions));
        Assert.All(cluster.Members, m => Assert.Equal(2, m.Snapshot.Live.Count()));
    }

    [Fact]
    public async Task An_options_update_refuses_socket_and_secret_changes_and_the_member_keeps_probing_with_new_timings()
    {
        await using var cluster = await UdpCluster.StartAsync(2);
        var member = cluster.Members[1];
        var options = UdpCluster.Options([cluster.Members[0].Address], secret: null);

        options.Port = 7946;
        var refused = await Assert.ThrowsAsync<ArgumentException>(() => member.UpdateOptionsAsync(options));
        Assert.Contains("Port", refused.Message);

        options.Port = 0;
        options.Secret = "new";
        refused = await Assert.ThrowsAsync<ArgumentException>(() => member.UpdateOptionsAsync(options));
        Assert.Contains("Secret", refused.Message);

        options.Secret = null;
        options.Swim.ProbeInterval = TimeSpan.FromMilliseconds(100);
        options.Swim.ProbeTimeout = TimeSpan.FromMilliseconds(50);
        await member.UpdateOptionsAsync(options);
        var probes = member.Counters.Probes;
        await member.WaitUntilAsync(m => m.Counters.Probes >= probes + 5, Patience);
        Assert.Equal(2, member.Snapshot.Live.Count());
    }

    [Fact]
    public async Task Seeds_joined_while_running_bridge_two_clusters_and_known_seeds_are_skipped()
    {
        await using var left = await UdpCluster.StartAsync(2, prefix: "left");
        await using var right = await UdpCluster.StartAsync(2, prefix: "right");
        var bridge = left.Members[1];

        Assert.Equal(1, await bridge.JoinAsync([right.Members[0].Address, bridge.Address]));
        Assert.Equal(0, await bridge.JoinAsync([right.Members[0].Address]));

        foreach (var member in left.Members.Concat(right.Members))
        {
            await member.WaitUntilAsync(m => m.Snapshot.Live.Count() == 4, Patience);
        }
    }

    private static GossipOptions Rotating(IList<string> seeds, string secret, string? previous)
    {
        var options = UdpCluster.Options(seeds, secret);
        options.PreviousSecret = previous;
        return options;
    }

    /// <summary>Waits until every member started <paramref name="rounds"/> more probes: longer than a suspicion of a member that went silent lasts.</summary>
    private static async Task ProbeRoundsAsync(IEnumerable<Membership> members, int rounds)
    {
        foreach (var member in members)
        {
            var probes = member.Counters.Probes;
            await member.WaitUntilAsync(m => m.Counters.Probes >= probes + rounds, Patience);
        }
    }

    private static byte[] Encode(IGossipMessage message)
    {
        var writer = new ArrayBufferWriter<byte>();
        WireFormat.EncodePayload(writer, message);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>A bare UDP endpoint holding the cluster's secret: sends sealed datagrams as a member would and collects the acks.</summary>
    private sealed class RawProber : IAsyncDisposable
    {
        private readonly NetManager _net;
        private readonly List<uint> _acked = [];
        private readonly SemaphoreSlim _arrived = new(0);

        private RawProber(string secret)
        {
            var listener = new EventBasedNetListener();
            listener.NetworkReceiveUnconnectedEvent += OnDatagram;
            _net = new NetManager(listener) { UnconnectedMessagesEnabled = true, IPv6Enabled = false, UnsyncedEvents = true };
            Assert.True(_net.Start(IPAddress.Loopback, IPAddress.IPv6Any, 0));
            Sealer = new DatagramSealer(secret);
            Sealer.SetSender(new IPEndPoint(IPAddress.Loopback, _net.LocalPort));
        }

        public DatagramSealer Sealer { get; }

        public IReadOnlyList<uint> Acked
        {
            get
            {
                lock (_acked)
                {
                    return [.. _acked];
                }
            }
        }

        public static RawProber Start(string secret) => new(secret);

        public void Send(byte[] datagram, IPEndPoint to) => Assert.True(_net.SendUnconnectedMessage(datagram, to));

        /// <summary>Waits until the acks of all <paramref name="seqs"/> arrived.</summary>
        public async Task WaitForAckAsync(params uint[] seqs)
        {
            while (!seqs.All(Acked.Contains))
            {
                Assert.True(await _arrived.WaitAsync(Patience), "no ack arrived in time");
            }
        }

        public ValueTask DisposeAsync()
        {
            _net.Stop();
            Sealer.Dispose();
            _arrived.Dispose();
            return ValueTask.CompletedTask;
        }

        private void OnDatagram(IPEndPoint from, NetPacketReader reader, UnconnectedMessageType type)
        {
            var plain = Sealer.Open(reader.GetRemainingBytesSpan(), SealPurpose.Datagram, out _);
            var messages = new List<IGossipMessage>();
            if (plain is null || WireFormat.Decode(plain, messages, [], 512) != DropReason.None)
            {
                return;
            }

            lock (_acked)
            {
                _acked.AddRange(messages.OfType<AckMessage>().Select(a => a.Seq));
            }

            _arrived.Release();
        }
    }
}

internal static class MembershipWaiting
{
    /// <summary>Waits until <paramref name="condition"/> holds, re-checking after every input the member's loop handles.</summary>
    public static async Task WaitUntilAsync(this Membership member, Func<Membership, bool> condition, TimeSpan timeout)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Check()
        {
            if (condition(member))
            {
                reached.TrySetResult();
            }
        }

        member.Processed += Check;
        try
        {
            Check();
            await reached.Task.WaitAsync(timeout);
        }
        finally
        {
            member.Processed -= Check;
        }
    }
}
