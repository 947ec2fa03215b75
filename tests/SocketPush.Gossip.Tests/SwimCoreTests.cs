using MemoryPack;
using SocketPush.Gossip.Protocol;

namespace SocketPush.Gossip.Tests;

public class SwimCoreTests
{
    private static readonly TimeSpan Tick = TimeSpan.FromTicks(1);
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    [Fact]
    public void First_probe_goes_out_exactly_one_probe_interval_after_start()
    {
        var (cluster, nodes) = Converged("a", "b");
        var a = nodes[0];

        cluster.Advance(Second - Tick);
        Assert.Empty(a.SentTo("b:7946").OfType<PingMessage>());

        cluster.Advance(Tick);
        var ping = Assert.Single(a.SentTo("b:7946").OfType<PingMessage>());
        Assert.Equal("b", ping.Target);
        Assert.Equal(1, a.Core.Counters.Probes);
    }

    [Fact]
    public void A_ping_is_acked_and_a_ping_for_another_name_is_not()
    {
        var (cluster, nodes) = Converged("a", "b");
        var a = nodes[0];
        var b = nodes[1];

        var ping = new PingMessage { Seq = 42, Target = "b" };
        b.Core.OnDatagram("a:7946", Datagram(ping));
        var ack = Assert.Single(b.SentTo("a:7946").OfType<AckMessage>());
        Assert.Equal(42u, ack.Seq);

        b.Outbox.Clear();
        b.Core.OnDatagram("a:7946", Datagram(new PingMessage { Seq = 43, Target = "someone-else" }));
        Assert.Empty(b.Outbox);
        Assert.Equal(MemberState.Alive, a.StateOf("b"));
    }

    [Fact]
    public void Ping_req_goes_out_exactly_at_the_probe_timeout_then_suspicion_exactly_at_the_interval_end()
    {
        var (cluster, nodes) = Converged("a", "b", "c");
        var a = nodes[0];
        cluster.Advance(Second);
        var target = a.Outbox.Where(o => CoreNode.Decode(o.Data).OfType<PingMessage>().Any()).Select(o => o.To).Single();
        var helper = target == "b:7946" ? "c:7946" : "b:7946";
        var targetName = target[..1];
        a.Outbox.Clear();

        cluster.Advance(TimeSpan.FromMilliseconds(500) - Tick);
        Assert.Empty(a.SentTo(helper).OfType<IndirectPingMessage>());

        cluster.Advance(Tick);
        var request = Assert.Single(a.SentTo(helper).OfType<IndirectPingMessage>());
        Assert.Equal(targetName, request.Target);
        Assert.Equal(target, request.TargetAddress);
        Assert.True(request.WantNack);

        cluster.Advance(TimeSpan.FromMilliseconds(500) - Tick);
        Assert.Equal(MemberState.Alive, a.StateOf(targetName));

        cluster.Advance(Tick);
        Assert.Equal(MemberState.Suspect, a.StateOf(targetName));
        Assert.Contains(a.Changes, c => c.Kind == MembershipChangeKind.Suspected && c.Member.Name == targetName);
        Assert.Equal(1, a.Core.Counters.FailedProbes);
    }

    [Fact]
    public void An_intermediary_relays_the_ack_or_sends_a_nack_at_eighty_percent_of_the_probe_timeout()
    {
        var (cluster, nodes) = Converged("a", "b", "c");
        var a = nodes[0];
        var b = nodes[1];

        b.Core.OnDatagram("a:7946", Datagram(new IndirectPingMessage { Seq = 7, Target = "c", TargetAddress = "c:7946", WantNack = true }));
        var relayed = Assert.Single(b.SentTo("c:7946").OfType<PingMessage>());
        Assert.Equal("c", relayed.Target);
        b.Outbox.Clear();

        cluster.Advance(TimeSpan.FromMilliseconds(400) - Tick);
        Assert.Empty(b.SentTo("a:7946").OfType<NackMessage>());
        cluster.Advance(Tick);
        Assert.Equal(7u, Assert.Single(b.SentTo("a:7946").OfType<NackMessage>()).Seq);

        // A late ack from the target is still passed on to the requester.
        b.Outbox.Clear();
        b.Core.OnDatagram("c:7946", Datagram(new AckMessage { Seq = relayed.Seq }));
        Assert.Equal(7u, Assert.Single(b.SentTo("a:7946").OfType<AckMessage>()).Seq);
        Assert.Equal(MemberState.Alive, a.StateOf("c"));
    }

