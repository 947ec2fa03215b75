using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Configuration;
using SocketPush.Node.Owner.History;

namespace SocketPush.Node.Tests.History;

/// <summary>The owner's streams on their own: positions, reads after a position, the rules' size and age, maxBytes, publish ids.</summary>
public sealed class HistoryStoreTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-07T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly ServiceProvider _meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly LiveConfig _config = new(new NodeConfig());
    private readonly HistoryStore _store;

    public HistoryStoreTests()
    {
        _store = new HistoryStore(_config, _time, new HistoryMetrics(_meters.GetRequiredService<IMeterFactory>()));
    }

    public void Dispose() => _meters.Dispose();

    /// <summary>Sequences a message as its owner does and confirms it (its publish completed); null without history.</summary>
    private Appended? Publish(string key, string id, int n = 0, bool confirm = true)
    {
        if (_store.Sequence(key, id, JsonSerializer.SerializeToElement(new { n }), "n1") is not { } sequenced)
        {
            return null;
        }

        if (confirm)
        {
            _store.Confirm(key, sequenced.Position);
        }

        return new Appended(sequenced.Position, sequenced.Duplicate);
    }

    private void Use(Action<HistorySection> change)
    {
        var config = new NodeConfig();
        change(config.History);
        _config.Replace(config);
    }

    [Fact]
    public void Messages_get_consecutive_offsets_in_one_epoch_and_a_read_after_a_position_returns_what_follows()
    {
        var positions = Enumerable.Range(1, 4).Select(i => Publish("c:news", $"p{i}", i)!.Value.Position).ToList();

        Assert.Single(positions.Select(p => p.Epoch).Distinct());
        Assert.Equal([1L, 2, 3, 4], positions.Select(p => p.Offset));
        var read = _store.Read("c:news", positions[1], 100)!;
        Assert.True(read.Complete);
        Assert.Equal(positions[3], read.Top);
        Assert.Equal([3L, 4], read.Entries.Select(e => e.Offset));
        Assert.Equal([3, 4], read.Entries.Select(e => e.Data.GetProperty("n").GetInt32()));
        Assert.Equal([3L], _store.Read("c:news", positions[1], 1)!.Entries.Select(e => e.Offset));
        Assert.Empty(_store.Read("c:news", positions[3], 100)!.Entries);
        Assert.True(_store.Read("c:news", new StreamPosition(positions[0].Epoch, 0), 100)!.Complete);
    }

    [Fact]
    public void A_position_of_another_epoch_or_beyond_the_end_is_incomplete_and_returns_nothing()
    {
        var top = Publish("u:alice", "p1")!.Value.Position;

        foreach (var position in new[] { new StreamPosition("other", 1), top with { Offset = 2 } })
        {
            var read = _store.Read("u:alice", position, 100)!;
            Assert.False(read.Complete);
            Assert.Empty(read.Entries);
            Assert.Equal(top, read.Top);
        }
    }

    [Fact]
    public void A_stream_keeps_its_rules_size_so_a_position_before_what_it_keeps_is_incomplete()
    {
        Use(h => h.Channels = [new HistoryRule { Match = "*", Size = 3 }]);
        var positions = Enumerable.Range(1, 5).Select(i => Publish("c:news", $"p{i}")!.Value.Position).ToList();

        Assert.False(_store.Read("c:news", positions[0], 100)!.Complete);
        Assert.Equal([3L, 4, 5], _store.Read("c:news", positions[1], 100)!.Entries.Select(e => e.Offset));
        Assert.Equal(3, _store.Messages);
    }

    [Fact]
    public void Messages_older_than_the_rules_age_are_swept_and_an_idle_stream_is_forgotten_into_a_new_epoch()
    {
        Use(h => h.Channels = [new HistoryRule { Match = "*", Size = 100, Age = TimeSpan.FromSeconds(10) }]);
        var first = Publish("c:news", "p1")!.Value.Position;
        _time.Advance(TimeSpan.FromSeconds(6));
        var second = Publish("c:news", "p2")!.Value.Position;
        _time.Advance(TimeSpan.FromSeconds(5));
        _store.Sweep();

        Assert.Equal(1, _store.Messages);
        Assert.False(_store.Read("c:news", new StreamPosition(first.Epoch, 0), 100)!.Complete);
        Assert.Equal([2L], _store.Read("c:news", first, 100)!.Entries.Select(e => e.Offset));

        // Read at 11 s: touched then; the stream is forgotten once it kept nothing for 10 s more.
        _time.Advance(TimeSpan.FromSeconds(10));
        _store.Sweep();
        Assert.Equal(0, _store.Messages);
        Assert.Equal(1, _store.Streams);
        _time.Advance(TimeSpan.FromSeconds(1));
        _store.Sweep();
        Assert.Equal(0, _store.Streams);
        var again = Publish("c:news", "p3")!.Value.Position;
        Assert.NotEqual(second.Epoch, again.Epoch);
        Assert.Equal(1, again.Offset);
        Assert.False(_store.Read("c:news", second, 100)!.Complete);
    }

    [Fact]
    public void A_publish_id_the_stream_holds_is_not_appended_again_and_keeps_its_first_position()
    {
        var first = Publish("c:news", "retry-1", 1)!.Value;
        var retry = Publish("c:news", "retry-1", 2)!.Value;
        var other = Publish("c:news", "retry-2", 3)!.Value;

        Assert.False(first.Duplicate);
        Assert.True(retry.Duplicate);
        Assert.Equal(first.Position, retry.Position);
        Assert.Equal(2, other.Position.Offset);
        Assert.Equal([1, 3], _store.Read("c:news", null, 100)!.Entries.Select(e => e.Data.GetProperty("n").GetInt32()));
    }

    [Fact]
    public void A_publish_id_whose_publish_did_not_complete_takes_a_new_turn_at_its_first_position_when_retried()
    {
        var failed = _store.Sequence("c:news", "p1", JsonSerializer.SerializeToElement(1), "n1")!;
        var retry = _store.Sequence("c:news", "p1", JsonSerializer.SerializeToElement(1), "n1")!;

        Assert.False(retry.Duplicate);
        Assert.Equal(failed.Position, retry.Position);
        Assert.Same(failed.Turn.Task, retry.Previous);
        _store.Confirm("c:news", retry.Position);
        Assert.True(_store.Sequence("c:news", "p1", JsonSerializer.SerializeToElement(1), "n1")!.Duplicate);
    }

    [Fact]
    public void A_replica_applies_entries_that_follow_its_copy_and_asks_for_the_whole_stream_otherwise()
    {
        HistoryEntry Entry(long offset, string id) =>
            new(offset, id, JsonSerializer.SerializeToElement(offset), 0, MessageStream.CostOf(id, JsonSerializer.SerializeToElement(offset)), "owner");

        WriterTerm[] terms = [new("t1", 1)];
        Assert.Equal(CopyResult.NeedsWholeStream, _store.ApplyCopy("c:news", "e1", 5, [Entry(5, "p5")], terms, [], CopyKind.Append));
        Assert.Equal(CopyResult.Applied, _store.ApplyCopy("c:news", "e1", 5, [Entry(4, "p4"), Entry(5, "p5")], terms, [], CopyKind.WholeStream));
        Assert.Equal(CopyResult.Applied, _store.ApplyCopy("c:news", "e1", 6, [Entry(6, "p6")], terms, [], CopyKind.Append));
        Assert.Equal(CopyResult.Applied, _store.ApplyCopy("c:news", "e1", 6, [Entry(6, "p6")], terms, [], CopyKind.Append));
        Assert.Equal(CopyResult.Conflict, _store.ApplyCopy("c:news", "e1", 6, [Entry(6, "other")], terms, [], CopyKind.Append));
        Assert.Equal(CopyResult.NeedsWholeStream, _store.ApplyCopy("c:news", "e1", 8, [Entry(8, "p8")], terms, [], CopyKind.Append));
        // Another owner took the epoch over at 5 (the other side of a partition): refused even as a whole stream.
        Assert.Equal(CopyResult.Conflict, _store.ApplyCopy("c:news", "e1", 7, [Entry(5, "x5")], [new("t1", 1), new("t2", 5)], [], CopyKind.WholeStream));
        Assert.Equal(CopyResult.NeedsWholeStream, _store.ApplyCopy("c:news", "e2", 1, [Entry(1, "q1")], terms, [], CopyKind.Append));
        Assert.Equal(CopyResult.Applied, _store.ApplyCopy("c:news", "e2", 3, [Entry(2, "q2"), Entry(3, "q3")], terms, [], CopyKind.WholeStream));
        // A handoff's offer of an older or shorter copy changes nothing; a longer one of the same epoch extends it.
        Assert.Equal(CopyResult.Applied, _store.ApplyCopy("c:news", "e1", 9, [Entry(9, "p9")], terms, [], CopyKind.Offer));
        Assert.Equal(CopyResult.Applied, _store.ApplyCopy("c:news", "e2", 2, [Entry(2, "q2")], terms, [], CopyKind.Offer));
        Assert.Equal(new StreamPosition("e2", 3), _store.Snapshot("c:news")!.Top);
        Assert.Equal(CopyResult.Applied, _store.ApplyCopy("c:news", "e2", 4, [Entry(2, "q2"), Entry(3, "q3"), Entry(4, "q4")], terms, [], CopyKind.Offer));
        Assert.Equal(new StreamPosition("e2", 4), _store.Snapshot("c:news")!.Top);

        Assert.Equal(["q2", "q3", "q4"], _store.Snapshot("c:news")!.Entries.Select(e => e.PublishId));
        Assert.True(_store.NeedsTakeover("c:news", "n1"));
        Assert.Equal(3, _store.Messages);
    }

    [Fact]
    public void Beyond_max_bytes_the_oldest_messages_of_the_node_go_first()
    {
        var cost = MessageStream.CostOf("a-00", JsonSerializer.SerializeToElement(new { n = 0 }));
        Use(h => h.MaxBytes = cost * 10);
        for (var i = 0; i < 10; i++)
        {
            Publish("c:a", $"a-{i:00}");
            _time.Advance(TimeSpan.FromMilliseconds(10));
        }

        var b = Publish("c:b", "b-00")!.Value.Position;

        // Over the bound by one message: evicted down to 90 %, oldest first, all from the older stream.
        Assert.True(_store.Bytes <= cost * 9, $"{_store.Bytes} bytes kept");
        Assert.Equal([b.Offset], _store.Read("c:b", null, 100)!.Entries.Select(e => e.Offset));
        var a = _store.Read("c:a", null, 100)!.Entries.Select(e => e.Offset).ToList();
        Assert.Equal(Enumerable.Range(10 - a.Count + 1, a.Count).Select(i => (long)i), a);
        Assert.Equal(_store.Messages, a.Count + 1);
    }

    [Fact]
    public void The_longest_matching_prefix_decides_and_size_0_or_no_rule_keeps_nothing()
    {
        Use(h =>
        {
            h.Channels = [new HistoryRule { Match = "*", Size = 5 }, new HistoryRule { Match = "tmp/*", Size = 0 }, new HistoryRule { Match = "tmp/keep/*", Size = 2 }];
            h.Users = [new HistoryRule { Match = "vip-*", Size = 1 }];
        });

        Assert.Null(Publish("c:tmp/x", "p1"));
        Assert.Null(_store.Read("c:tmp/x", null, 10));
        Assert.NotNull(Publish("c:tmp/keep/x", "p1"));
        Assert.Equal(5, _store.RuleFor("c:news")!.Size);
        Assert.Null(Publish("u:alice", "p1"));
        Assert.NotNull(Publish("u:vip-alice", "p1"));

        // A reload that removes the rule drops the stream at the next sweep.
        Use(h => h.Users = []);
        _store.Sweep();
        Assert.Null(_store.Read("u:vip-alice", null, 10));
        Assert.Equal(1, _store.Messages);
    }

    [Fact]
    public void A_new_epoch_refuses_the_publish_ids_of_the_copies_it_replaced_for_the_rules_age_and_hands_them_on_with_a_whole_copy()
    {
        Use(h => h.Channels = [new HistoryRule { Match = "*", Size = 10, Age = TimeSpan.FromMinutes(2) }]);
        var first = Publish("c:news", "p1")!.Value.Position;
        var copies = _store.PublishIdsOf("c:news");
        Assert.Equal(["p1"], copies.Select(f => f.PublishId));

        // A takeover that cannot show continuity starts a new epoch, which knows what the copies had appended.
        _store.TakeOver("c:news", null, 0, [], [], copies, "n2");
        Assert.True(Publish("c:news", "p1")!.Value.Duplicate);
        var next = Publish("c:news", "p2")!.Value;
        Assert.False(next.Duplicate);
        Assert.NotEqual(first.Epoch, next.Position.Epoch);
        Assert.Equal(1, next.Position.Offset);

        // A replica given the new epoch's whole stream refuses them too, once it takes the stream over.
        var whole = _store.Snapshot("c:news")!;
        Assert.Equal(["p1"], whole.FormerIds.Select(f => f.PublishId));
        var replica = new HistoryStore(_config, _time, new HistoryMetrics(_meters.GetRequiredService<IMeterFactory>()));
        Assert.Equal(CopyResult.Applied, replica.ApplyCopy("c:news", whole.Top.Epoch, whole.Top.Offset, whole.Entries, whole.Terms, whole.FormerIds, CopyKind.WholeStream));
        replica.TakeOver("c:news", whole.Top.Epoch, whole.Top.Offset, [], whole.Terms, [], "n3");
        Assert.True(replica.Sequence("c:news", "p1", JsonSerializer.SerializeToElement(new { n = 1 }), "n3")!.Duplicate);

        // Once the rule's age has passed since p1 was appended, its id is forgotten like its message would be.
        _time.Advance(TimeSpan.FromSeconds(90));
        Publish("c:news", "p3");
        _time.Advance(TimeSpan.FromSeconds(60));
        _store.Sweep();
        var again = Publish("c:news", "p1")!.Value;
        Assert.False(again.Duplicate);
        Assert.Equal(next.Position with { Offset = 3 }, again.Position);
    }

    [Fact]
    public void A_takeover_that_wrote_nothing_leaves_no_term_behind_so_the_copies_of_the_next_owner_still_agree_at_the_following_takeover()
    {
        // Three nodes' stores; the owner moves a→b→a (b's takeover wrote nothing before the ring moved back), then a
        // dies and c takes over from b's and its own copy. Before the fix b kept its empty term while holding a's
        // next messages, and c saw two copies of one epoch that differ: a new epoch for every client.
        Use(h => h.Channels = [new HistoryRule { Match = "*", Size = 10, Age = TimeSpan.FromMinutes(2) }]);
        HistoryStore NewNode() => new(_config, _time, new HistoryMetrics(_meters.GetRequiredService<IMeterFactory>()));
        var (a, b, c) = (_store, NewNode(), NewNode());
        void PublishOnA(string id)
        {
            var sequenced = a.Sequence("c:news", id, JsonSerializer.SerializeToElement(new { id }), "a")!;
            a.Confirm("c:news", sequenced.Position);
            foreach (var replica in new[] { b, c })
            {
                Assert.Equal(CopyResult.Applied, replica.ApplyCopy("c:news", sequenced.Position.Epoch, sequenced.Position.Offset, [sequenced.Entry!], a.TermsOf("c:news"), [], CopyKind.Append));
            }
        }

        a.TakeOver("c:news", null, 0, [], [], [], "a");
        foreach (var replica in new[] { b, c })
        {
            var whole = a.Snapshot("c:news")!;
            replica.ApplyCopy("c:news", whole.Top.Epoch, whole.Top.Offset, whole.Entries, whole.Terms, whole.FormerIds, CopyKind.WholeStream);
        }

        PublishOnA("p1");
        PublishOnA("p2");
        var epoch = a.Snapshot("c:news")!.Top.Epoch;

        // The ring flaps: b and a each take the stream over, from answers given before the other claimed it (the
        // copies agree); b writes nothing, a goes on.
        var termsBefore = a.TermsOf("c:news");
        b.TakeOver("c:news", epoch, 2, [], termsBefore, [], "b");
        a.TakeOver("c:news", epoch, 2, [], termsBefore, [], "a");
        PublishOnA("p3");
        PublishOnA("p4");

        // Every copy holds the same messages under the same terms.
        Assert.Equal(a.TermsOf("c:news"), b.TermsOf("c:news"));
        Assert.Equal(a.TermsOf("c:news"), c.TermsOf("c:news"));
        var fromB = b.Snapshot("c:news")!;
        var fromC = c.Snapshot("c:news")!;
        var decision = OwnerStreams.Decide(
            new ReplicaStream(fromC.Top.Epoch, fromC.Top.Offset, true, [], fromC.Terms),
            [new ReplicaStream(fromB.Top.Epoch, fromB.Top.Offset, true, [], fromB.Terms)],
            quorum: 2);
        Assert.Equal(epoch, decision.Epoch);
        Assert.Equal(4, decision.Top);
    }
}
