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
