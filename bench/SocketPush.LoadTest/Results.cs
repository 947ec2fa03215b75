using System.Text.Json;
using System.Text.Json.Serialization;
using SocketPush.LoadTest.PeerTraffic;

namespace SocketPush.LoadTest;

/// <summary>One system × transport × scenario × N measurement.</summary>
internal sealed class RunResult
{
    public string System { get; set; } = "";

    public string Transport { get; set; } = "";

    public string Scenario { get; set; } = "";

    public int N { get; set; }

    /// <summary>Server nodes (the cluster set: 1 or 3).</summary>
    public int Nodes { get; set; } = 1;

    /// <summary>Where the publisher, the channel and the users were, as checked against the servers.</summary>
    public string Placement { get; set; } = "";

    /// <summary>The cluster comparison this run is one side of, or null.</summary>
    public string? Comparison { get; set; }

    /// <summary>The history set: "off" or "on" (the node's history: section), or null outside it.</summary>
    public string? History { get; set; }

    /// <summary>The history set: the round this run belongs to (the sides alternate within each).</summary>
    public int Round { get; set; }

    /// <summary>"ok", or what went wrong (the figures that were measured stay).</summary>
    public string Status { get; set; } = "ok";

    public int Connected { get; set; }

    /// <summary>The stalled set: clients connected besides <see cref="Connected"/> that never read.</summary>
    public int Stalled { get; set; }

    /// <summary>The stalled set: socketpush_slow_consumers_closed_total at the end of the measurement.</summary>
    public double SlowConsumersClosed { get; set; }

    public int ConnectFailures { get; set; }

    public double ConnectSeconds { get; set; }

    public double ConnectsPerSecond { get; set; }

    /// <summary>Backend calls before connecting (SocketPush: auth.set and channel.subscribe per user).</summary>
    public double PrepareSeconds { get; set; }

    public long BaselinePssKb { get; set; }

    public long ConnectedPssKb { get; set; }

    public long BaselineRssKb { get; set; }

    public long ConnectedRssKb { get; set; }

    public double PssKbPerConnection { get; set; }

    public double RssKbPerConnection { get; set; }

    public int ServerProcesses { get; set; }

    /// <summary>Server CPU while the connections sit idle, in % of one core.</summary>
    public double IdleCpuPercent { get; set; }

    public long Publishes { get; set; }

    public long PublishFailures { get; set; }

    public double OfferedPublishesPerSecond { get; set; }

    public long ExpectedDeliveries { get; set; }

    public long Delivered { get; set; }

    public long WarmupPublishes { get; set; }

    public long WarmupDelivered { get; set; }

    /// <summary>The server's own counters at the end of the measurement (SocketPush: its /metrics), for a cross-check.</summary>
    public Dictionary<string, double> ServerCounters { get; set; } = [];

    /// <summary>Sum of the receiver counts the server's publish API answered.</summary>
    public long ServerReportedReceivers { get; set; }

    public double MeasureSeconds { get; set; }

    public double DeliveriesPerSecond { get; set; }

    public LatencySummary? Latency { get; set; }

    public double ServerCpuSeconds { get; set; }

    public double ServerCpuMicrosecondsPerDelivery { get; set; }

    public double ClientCpuMicrosecondsPerDelivery { get; set; }

    /// <summary>CPU used on the machine by other programs during the measurement, in cores.</summary>
    public double OtherLoadCores { get; set; }

    public int DroppedConnections { get; set; }

    public List<string> Errors { get; set; } = [];
}

internal sealed class MachineInfo
{
    public string Cpu { get; set; } = "";

    public int Cores { get; set; }

    public double MemoryGb { get; set; }

    public string Kernel { get; set; } = "";

    public string LoadAverageBefore { get; set; } = "";

    public string LoadAverageAfter { get; set; } = "";

    public int OpenFilesLimit { get; set; }
}

internal sealed class ResultsFile
{
    public DateTimeOffset Started { get; set; }

    public DateTimeOffset Finished { get; set; }

    public string Command { get; set; } = "";

    public MachineInfo Machine { get; set; } = new();

    public Dictionary<string, string> Versions { get; set; } = [];

    public Dictionary<string, string> Settings { get; set; } = [];

    public List<RunResult> Runs { get; set; } = [];

    /// <summary>The replicas set (write latency per writeQuorum, a join's handoff), or null.</summary>
    public ReplicaResults? Replicas { get; set; }

    /// <summary>The peer path set (two builds of the node, their node-to-node traffic), or null.</summary>
    public PeerPathResults? PeerPath { get; set; }

    /// <summary>The history set's failovers (its fan-out runs are in <see cref="Runs"/>), or null.</summary>
    public HistoryResults? History { get; set; }

    /// <summary>The cluster set's pairs (three nodes against one), derived from <see cref="Runs"/>.</summary>
    public List<ClusterComparison> Cluster => ClusterComparison.From(Runs);

    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