    [Fact]
    public void Suspicion_without_enough_members_to_confirm_ends_exactly_at_the_minimum_timeout()
    {
        // Three members: k = suspicionMult - 2 = 2 confirmations cannot come from n - 2 = 1 other, so the timeout is the minimum:
        // 4 * max(1, log10 3) * 1 s = 4 s.
        var (cluster, nodes) = Converged("a", "b", "c");
        var a = nodes[0];
        a.Core.OnDatagram("c:7946", Datagram(new SuspectMessage { Name = "b", Incarnation = 0, From = "c" }));
        Assert.Equal(MemberState.Suspect, a.StateOf("b"));

        cluster.Advance(TimeSpan.FromSeconds(4) - Tick);
        Assert.Equal(MemberState.Suspect, a.StateOf("b"));
        cluster.Advance(Tick);
        Assert.Equal(MemberState.Dead, a.StateOf("b"));
        Assert.Contains(a.Changes, c => c.Kind == MembershipChangeKind.Failed && c.Member.Name == "b");
    }

    [Fact]
    public void Independent_confirmations_shrink_the_suspicion_timeout_from_max_to_min()
    {
        // Five members: k = 2, min = 4 * max(1, log10 5) * 1 s = 4 s, max = 6 * min = 24 s.
        var (cluster, nodes) = Converged("a", "b", "c", "d", "e");
        var a = nodes[0];
        a.Core.OnDatagram("c:7946", Datagram(new SuspectMessage { Name = "b", Incarnation = 0, From = "c" }));
        cluster.Advance(TimeSpan.FromSeconds(3));
        // A repeated confirmation from the same member does not count.
        a.Core.OnDatagram("c:7946", Datagram(new SuspectMessage { Name = "b", Incarnation = 0, From = "c" }));
        a.Core.OnDatagram("d:7946", Datagram(new SuspectMessage { Name = "b", Incarnation = 0, From = "d" }));
        // One confirmation: 24 s - floor(log 2 / log 3 * 20 s) = 11.381... s after the start.
        var oneConfirmation = TimeSpan.FromTicks(Suspicion.Timeout(1, 2, TimeSpan.FromSeconds(4).Ticks, TimeSpan.FromSeconds(24).Ticks));
        Assert.InRange(oneConfirmation.TotalSeconds, 11.38, 11.39);

        cluster.Advance(oneConfirmation - TimeSpan.FromSeconds(3) - Tick);
        Assert.Equal(MemberState.Suspect, a.StateOf("b"));
        cluster.Advance(Tick);
        Assert.Equal(MemberState.Dead, a.StateOf("b"));
    }

    [Fact]
    public void Two_confirmations_bring_the_timeout_down_to_the_minimum()
    {
        var (cluster, nodes) = Converged("a", "b", "c", "d", "e");
        var a = nodes[0];
        a.Core.OnDatagram("c:7946", Datagram(new SuspectMessage { Name = "b", Incarnation = 0, From = "c" }));
        a.Core.OnDatagram("d:7946", Datagram(new SuspectMessage { Name = "b", Incarnation = 0, From = "d" }));
        a.Core.OnDatagram("e:7946", Datagram(new SuspectMessage { Name = "b", Incarnation = 0, From = "e" }));

        cluster.Advance(TimeSpan.FromSeconds(4) - Tick);
        Assert.Equal(MemberState.Suspect, a.StateOf("b"));
        cluster.Advance(Tick);
        Assert.Equal(MemberState.Dead, a.StateOf("b"));
    }

    [Fact]
    public void A_suspected_member_refutes_with_a_higher_incarnation_and_raises_its_health_multiplier()
    {
        var (cluster, nodes) = Converged("a", "b");
        var a = nodes[0];

        a.Core.OnDatagram("b:7946", Datagram(new SuspectMessage { Name = "a", Incarnation = 0, From = "b" }));
        Assert.Equal(1u, a.Core.Self.Incarnation);
        Assert.Equal(1, a.Core.Counters.Refutations);
        Assert.Equal(2, a.Core.HealthMultiplier);

        // The refutation rides on the next datagram.
        a.Core.OnDatagram("b:7946", Datagram(new PingMessage { Seq = 1, Target = "a" }));
        var alive = Assert.Single(a.SentTo("b:7946").OfType<AliveMessage>());
        Assert.Equal(("a", 1u), (alive.Name, alive.Incarnation));

        // A stale suspicion (older incarnation) is ignored.
        a.Core.OnDatagram("b:7946", Datagram(new SuspectMessage { Name = "a", Incarnation = 0, From = "b" }));
        Assert.Equal(1u, a.Core.Self.Incarnation);
    }

