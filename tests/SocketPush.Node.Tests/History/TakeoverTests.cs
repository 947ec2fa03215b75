using System.Text.Json;
using SocketPush.Node.Owner.History;

namespace SocketPush.Node.Tests.History;

/// <summary>What a new owner of a stream decides from its copy and the other replicas' answers, and when two copies were written by two owners (pure).</summary>
public sealed class TakeoverTests
{
    private static readonly WriterTerm[] OneOwner = [new("t1", 1)];

    private static HistoryEntry Entry(long offset) =>
        new(offset, $"p{offset}", JsonSerializer.SerializeToElement(offset), 0, 100, "old-owner");

    private static ReplicaStream Copy(string epoch, long offset, bool complete, long[]? entries = null, WriterTerm[]? terms = null) =>
        new(epoch, offset, complete, [.. (entries ?? []).Select(Entry)], terms ?? OneOwner);

    private static ReplicaStream Mine(string epoch, long offset, WriterTerm[]? terms = null) => Copy(epoch, offset, true, [], terms);

    [Fact]
    public void A_new_owner_that_lacks_the_last_acknowledged_messages_takes_them_from_a_replica_and_continues_the_epoch()
    {
        var (epoch, top, entries, terms) = OwnerStreams.Decide(Mine("e", 10), [Copy("e", 12, true, [11, 12]), null], quorum: 2);

        Assert.Equal("e", epoch);
        Assert.Equal(12, top);
        Assert.Equal([11L, 12], entries.Select(e => e.Offset));
        Assert.Equal(OneOwner, terms);
    }

    [Fact]
    public void A_new_owner_without_a_copy_continues_from_the_replicas_when_enough_hold_the_epoch()
    {
        var (epoch, top, entries, _) = OwnerStreams.Decide(null, [Copy("e", 12, true, [10, 11, 12]), Copy("e", 11, true, [10, 11])], quorum: 2);

        Assert.Equal("e", epoch);
        Assert.Equal(12, top);
        Assert.Equal(3, entries.Count);
    }

    [Fact]
    public void Too_few_copies_disagreeing_epochs_or_a_copy_beyond_what_can_be_fetched_start_a_new_epoch()
    {
        // One copy of three when two must agree (two replicas lost, or a partition).
        Assert.Null(OwnerStreams.Decide(Mine("e", 10), [null, null], quorum: 2).Epoch);
        // Replicas hold different epochs.
        Assert.Null(OwnerStreams.Decide(Mine("e", 10), [Copy("f", 3, false)], quorum: 2).Epoch);
        // A replica is ahead but no longer holds the messages after this node's position.
        Assert.Null(OwnerStreams.Decide(Mine("e", 10), [Copy("e", 15, false)], quorum: 2).Epoch);
        // Nobody holds the stream: a new one.
        Assert.Null(OwnerStreams.Decide(null, [Copy("", 0, false), null], quorum: 2).Epoch);
    }

    [Fact]
    public void Copies_of_one_epoch_written_by_two_owners_start_a_new_epoch()
    {
        // This side went on under t1 to 20; the other side's owner took over at 11 under t2 and wrote to 15.
        var otherSide = Copy("e", 15, false, terms: [new("t1", 1), new("t2", 11)]);

        Assert.Null(OwnerStreams.Decide(Mine("e", 20), [otherSide, Copy("e", 20, true)], quorum: 2).Epoch);
    }

    [Fact]
    public void A_copy_behind_a_later_owners_takeover_is_not_a_second_writer()
    {
        // The replica stopped at 10, before this node took over at 11 under t2 (it claimed, wrote to 14).
        var (epoch, top, _, terms) = OwnerStreams.Decide(Mine("e", 14, [new("t1", 1), new("t2", 11)]), [Copy("e", 10, false)], quorum: 2);

        Assert.Equal("e", epoch);
        Assert.Equal(14, top);
        Assert.Equal(2, terms.Count);
    }

    [Fact]
    public void A_single_node_continues_its_own_copy()
    {
        var (epoch, top, entries, _) = OwnerStreams.Decide(Mine("e", 4), [], quorum: 1);

        Assert.Equal("e", epoch);
        Assert.Equal(4, top);
        Assert.Empty(entries);
    }

    [Fact]
    public void A_replica_behind_this_node_still_counts_as_holding_the_epoch()
    {
        var (epoch, top, _, _) = OwnerStreams.Decide(Mine("e", 10), [Copy("e", 8, false)], quorum: 2);

        Assert.Equal("e", epoch);
        Assert.Equal(10, top);
    }

    [Theory]
    [InlineData(20, 15, true)]
    [InlineData(10, 15, false)]
    [InlineData(12, 10, false)]
    public void Terms_diverge_only_where_both_copies_hold_messages(long topOneOwner, long topTwoOwners, bool diverge) =>
        Assert.Equal(diverge, WriterTerm.Diverge(OneOwner, topOneOwner, [new("t1", 1), new("t2", 11)], topTwoOwners));
}
