using SocketPush.Node.Owner.Records;

namespace SocketPush.Node.Tests.Records;

/// <summary>
/// How subscription sets resolve adds and removes across replicas. They are last-writer-wins element sets (README,
/// "Joins"), not add-wins observed-remove sets: a write that observed another always wins over it, and of two
/// concurrent writes the later stamp wins, so a backend's subscribe followed by its unsubscribe on another node
/// (a stale ring) ends unsubscribed, as on one node, unless the clocks disagree by more than the time between them.
/// </summary>
public sealed class SubscriptionSetTests
{
    private static Step Sub(int replica, bool subscribe, int millis = 1) =>
        new(subscribe ? StepKind.Subscribe : StepKind.Unsubscribe, replica, 0, 0, millis);

    private static Step Sync(int to, int from) => new(StepKind.Sync, to, 0, from, 0);

    private static string? Subscribed(History history)
    {
        var replicas = Replicas.Run(history);
        replicas.ExchangeAll();
        var answers = replicas.Stores.Select(s => Replicas.Observable(Replicas.Snapshot(s)).GetValueOrDefault("u:u0.sub.c0")).Distinct().ToList();
        return Assert.Single(answers);
    }

    [Fact]
    public void A_remove_that_observed_an_add_removes_it_even_from_a_replica_whose_clock_lags_by_seconds()
    {
        // r1's wall clock is 5 s behind r0's: only observing r0's stamp on merge puts its remove after the add.
        Assert.Equal("-", Subscribed(new History([0, -5000], [Sub(0, true), Sync(1, 0), Sub(1, false)])));
    }

    [Fact]
    public void An_add_that_observed_a_remove_re_adds_from_a_lagging_replica()
    {
        Assert.Equal("+", Subscribed(new History([0, -5000], [Sub(0, true), Sub(0, false), Sync(1, 0), Sub(1, true)])));
    }

    [Fact]
    public void Of_a_concurrent_add_and_remove_the_later_stamp_wins_on_every_replica()
    {
        Assert.Equal("-", Subscribed(new History([0, 0], [Sub(0, true), Sub(1, false, millis: 5)])));
        Assert.Equal("+", Subscribed(new History([0, 0], [Sub(1, false), Sub(0, true, millis: 5)])));
        // Last writer wins, not add wins: a remove stamped later beats an add it never saw.
        Assert.Equal("-", Subscribed(new History([0, 100], [Sub(1, false), Sub(0, true, millis: 5)])));
    }

    [Fact]
    public void UnsubscribeAll_leaves_a_concurrent_subscription_it_never_saw()
    {
        var history = new History([0, 100], [Sub(0, true), new Step(StepKind.UnsubscribeAll, 1, 0, 0, 5)]);
        Assert.Equal("+", Subscribed(history));
    }

    [Fact]
    public void A_late_copy_of_an_older_add_does_not_bring_a_removed_element_back()
    {
        var stamp = new Stamp(10, "a");
        var added = ElementSet.Empty.Set("c", present: true, stamp);
        var removed = added.Set("c", present: false, stamp with { Time = 11 });
        Assert.False(removed.Merge(added).Contains("c"));
        Assert.False(added.Merge(removed).Contains("c"));
    }
}