    [Fact]
    public void The_suspect_is_told_directly_when_probed()
    {
        var (cluster, nodes) = Converged("a", "b");
        var a = nodes[0];
        a.Core.OnDatagram("c:7946", Datagram(new SuspectMessage { Name = "b", Incarnation = 0, From = "c" }));
        a.Outbox.Clear();

        cluster.Advance(Second);
        var sent = a.SentTo("b:7946");
        Assert.Single(sent.OfType<PingMessage>());
        Assert.Contains(sent.OfType<SuspectMessage>(), s => s.Name == "b" && s.From == "a");
    }

    [Fact]
    public void A_failed_probe_without_helpers_stretches_the_next_probe_interval()
    {
        var (cluster, nodes) = Converged("a", "b");
        var a = nodes[0];
        cluster.Cut.Add("b:7946");

        cluster.Advance(Second);                      // probe 1 at 1 s
        cluster.Deliver();
        cluster.Advance(Second);                      // probe 1 fails at 2 s: multiplier 2; probe 2 at 2 s
        Assert.Equal(2, a.Core.HealthMultiplier);
        a.Outbox.Clear();
        cluster.Deliver();

        cluster.Advance(TimeSpan.FromSeconds(2) - Tick);   // probe 3 is due at 2 s + 2 x 1 s
        Assert.Empty(a.SentTo("b:7946").OfType<PingMessage>());
        cluster.Advance(Tick);
        Assert.Single(a.SentTo("b:7946").OfType<PingMessage>());
        Assert.Equal(3, a.Core.HealthMultiplier);
    }

    [Fact]
    public void Missing_nacks_raise_the_health_multiplier_and_received_nacks_do_not()
    {
        var (cluster, nodes) = Converged("a", "b", "c", "d");
        var a = nodes[0];
        cluster.Advance(Second);
        var target = a.AllSent().OfType<PingMessage>().Single().Target;
        cluster.Cut.Add(target + ":7946");
        cluster.Deliver();
        cluster.Advance(TimeSpan.FromMilliseconds(500));  // ping-req to the two helpers
        cluster.Deliver();
        cluster.Advance(TimeSpan.FromMilliseconds(400));  // helpers nack at 80 % of 500 ms
        cluster.Deliver();
        cluster.Advance(TimeSpan.FromMilliseconds(100));  // interval ends: two nacks expected, two received
        Assert.Equal(1, a.Core.HealthMultiplier);
        Assert.Equal(MemberState.Suspect, a.StateOf(target));
    }

    [Fact]
    public void An_update_is_piggybacked_exactly_retransmit_limit_times()
    {
        // Three members: limit = 4 * ceil(log10(3 + 1)) = 4.
        var (cluster, nodes) = Converged("a", "b", "c");
        var a = nodes[0];
        a.Core.UpdateMetadata([9, 9]);

        var carried = 0;
        for (var i = 0; i < 50; i++)
        {
            cluster.Advance(TimeSpan.FromMilliseconds(100));
            carried += a.AllSent().OfType<AliveMessage>().Count(m => m.Name == "a" && m.Incarnation == 1);
            cluster.Deliver();
        }

        Assert.Equal(4, carried);
        Assert.Equal(0, a.Core.PendingBroadcasts);
        Assert.All(cluster.Nodes, n => Assert.Equal(new byte[] { 9, 9 }, n.Core.Members["a"].Meta));
    }

    [Fact]
    public void Datagrams_never_exceed_the_payload_limit_however_many_updates_wait()
    {
        var (cluster, nodes) = Converged("a", "b");
        var a = nodes[0];
        for (var i = 0; i < 300; i++)
        {
            a.Core.OnDatagram("b:7946", Datagram(new AliveMessage { Name = $"member-{i:D4}", Address = $"10.0.{i / 200}.{i % 200}:7946", Incarnation = 1, Meta = new byte[200] }));
        }

        cluster.Advance(TimeSpan.FromMilliseconds(200));
        Assert.NotEmpty(a.Outbox);
        Assert.All(a.Outbox, o => Assert.InRange(o.Data.Length, 2, 1400));
        Assert.True(a.Outbox.Sum(o => CoreNode.Decode(o.Data).Count) > 3);
    }

