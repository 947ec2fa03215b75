using System.Globalization;

namespace SocketPush.Gossip.Simulation;

/// <summary>One simulated scenario; everything random in it follows from <see cref="Seed"/>.</summary>
internal sealed class SimulationOptions
{
    public int Nodes { get; set; } = 100;

    public double Seconds { get; set; } = 120;

    /// <summary>Probability that a datagram is lost; on the reliable channel a loss costs a resend delay (see <see cref="ReliableChannelModel"/>).</summary>
    public double Loss { get; set; }

    /// <summary>The old model of the reliable channel: never lost, never late. Only to compare with.</summary>
    public bool LosslessReliable { get; set; }

    /// <summary>Members crashed at random times, chosen among those that do not announce updates.</summary>
    public int Crash { get; set; }

    /// <summary>When set, a crashed member restarts this long after its crash and joins through the seeds.</summary>
    public double? RestartAfter { get; set; }

    public int Seed { get; set; } = 1;

    public double LatencyMinMs { get; set; } = 1;

    public double LatencyMaxMs { get; set; } = 5;

    /// <summary>Metadata updates announced at random times, to measure dissemination.</summary>
    public int Updates { get; set; } = 20;

    public double? PartitionAt { get; set; }

    public double? HealAt { get; set; }

    /// <summary>Start every member through a seed instead of from a converged view.</summary>
    public bool JoinThroughSeeds { get; set; }

    /// <summary>Print the wall and processor time of setup, run and report to standard error.</summary>
    public bool Phases { get; set; }

    /// <summary>Leave out the wall-clock figures, so two runs with one seed print identical bytes.</summary>
    public bool NoTiming { get; set; }

    public GossipOptions Gossip { get; set; } = new();

    public const string Usage = """
        usage: SocketPush.Gossip.Simulation [--nodes N] [--seconds S] [--loss P] [--crash K] [--restart-after S]
                                            [--seed N] [--latency-min-ms MS] [--latency-max-ms MS] [--updates K]
                                            [--partition-at S --heal-at S] [--join-through-seeds] [--no-fallback]
                                            [--lossless-reliable] [--no-timing] [--phases]
        Prints one JSON object. The same arguments print the same output; --no-timing leaves out the
        two wall-clock figures so that the bytes match too.
        """;

    /// <summary>Parses the command line; returns null and an error for anything it does not understand.</summary>
    public static SimulationOptions? Parse(string[] args, out string? error)
    {
        var options = new SimulationOptions();
        error = null;
        for (var i = 0; i < args.Length; i++)
        {
            var flag = args[i];
            string Value()
            {
                if (i + 1 >= args.Length)
                {
                    throw new FormatException($"{flag} needs a value.");
                }

                return args[++i];
            }

            try
            {
                switch (flag)
                {
                    case "--nodes": options.Nodes = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--seconds": options.Seconds = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--loss": options.Loss = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--crash": options.Crash = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--restart-after": options.RestartAfter = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--seed": options.Seed = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--latency-min-ms": options.LatencyMinMs = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--latency-max-ms": options.LatencyMaxMs = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--updates": options.Updates = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--partition-at": options.PartitionAt = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--heal-at": options.HealAt = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--join-through-seeds": options.JoinThroughSeeds = true; break;
                    case "--no-fallback": options.Gossip.Swim.FallbackPing = false; break;
                    case "--lossless-reliable": options.LosslessReliable = true; break;
                    case "--no-timing": options.NoTiming = true; break;
                    case "--phases": options.Phases = true; break;
                    default: throw new FormatException($"Unknown argument '{flag}'.");
                }
            }
            catch (FormatException e)
            {
                error = e.Message.StartsWith("--", StringComparison.Ordinal) || e.Message.StartsWith("Unknown", StringComparison.Ordinal)
                    ? e.Message
                    : $"{flag}: {e.Message}";
                return null;
            }
            catch (OverflowException)
            {
                error = $"{flag}: value out of range.";
                return null;
            }
        }

        error = options.Validate();
        return error is null ? options : null;
    }

    private string? Validate()
    {
        if (Nodes < 2)
        {
            return "--nodes must be at least 2.";
        }

        if (Seconds <= 0 || Seconds > 86_400)
        {
            return "--seconds must be in (0, 86400].";
        }

        if (Loss is < 0 or >= 1)
        {
            return "--loss must be in [0, 1).";
        }

        if (Crash < 0 || Crash > Nodes / 2)
        {
            return "--crash must be between 0 and half the nodes.";
        }

        if (LatencyMinMs < 0 || LatencyMaxMs < LatencyMinMs)
        {
            return "--latency-min-ms must be >= 0 and <= --latency-max-ms.";
        }

        if (Updates < 0)
        {
            return "--updates must not be negative.";
        }

        if (PartitionAt.HasValue != HealAt.HasValue || (PartitionAt is { } p && (p < 0 || HealAt <= p || HealAt > Seconds)))
        {
            return "--partition-at and --heal-at go together, with 0 <= partition-at < heal-at <= seconds.";
        }

        if (RestartAfter is <= 0)
        {
            return "--restart-after must be positive.";
        }

        return null;
    }
}
