using FsCheck.Xunit;
using SocketPush.Node.Owner.Records;

namespace SocketPush.Node.Tests.Records;

/// <summary>
/// The records are state-based CRDTs: whatever order and grouping replicas merge each other's states in, and however
/// often, they end up equal. The states merged here come from concurrent histories (<see cref="Replicas"/>), not
/// from independent random values, so they share keys, elements and causal pasts as real replicas do. States are
/// compared by a canonical projection with stamps and tombstones: records are C# records, but an
/// <see cref="ElementSet"/>'s dictionary compares by reference.
/// </summary>
[Properties(Arbitrary = [typeof(RecordGenerators)], MaxTest = 200)]
public sealed class RecordMergeProperties
{
    [Property]
    public void Register_merge_is_commutative_associative_and_idempotent(History history) =>
        ForTriples(history, b => b.Users.Select(u => (u.Key, u.Value.Session)),
            (a, b) => a.Merge(b), Replicas.Canonical);

    [Property]
    public void ElementSet_merge_is_commutative_associative_and_idempotent(History history) =>
        ForTriples(history, b => b.Channels.Select(c => (c.Key, c.Value.Subscribers)).Concat(b.Users.Select(u => (u.Key, u.Value.Subscriptions))),
            (a, b) => a.Merge(b), Replicas.Canonical);

    [Property]
    public void UserRecord_merge_is_commutative_associative_and_idempotent(History history) =>
        ForTriples(history, b => b.Users.Select(u => (u.Key, u.Value)), (a, b) => a.Merge(b), Replicas.Canonical);

    [Property]
    public void SessionRecord_merge_is_commutative_associative_and_idempotent(History history) =>
        ForTriples(history, b => b.Sessions.Select(s => (s.Key, s.Value)), (a, b) => a.Merge(b), Replicas.Canonical);

    [Property]
    public void ChannelRecord_merge_is_commutative_associative_and_idempotent(History history) =>
        ForTriples(history, b => b.Channels.Select(c => (c.Key, c.Value)), (a, b) => a.Merge(b), Replicas.Canonical);

    [Property]
    public void Store_merges_of_batches_in_any_order_grouping_and_repetition_give_the_same_records(History history)
    {
        var replicas = Replicas.Run(history);
        var batches = replicas.Stores.Select(Replicas.Snapshot).ToArray();
        var (a, b, c) = (batches[0], batches[1], batches[^1]);

        var forward = Merged(a, b, c);
        Assert.Equal(forward, Merged(c, b, a));
        Assert.Equal(forward, Merged(b, c, a, b));
        Assert.Equal(forward, Merged(a, Replicas.Snapshot(Fresh(b, c))));
        Assert.Equal(forward, Merged(Replicas.Snapshot(Fresh(a, b)), c, c));
        Assert.Equal(Merged(a), Merged(a, a));
        Assert.Equal(Replicas.Canonical(a), Merged(a));
    }

    [Property]
    public void Replicas_that_exchanged_everything_hold_the_same_records(History history)
    {
        var replicas = Replicas.Run(history);
        replicas.ExchangeAll();

        var states = replicas.Stores.Select(s => Replicas.Canonical(Replicas.Snapshot(s))).ToArray();
        Assert.All(states, s => Assert.Equal(states[0], s));
    }

    /// <summary>
    /// Causal last-writer-wins: a write that observed another (made after it on the same replica, or after merging
    /// it) wins over it, so a remove that observed an add removes it and an add that observed a remove re-adds.
    /// After a full exchange every target holds the value of a write that no other write on it observed; writes
    /// nobody observed are concurrent, and their stamps decide, the same way on every replica.
    /// </summary>
    [Property]
    public void After_an_exchange_each_target_holds_a_write_that_no_later_write_observed(History history)
    {
        var replicas = Replicas.Run(history);
        replicas.ExchangeAll();
        var observable = Replicas.Observable(Replicas.Snapshot(replicas.Stores[0]));

        foreach (var target in replicas.Writes.GroupBy(w => w.Target))
        {
            var latest = target.Where(w => !target.Any(later => later.Saw.Contains(w.Id))).Select(w => w.Value).ToHashSet();
            Assert.True(observable.TryGetValue(target.Key, out var value), $"{target.Key} was written but is missing");
            Assert.True(latest.Contains(value), $"{target.Key} is {value ?? "null"}, but the writes no other write observed are [{string.Join(", ", latest)}]");
        }

        // Nothing appears that nobody wrote: every register or element is one of the targets above.
        var written = replicas.Writes.Select(w => w.Target).ToHashSet(StringComparer.Ordinal);
        Assert.All(observable, o => Assert.True(written.Contains(o.Key) || o.Value is null, $"{o.Key} = {o.Value} was never written"));
    }

    [Property]
    public void A_batch_merges_the_same_after_a_json_round_trip(History history)
    {
        var replicas = Replicas.Run(history);
        foreach (var store in replicas.Stores)
        {
            var batch = Replicas.Snapshot(store);
            Assert.Equal(Replicas.Canonical(batch), Replicas.Canonical(Replicas.ThroughJson(batch)));
        }
    }

    /// <summary>The same key's record as three replicas hold it (a replica without one holds the empty record).</summary>
    private static void ForTriples<T>(
        History history,
        Func<RecordBatch, IEnumerable<(string Key, T Value)>> records,
        Func<T, T, T> merge,
        Func<T, string> canonical)
    {
        var replicas = Replicas.Run(history);
        var byReplica = replicas.Stores.Select(s => records(Replicas.Snapshot(s)).GroupBy(r => r.Key).ToDictionary(g => g.Key, g => g.Select(r => r.Value).ToList())).ToArray();
        foreach (var key in byReplica.SelectMany(r => r.Keys).Distinct())
        {
            var held = byReplica.SelectMany(r => r.GetValueOrDefault(key) ?? []).ToList();
            for (var i = 0; i < held.Count; i++)
            {
                var (a, b, c) = (held[i], held[(i + 1) % held.Count], held[(i + 2) % held.Count]);
                Assert.Equal(canonical(merge(a, b)), canonical(merge(b, a)));
                Assert.Equal(canonical(merge(merge(a, b), c)), canonical(merge(a, merge(b, c))));
                Assert.Equal(canonical(a), canonical(merge(a, a)));
                Assert.Equal(canonical(merge(a, b)), canonical(merge(merge(a, b), b)));
            }
        }
    }

    private static RecordStore Fresh(params RecordBatch[] batches)
    {
        var store = new RecordStore(new HybridClock(TimeProvider.System), "fresh");
        foreach (var batch in batches)
        {
            store.Merge(batch);
        }

        return store;
    }

    private static string Merged(params RecordBatch[] batches) => Replicas.Canonical(Replicas.Snapshot(Fresh(batches)));
}