    [Fact]
    public void Dead_members_refuse_stale_alive_rumours_but_a_higher_incarnation_revives_them()
    {
        var (cluster, nodes) = Converged("a", "b");
        var a = nodes[0];
        a.Core.OnDatagram("x:7946", Datagram(new DeadMessage { Name = "b", Incarnation = 0, From = "x" }));
        Assert.Equal(MemberState.Dead, a.StateOf("b"));

        a.Core.OnDatagram("x:7946", Datagram(new AliveMessage { Name = "b", Address = "b:7946", Incarnation = 0, Meta = [1] }));
        Assert.Equal(MemberState.Dead, a.StateOf("b"));

        a.Core.OnDatagram("b:7946", Datagram(new AliveMessage { Name = "b", Address = "b:7946", Incarnation = 1, Meta = [1] }));
        Assert.Equal(MemberState.Alive, a.StateOf("b"));
        Assert.Equal(MembershipChangeKind.Joined, a.Changes[^1].Kind);
    }

    [Fact]
    public void Dead_members_are_forgotten_after_the_retention_time()
    {
        var options = new GossipOptions { Swim = { DeadMemberRetention = TimeSpan.FromSeconds(25) } };
        var cluster = new CoreCluster();
        var a = cluster.Add("a", options);
        cluster.Add("b", options);
        cluster.StartConverged();
        a.Core.OnDatagram("x:7946", Datagram(new DeadMessage { Name = "b", Incarnation = 0, From = "x" }));

        cluster.Advance(TimeSpan.FromSeconds(20));     // reap runs every 10 s: at 10 s and 20 s it is too young
        Assert.Equal(MemberState.Dead, a.StateOf("b"));
        cluster.Advance(TimeSpan.FromSeconds(10));     // at 30 s it is 30 s old
        Assert.Null(a.StateOf("b"));
    }

    [Fact]
    public void A_graceful_leave_is_seen_as_left_and_the_leaver_knows_when_it_was_told()
    {
        var (cluster, nodes) = Converged("a", "b", "c");
        var a = nodes[0];
        var b = nodes[1];
        var c = nodes[2];

        a.Core.Leave();
        Assert.False(a.Core.LeaveBroadcastDone);
        cluster.Run(TimeSpan.FromSeconds(2));

        Assert.True(a.Core.LeaveBroadcastDone);
        Assert.Equal(MemberState.Left, b.StateOf("a"));
        Assert.Equal(MemberState.Left, c.StateOf("a"));
        Assert.Contains(b.Changes, ch => ch.Kind == MembershipChangeKind.Left && ch.Member.Name == "a");
    }

    [Fact]
    public void A_leave_is_done_once_every_other_member_left_too_as_nobody_is_left_to_tell()
    {
        var (_, nodes) = Converged("a", "b", "c");
        var a = nodes[0];

        // The whole cluster stopping at once: a's departure is still queued when b and c announce theirs.
        a.Core.Leave();
        a.Core.OnDatagram("x:7946", Datagram(new LeftMessage { Name = "b", Incarnation = 0 }));
        Assert.False(a.Core.LeaveBroadcastDone);
        a.Core.OnDatagram("x:7946", Datagram(new LeftMessage { Name = "c", Incarnation = 0 }));

        Assert.True(a.Core.LeaveBroadcastDone);
    }

    [Fact]
    public void A_leave_right_after_a_metadata_update_is_done_only_once_the_departure_itself_went_out()
    {
        var (cluster, nodes) = Converged("a", "b", "c");
        var a = nodes[0];

        // The update is still queued when the departure replaces it: that is not the departure gossiped.
        a.Core.UpdateMetadata([1, 2, 3]);
        a.Core.Leave();
        Assert.False(a.Core.LeaveBroadcastDone);
        cluster.Run(TimeSpan.FromSeconds(2));

        Assert.True(a.Core.LeaveBroadcastDone);
        Assert.All(nodes.Skip(1), n => Assert.Equal(MemberState.Left, n.StateOf("a")));
    }

    [Fact]
    public void Members_join_through_a_seed_with_a_push_pull_and_learn_each_other()
    {
        var cluster = new CoreCluster();
        var nodes = new[] { "a", "b", "c", "d" }.Select(n => cluster.Add(n)).ToArray();
        nodes[0].Core.Start([]);
        foreach (var node in nodes.Skip(1))
        {
            node.Core.Start(["a:7946"]);
            cluster.Deliver();
        }

        cluster.Run(TimeSpan.FromSeconds(3));
        Assert.All(nodes, n => Assert.Equal(4, n.Core.LiveCount));
        Assert.All(nodes, n => Assert.All(n.Core.Members.Values, m => Assert.Equal(MemberState.Alive, m.State)));
    }

