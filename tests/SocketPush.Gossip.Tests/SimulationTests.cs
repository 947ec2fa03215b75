using SocketPush.Gossip.Simulation;

namespace SocketPush.Gossip.Tests;

/// <summary>The goals of the issue at small sizes; each run takes a few seconds.</summary>
public class SimulationTests
{
    [Fact]
    public void One_seed_replays_byte_for_byte_and_another_seed_does_not()
    {
        string Run(int seed) => new Simulation.Simulation(Parse("--nodes", "60", "--seconds", "60", "--loss", "0.05", "--crash", "3",
            "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture), "--no-timing")).Run().ToJson();

        var first = Run(11);
        Assert.Equal(first, Run(11));
        Assert.NotEqual(first, Run(12));
        Assert.DoesNotContain("wallSeconds", first);
    }

    [Fact]
    public void Under_loss_crashes_are_detected_by_everyone_and_no_live_member_is_declared_dead()
    {
        var report = new Simulation.Simulation(Parse("--nodes", "200", "--seconds", "120", "--loss", "0.05", "--crash", "5", "--seed", "3")).Run();

        Assert.True(report.Converged);
        Assert.Equal(5, report.Crashed);
        Assert.Equal(0, report.UndetectedCrashes);
        Assert.Equal(0, report.FalsePositives);
        Assert.InRange(report.DetectionSeconds!.P99, 1, 20);
        Assert.Equal(0, report.Undisseminated);
        Assert.InRange(report.DisseminationSeconds!.P99, 0.001, 2);
        Assert.InRange(report.MessagesPerMemberPerSecond, 0.5, 20);
    }

    [Fact]
    public void After_a_partition_heals_every_member_sees_everyone_live_again()
    {
        var report = new Simulation.Simulation(Parse("--nodes", "100", "--seconds", "120", "--partition-at", "20", "--heal-at", "70", "--seed", "5")).Run();

        // While split, each half declares the other dead: that is the partition, not a fault of the detector.
        Assert.Equal(100, report.FalsePositives);
        Assert.NotNull(report.SecondsToOneViewAfterHeal);
        Assert.InRange(report.SecondsToOneViewAfterHeal!.Value, 0, 30);
        Assert.Equal(0, report.UpMembersSeenDead);
        Assert.True(report.Converged);
    }

    [Fact]
    public void Crashed_members_that_restart_rejoin_through_the_seeds_and_are_live_everywhere()
    {
        var report = new Simulation.Simulation(Parse("--nodes", "50", "--seconds", "120", "--crash", "4", "--restart-after", "25", "--seed", "9")).Run();

        Assert.Equal(4, report.Restarted);
        Assert.True(report.Converged);
        Assert.Equal(0, report.UpMembersSeenDead);
    }

    [Fact]
    public void Members_that_join_one_by_one_through_the_seeds_converge()
    {
        var report = new Simulation.Simulation(Parse("--nodes", "80", "--seconds", "60", "--join-through-seeds", "--seed", "2")).Run();

        Assert.True(report.Converged);
        Assert.Equal(0, report.FalsePositives);
    }

    [Fact]
    public void At_thirty_percent_loss_the_fallback_ping_can_fail_and_live_members_are_declared_dead_which_the_lossless_model_hid()
    {
        SimulationReport Run(params string[] extra) =>
            new Simulation.Simulation(Parse(["--nodes", "50", "--seconds", "60", "--loss", "0.3", "--updates", "0", "--seed", "1", .. extra])).Run();

        // Resends of 25 ms + 2.1 × RTT, the RTT inflated by lost pings, make fallback answers late: probes fail.
        var honest = Run();
        Assert.True(honest.ReliableResends > 0);
        Assert.True(honest.SuspicionsOfLive > 0);
        Assert.True(honest.FalsePositives > 0);

        // The old model delivered every fallback ping at once: no probe of a live member could fail, whatever the loss.
        var lossless = Run("--lossless-reliable");
        Assert.Equal(0, lossless.ReliableResends);
        Assert.Equal(0, lossless.SuspicionsOfLive);
        Assert.Equal(0, lossless.FalsePositives);
    }

    [Fact]
    public void Without_loss_the_reliable_channel_model_changes_nothing_in_a_run()
    {
        string Run(params string[] extra) => new Simulation.Simulation(Parse(["--nodes", "60", "--seconds", "60", "--crash", "2",
            "--partition-at", "10", "--heal-at", "30", "--seed", "4", "--no-timing", .. extra])).Run().TraceDigest;

        Assert.Equal(Run("--lossless-reliable"), Run());
    }

    [Fact]
    public void The_reliable_channel_turns_loss_into_resend_delays_and_drops_connections_when_almost_nothing_gets_through()
    {
        static (double MeanMs, long Resends, long Drops, long Lost) Measure(double loss)
        {
            var options = new SimulationOptions { Loss = loss };
            var random = new Random(8);
            var model = new ReliableChannelModel(options, random, () => TimeSpan.TicksPerMillisecond * 3);
            double total = 0;
            var delivered = 0;
            for (var i = 0; i < 2000; i++)
            {
                if (model.Delay(i % 7, 7 + (i % 5), 24) is { } ticks)
                {
                    total += ticks / (double)TimeSpan.TicksPerMillisecond;
                    delivered++;
                }
            }

            return (total / Math.Max(1, delivered), model.Resends, model.Drops, model.Lost);
        }

        var clean = Measure(0);
        Assert.Equal((3.0, 0L, 0L, 0L), clean);

        // 5 %: most messages take one latency, the lost ones at least one resend delay (≥ 25 ms) more.
        var some = Measure(0.05);
        Assert.InRange(some.MeanMs, 3.5, 100);
        Assert.True(some.Resends > 0);
        Assert.Equal(0, some.Lost);

        // 90 %: five silent seconds in a row are likely while a message waits; its connection drops and it is lost.
        var heavy = Measure(0.9);
        Assert.True(heavy.Drops > 0);
        Assert.True(heavy.Lost >= heavy.Drops);
    }

    [Theory]
    [InlineData("--nodes", "1")]
    [InlineData("--loss", "1.5")]
    [InlineData("--partition-at", "10")]
    [InlineData("--bogus")]
    [InlineData("--seconds")]
    [InlineData("--nodes", "ten")]
    public void Bad_arguments_are_refused_with_a_message(params string[] args)
    {
        Assert.Null(SimulationOptions.Parse(args, out var error));
        Assert.False(string.IsNullOrWhiteSpace(error));
    }

    private static SimulationOptions Parse(params string[] args)
    {
        var options = SimulationOptions.Parse(args, out var error);
        Assert.True(options is not null, error);
        return options!;
    }
}
