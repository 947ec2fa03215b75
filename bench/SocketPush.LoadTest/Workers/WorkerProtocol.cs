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

    /// <summary>The recovering clients' stream report (<see cref="StreamReport"/>).</summary>
    public const string Streams = "streams";

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

    /// <summary>
    /// Connect: where each user's client reconnects when its connection ends; non-empty makes the clients recovering ones
    /// (<see cref="Clients.RecoveringConnection"/>, SocketPush over WebSockets, subscribed to <see cref="Channel"/>).
    /// </summary>
    public string[] ReconnectUrls { get; set; } = [];

    /// <summary>Connect, recovering clients: publishes are numbered 0 to this (exclusive); each client notes when it first got each.</summary>
    public int MaxSequence { get; set; }

    /// <summary>Streams: the Stopwatch timestamp the report's times count from (the kill).</summary>
    public long Since { get; set; }

    /// <summary>Streams: sets of publishes (sequence numbers); per set, when each client held all of it.</summary>
    public int[][] Required { get; set; } = [];
}

/// <summary>What one client process's recovering clients saw of the channel's stream.</summary>
internal sealed class StreamReport
{
    public int Clients { get; set; }

    /// <summary>Clients whose connection ended at least once.</summary>
    public int Disconnected { get; set; }

    /// <summary>Clients not connected now (ended, not yet back).</summary>
    public int Down { get; set; }

    public int Reconnects { get; set; }

    public int FailedAttempts { get; set; }

    public long Gaps { get; set; }

    public long MissingOffsets { get; set; }

    public long Duplicates { get; set; }

    public long DuplicateSequences { get; set; }

    public long EpochChanges { get; set; }

    public long RecoveredFalse { get; set; }

    /// <summary>Per set of <see cref="WorkerCommand.Required"/>, per client: ms from Since until it held the whole set; -1 while it lacks one.</summary>
    public double[][] CaughtUpMs { get; set; } = [];

    /// <summary>Per client that reconnected: ms from Since until its last Recover was answered.</summary>
    public double[] ReconnectedMs { get; set; } = [];

    public string[] Errors { get; set; } = [];

    /// <summary>The reports of every client process summed (their per-client times left out).</summary>
    public static StreamReport Sum(IReadOnlyList<StreamReport> reports) => new()
    {
        Clients = reports.Sum(r => r.Clients),
        Disconnected = reports.Sum(r => r.Disconnected),
        Down = reports.Sum(r => r.Down),
        Reconnects = reports.Sum(r => r.Reconnects),
        FailedAttempts = reports.Sum(r => r.FailedAttempts),
        Gaps = reports.Sum(r => r.Gaps),
        MissingOffsets = reports.Sum(r => r.MissingOffsets),
        Duplicates = reports.Sum(r => r.Duplicates),
        DuplicateSequences = reports.Sum(r => r.DuplicateSequences),
        EpochChanges = reports.Sum(r => r.EpochChanges),
        RecoveredFalse = reports.Sum(r => r.RecoveredFalse),
        Errors = [.. reports.SelectMany(r => r.Errors).Take(8)],
    };
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

    public StreamReport? Streams { get; set; }
}

internal static class WorkerJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
