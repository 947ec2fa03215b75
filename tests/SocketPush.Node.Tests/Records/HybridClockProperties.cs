using System.Collections.Immutable;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Microsoft.Extensions.Time.Testing;
using SocketPush.Node.Owner.Records;

namespace SocketPush.Node.Tests.Records;

public enum ClockStepKind
{
    /// <summary>Takes a stamp.</summary>
    Now,

    /// <summary>Real time moves on by <c>Millis</c> ms.</summary>
    Advance,

    /// <summary>The wall clock is stepped back by <c>Millis</c> ms (an NTP correction, a VM resumed).</summary>
    StepBack,

    /// <summary>A stamp arrives from a node whose clock is <c>Millis</c> ms ahead (behind when negative), counter <c>Counter</c>.</summary>
    Observe,
}

public sealed record ClockStep(ClockStepKind Kind, long Millis, int Counter)
{
    public override string ToString() => $"{Kind}({Millis}ms, {Counter})";
}

public static class ClockGenerators
{
    private const long Day = 24 * 60 * 60 * 1000L;

    public static Arbitrary<ImmutableArray<ClockStep>> Steps() =>
        Gen.Choose(1, 60).SelectMany(n => Gen.ArrayOf(Step, n)).Select(s => s.ToImmutableArray()).ToArbitrary();

    private static Gen<ClockStep> Step { get; } = Gen.Frequency(
        (8, Gen.Constant(new ClockStep(ClockStepKind.Now, 0, 0))),
        (3, Gen.Elements(0L, 1L, 2L, 50L, 1000L).Select(ms => new ClockStep(ClockStepKind.Advance, ms, 0))),
        (2, Gen.Elements(1L, 3L, 500L, 60_000L, Day).Select(ms => new ClockStep(ClockStepKind.StepBack, ms, 0))),
        (3, from ms in Gen.Elements(-Day, -5L, 0L, 1L, 40L, 60_000L, Day, 3650 * Day)
            from counter in Gen.Elements(0, 1, 0xFFFE, 0xFFFF)
            select new ClockStep(ClockStepKind.Observe, ms, counter)));
}

/// <summary>
/// The hybrid clock never hands out a stamp at or below one it handed out or observed, whatever the wall clock
/// does (stands still, jumps back, lags a peer by days), and follows the wall clock again once it has caught up.
/// A peer's stamp more than <see cref="HybridClock.MaxDrift"/> ahead is refused and leaves the clock where it was.
/// </summary>
[Properties(Arbitrary = [typeof(ClockGenerators)], MaxTest = 300)]
public sealed class HybridClockProperties
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Property]
    public void Stamps_rise_past_everything_handed_out_or_observed_and_follow_the_wall_clock_when_it_is_ahead(ImmutableArray<ClockStep> steps)
    {
        var real = new FakeTimeProvider(Start);
        var wall = new SkewedTime(real, TimeSpan.Zero);
        var clock = new HybridClock(wall);
        long highest = 0;
        foreach (var step in steps)
        {
            var physical = wall.GetUtcNow().ToUnixTimeMilliseconds();
            switch (step.Kind)
            {
                case ClockStepKind.Now:
                    var stamp = clock.Now();
                    Assert.True(stamp > highest, $"{stamp} after {highest}");
                    Assert.True(stamp >= physical << 16, $"{stamp} is behind the wall clock {physical << 16}");
                    if (physical << 16 > highest)
                    {
                        Assert.Equal(physical << 16, stamp);
                    }

                    highest = stamp;
                    break;
                case ClockStepKind.Advance:
                    real.Advance(TimeSpan.FromMilliseconds(step.Millis));
                    break;
                case ClockStepKind.StepBack:
                    wall.Offset -= TimeSpan.FromMilliseconds(step.Millis);
                    break;
                case ClockStepKind.Observe:
                    var seen = ((physical + step.Millis) << 16) | (long)step.Counter;
                    var admitted = step.Millis <= (long)HybridClock.MaxDrift.TotalMilliseconds;
                    Assert.Equal(admitted, clock.Observe(seen));
                    if (admitted)
                    {
                        highest = Math.Max(highest, seen);
                    }

                    break;
            }
        }
    }

    [Fact]
    public void A_stamp_far_in_the_future_is_refused_and_counted_and_the_clock_keeps_following_the_wall_clock()
    {
        var real = new FakeTimeProvider(Start);
        var clock = new HybridClock(real);
        var before = clock.Now();
        Assert.False(clock.Observe(long.MaxValue));
        Assert.False(clock.Observe(((Start.ToUnixTimeMilliseconds() + 61_000) << 16) | 0xFFFF));
        var refusal = Assert.Throws<SocketPush.Client.Services.ServiceException>(() => clock.ObserveFromPeer(long.MaxValue, "Records"));
        Assert.Equal("unavailable", refusal.Code);
        Assert.Contains("NTP", refusal.Message);
        Assert.Equal(3, clock.FutureStampsRefused);

        var after = clock.Now();
        Assert.True(after > before);
        Assert.Equal(Start.ToUnixTimeMilliseconds() << 16, after & ~0xFFFFL);

        // Once real time has come within the allowed drift of it, the same stamp is taken.
        var ahead = ((Start.ToUnixTimeMilliseconds() + 90_000) << 16) | 7;
        Assert.False(clock.Observe(ahead));
        real.Advance(TimeSpan.FromSeconds(30));
        Assert.True(clock.Observe(ahead));
        Assert.True(clock.Now() > ahead);
    }

    [Fact]
    public void Records_from_a_node_whose_clock_runs_two_minutes_ahead_are_refused_whole_and_change_nothing()
    {
        var real = new FakeTimeProvider(Start);
        var ahead = new RecordStore(new HybridClock(new SkewedTime(real, TimeSpan.FromMinutes(2))), "ahead");
        ahead.SetSession("u1", "s1");
        ahead.SetSubscription("u1", "news", subscribed: true);
        var batch = Replicas.ThroughJson(Replicas.Snapshot(ahead));
        var clock = new HybridClock(real);
        var store = new RecordStore(clock, "here");
        store.SetSession("u2", "s2");
        var before = Replicas.Canonical(Replicas.Snapshot(store));

        var refusal = Assert.Throws<SocketPush.Client.Services.ServiceException>(() => store.Merge(batch));
        Assert.Contains("120 s ahead", refusal.Message);
        Assert.Equal(before, Replicas.Canonical(Replicas.Snapshot(store)));
        Assert.Equal(1, clock.FutureStampsRefused);

        // Real time catches up to within the allowed drift: the same batch is taken.
        real.Advance(TimeSpan.FromSeconds(61));
        Assert.True(store.Merge(batch) > 0);
        Assert.True(Replicas.Snapshot(store).Users.ContainsKey("u1"));
    }

    [Fact]
    public async Task Threads_taking_stamps_at_once_never_get_the_same_one()
    {
        var clock = new HybridClock(new FakeTimeProvider(Start));
        var perThread = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            var stamps = new long[20_000];
            for (var i = 0; i < stamps.Length; i++)
            {
                stamps[i] = clock.Now();
            }

            return stamps;
        })));

        Assert.All(perThread, stamps => Assert.True(stamps.Zip(stamps.Skip(1)).All(p => p.First < p.Second), "a thread's stamps went down"));
        Assert.Equal(perThread.Sum(s => s.Length), perThread.SelectMany(s => s).Distinct().Count());
    }
}
