using System.Text.Json;
using System.Text.Json.Serialization;

namespace SocketPush.LoadTest.Workers;

/// <summary>A command from the coordinator to a client process, one JSON line on its stdin.</summary>
internal sealed class WorkerCommand
{
    public const string Connect = "connect";
    public const string Reset = "reset";
    public const string Report = "report";
    public const string CountOnly = "count";
    public const string Close = "close";
    public const string Exit = "exit";

    public string Cmd { get; set; } = "";

    public string System { get; set; } = "";

    public string Transport { get; set; } = "";

    /// <summary>This process's users; user i has session <see cref="Systems.BenchUsers.SessionOf"/>.</summary>
    public string[] Users { get; set; } = [];

    /// <summary>Where each user connects: one URL for all, or one per user.</summary>
    public string[] ClientUrls { get; set; } = [];

    /// <summary>Index of this slice's first user in the whole run (spreads source addresses across processes).</summary>
    public int First { get; set; }

    public string? Channel { get; set; }

    public int Concurrency { get; set; } = 50;

    public string SignalRClient { get; set; } = "raw";

    public string[] SourceAddresses { get; set; } = [];

    /// <summary>PEM file of the server's self-signed certificate, trusted for this run's TLS connections; null: plain.</summary>
    public string? TrustedCertificate { get; set; }
}

/// <summary>An answer or progress report from a client process, one JSON line on its stdout.</summary>
internal sealed class WorkerEvent
{
    public const string Progress = "progress";
    public const string Connected = "connected";
    public const string Ok = "ok";
    public const string Reported = "report";
    public const string Error = "error";

    public string Ev { get; set; } = "";

    public int Attempted { get; set; }

    public int Up { get; set; }

    public int Failed { get; set; }

    /// <summary>Connections that ended after they were up.</summary>
    public int Dropped { get; set; }

    public double Seconds { get; set; }

    public long Received { get; set; }

    public long WarmupReceived { get; set; }

    public long Seen { get; set; }

    public long[] Histogram { get; set; } = [];

    public double CpuSeconds { get; set; }

    public string[] Errors { get; set; } = [];

    public string? Message { get; set; }
}

internal static class WorkerJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