    [Fact]
    public void A_crashed_member_is_declared_dead_by_everyone()
    {
        var cluster = new CoreCluster();
        var nodes = new[] { "a", "b", "c", "d", "e" }.Select(n => cluster.Add(n)).ToArray();
        cluster.StartConverged();
        cluster.Cut.Add("e:7946");

        cluster.Run(TimeSpan.FromSeconds(40));
        Assert.All(nodes.Take(4), n => Assert.Equal(MemberState.Dead, n.StateOf("e")));
        Assert.All(nodes.Take(4), n => Assert.Equal(4, n.Core.LiveCount));
    }

    [Fact]
    public void A_member_that_was_cut_off_and_declared_dead_comes_back_after_the_cut_heals()
    {
        var cluster = new CoreCluster();
        var nodes = new[] { "a", "b", "c", "d", "e" }.Select(n => cluster.Add(n)).ToArray();
        cluster.StartConverged();
        cluster.Cut.Add("e:7946");
        cluster.Run(TimeSpan.FromSeconds(40));
        Assert.Equal(MemberState.Dead, nodes[0].StateOf("e"));

        cluster.Cut.Clear();
        cluster.Run(TimeSpan.FromSeconds(30));
        Assert.All(nodes, n => Assert.Equal(5, n.Core.LiveCount));
        Assert.All(nodes, n => Assert.All(n.Core.Members.Values, m => Assert.Equal(MemberState.Alive, m.State)));
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 1 })]
    [InlineData(new byte[] { 1, 0xFF, 0xFF, 0xFF })]
    [InlineData(new byte[] { 1, 7, 0, 0, 0, 0 })]
    [InlineData(new byte[] { 1, 4, 4, 0xFF, 0xFF, 0xFF, 0x7F })]
    public void Malformed_datagrams_are_counted_and_change_nothing(byte[] garbage)
    {
        var (cluster, nodes) = Converged("a", "b");
        var a = nodes[0];
        var version = a.Core.Version;

        Assert.Equal(DropReason.Malformed, a.Core.OnDatagram("b:7946", garbage));
        Assert.Equal(1, a.Core.Counters.DroppedMalformed);
        Assert.Equal(version, a.Core.Version);
        Assert.Empty(a.Outbox);
    }

    [Fact]
    public void Unknown_versions_and_oversize_datagrams_are_counted_separately()
    {
        var (cluster, nodes) = Converged("a", "b");
        var a = nodes[0];
        var ping = Datagram(new PingMessage { Seq = 1, Target = "a" });
        ping[0] = 2;

        Assert.Equal(DropReason.UnknownVersion, a.Core.OnDatagram("b:7946", ping));
        Assert.Equal(DropReason.Oversize, a.Core.OnDatagram("b:7946", new byte[1401]));
        Assert.Equal((1L, 1L), (a.Core.Counters.DroppedUnknownVersion, a.Core.Counters.DroppedOversize));
        Assert.Empty(a.Outbox);
    }

    [Fact]
    public void Metadata_larger_than_the_limit_is_refused_as_malformed()
    {
        var (cluster, nodes) = Converged("a", "b");
        var a = nodes[0];

        var reason = a.Core.OnDatagram("b:7946", Datagram(new AliveMessage { Name = "z", Address = "z:1", Incarnation = 1, Meta = new byte[513] }));
        Assert.Equal(DropReason.Malformed, reason);
        Assert.Null(a.StateOf("z"));
    }

    /// <summary>Members that start knowing each other, as after a completed join.</summary>
    private static (CoreCluster Cluster, CoreNode[] Nodes) Converged(params string[] names)
    {
        var cluster = new CoreCluster();
        var nodes = names.Select(n => cluster.Add(n)).ToArray();
        cluster.StartConverged();
        return (cluster, nodes);
    }

    internal static byte[] Datagram(params IGossipMessage[] messages)
    {
        var bytes = new List<byte> { WireFormat.Version };
        foreach (var message in messages)
        {
            bytes.AddRange(MemoryPackSerializer.Serialize(message));
        }

        return [.. bytes];
    }
}
