using System.Text.Json;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Owner.History;

namespace SocketPush.Node.Tests.History;

/// <summary>What a new owner of a stream decides from its copy and the other replicas' answers (pure).</summary>
public sealed class TakeoverTests
{
    private static HistoryEntry Entry(long offset) =>
        new(offset, $"p{offset}", JsonSerializer.SerializeToElement(offset), 0, 100, "old-owner");

    private static ReplicaStream Copy(string epoch, long offset, bool complete, params long[] entries) =>
        new(epoch, offset, complete, [.. entries.Select(Entry)]);

    [Fact]
    public void A_new_owner_that_lacks_the_last_acknowledged_messages_takes_them_from_a_replica_and_continues_the_epoch()
    {
        var (epoch, top, entries) = OwnerStreams.Decide(new StreamPosition("e", 10), [Copy("e", 12, true, 11, 12), null], quorum: 2);

        Assert.Equal("e", epoch);
        Assert.Equal(12, top);
        Assert.Equal([11L, 12], entries.Select(e => e.Offset));
    }

    [Fact]
    public void A_new_owner_without_a_copy_continues_from_the_replicas_when_enough_hold_the_epoch()
    {
        var (epoch, top, entries) = OwnerStreams.Decide(null, [Copy("e", 12, true, 10, 11, 12), Copy("e", 11, true, 10, 11)], quorum: 2);

        Assert.Equal("e", epoch);
        Assert.Equal(12, top);
        Assert.Equal(3, entries.Count);
    }

    [Fact]
    public void Too_few_copies_disagreeing_epochs_or_a_copy_beyond_what_can_be_fetched_start_a_new_epoch()
    {
        // One copy of three when two must agree (two replicas lost, or a partition).
        Assert.Null(OwnerStreams.Decide(new StreamPosition("e", 10), [null, null], quorum: 2).Epoch);
        // Replicas hold different epochs.
        Assert.Null(OwnerStreams.Decide(new StreamPosition("e", 10), [Copy("f", 3, false)], quorum: 2).Epoch);
        // A replica is ahead but no longer holds the messages after this node's position.
        Assert.Null(OwnerStreams.Decide(new StreamPosition("e", 10), [Copy("e", 15, false)], quorum: 2).Epoch);
        // Nobody holds the stream: a new one.
        Assert.Null(OwnerStreams.Decide(null, [Copy("", 0, false), null], quorum: 2).Epoch);
    }

    [Fact]
    public void A_single_node_continues_its_own_copy()
    {
        var (epoch, top, entries) = OwnerStreams.Decide(new StreamPosition("e", 4), [], quorum: 1);

        Assert.Equal("e", epoch);
        Assert.Equal(4, top);
        Assert.Empty(entries);
    }

    [Fact]
    public void A_replica_behind_this_node_still_counts_as_holding_the_epoch()
    {
        var (epoch, top, _) = OwnerStreams.Decide(new StreamPosition("e", 10), [Copy("e", 8, false)], quorum: 2);

        Assert.Equal("e", epoch);
        Assert.Equal(10, top);
    }
}
