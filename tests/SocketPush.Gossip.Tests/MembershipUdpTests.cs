using System.Net;
using LiteNetLib;

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
                Assert.Equal(new MemberMetadata(other.Name, $"http://{other.Name}:8080", $"http://{other.Name}:8181", "1.0"), entry.Metadata);
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
        await using var intruder = Membership.Start(UdpCluster.Options([seed.Address], secret: "wrong secret"), UdpCluster.Metadata("intruder"));
        await using var plain = Membership.Start(UdpCluster.Options([seed.Address], secret: null), UdpCluster.Metadata("plain"));

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
        options.ProbeInterval = TimeSpan.FromMilliseconds(100);
        options.ProbeTimeout = TimeSpan.FromMilliseconds(50);
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
