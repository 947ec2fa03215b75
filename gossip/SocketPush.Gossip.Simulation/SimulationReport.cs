using System.Text.Json;

namespace SocketPush.Gossip.Simulation;

/// <summary>Percentiles by nearest rank; null fields when there was nothing to measure.</summary>
internal sealed record Percentiles(double P50, double P99, double Max)
{
    public static Percentiles? Of(List<double> values)
    {
        if (values.Count == 0)
        {
            return null;
        }

        values.Sort();
        return new Percentiles(Rank(values, 0.50), Rank(values, 0.99), values[^1]);
    }

    private static double Rank(List<double> sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
}

/// <summary>What one run measured; printed as one JSON object.</summary>
internal sealed class SimulationReport
{
    public int Nodes { get; init; }

    public double Seconds { get; init; }

    public double Loss { get; init; }

    /// <summary>Whether probes fell back to a ping over the reliable channel (<c>--no-fallback</c> turns it off).</summary>
    public bool FallbackPing { get; init; }

    /// <summary><c>litenetlib</c>: losses cost resend delays and drop connections; <c>lossless</c>: the old model, never lost nor late.</summary>
    public string ReliableModel { get; init; } = "";

    public int Crashed { get; init; }

    public int Restarted { get; init; }

    public int Seed { get; init; }

    /// <summary>Every running member sees exactly the running members as live at the end.</summary>
    public bool Converged { get; init; }

    /// <summary>From a crash to the last running member marking the crashed one dead.</summary>
    public Percentiles? DetectionSeconds { get; init; }

    public int UndetectedCrashes { get; init; }

    /// <summary>Running members that some member declared dead.</summary>
    public int FalsePositives { get; init; }

    public long FalsePositiveEvents { get; init; }

    /// <summary>Distinct (member, incarnation) suspicions of running members.</summary>
    public int SuspicionsOfLive { get; init; }

    /// <summary>From a metadata update to the last running member learning it.</summary>
    public Percentiles? DisseminationSeconds { get; init; }

    public int Updates { get; init; }

    public int Undisseminated { get; init; }

    public double MessagesPerMemberPerSecond { get; init; }

    public double BytesPerMemberPerSecond { get; init; }

    public double DatagramsPerMemberPerSecond { get; init; }

    public double PushPullsPerMemberPerSecond { get; init; }

    /// <summary>Fallback pings and their answers.</summary>
    public double FallbackPingsPerMemberPerSecond { get; init; }

    /// <summary>Reliable-channel packets sent again after a loss.</summary>
    public long ReliableResends { get; init; }

    /// <summary>Connections dropped by LiteNetLib's disconnect timeout while a message waited.</summary>
    public long ReliableConnectionDrops { get; init; }

    /// <summary>Reliable messages that never arrived (their connection dropped, or reconnecting gave up).</summary>
    public long ReliableMessagesLost { get; init; }

    public double? PartitionAt { get; init; }

    public double? HealAt { get; init; }

    /// <summary>From the heal to the first sample (every 0.5 s) where every running member sees all running members live.</summary>
    public double? SecondsToOneViewAfterHeal { get; init; }

    /// <summary>Running members that some running member still holds dead or left at the end.</summary>
    public int UpMembersSeenDead { get; init; }

    /// <summary>Hash of every delivered datagram with its time and receiver: equal digests mean equal runs.</summary>
    public string TraceDigest { get; init; } = "";

    public double? WallSeconds { get; set; }

    public double? SimulatedSecondsPerWallSecond { get; set; }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}
