using System.Collections.Immutable;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Microsoft.Extensions.Time.Testing;
using SocketPush.Node.Cluster.Records;

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
                    clock.Observe(seen);
                    highest = Math.Max(highest, seen);
                    break;
            }
        }
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
