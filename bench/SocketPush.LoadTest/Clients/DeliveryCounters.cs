using System.Buffers.Text;
using System.Diagnostics;

namespace SocketPush.LoadTest.Clients;

/// <summary>
/// What one client process saw. Every message the harness publishes carries <c>"t":</c> followed by the
/// publisher's <see cref="Stopwatch.GetTimestamp"/>: CLOCK_MONOTONIC, the same clock in every process of
/// this machine, so receive time minus t is the publish-to-receive latency. A warm-up message carries
/// <c>"t":0</c>: it tells that a connection is live and is not counted as a delivery.
/// </summary>
internal sealed class DeliveryCounters
{
    private static ReadOnlySpan<byte> TimestampKey => "\"t\":"u8;

    private long _received;
    private long _warmupReceived;
    private long _seenConnections;

    public LatencyHistogram Latency { get; } = new();

    public long Received => Interlocked.Read(ref _received);

    /// <summary>Warm-up messages received, so that totals can be checked against the server's own counters.</summary>
    public long WarmupReceived => Interlocked.Read(ref _warmupReceived);

    /// <summary>Connections that received at least one message (warm-up or measured).</summary>
    public long SeenConnections => Interlocked.Read(ref _seenConnections);

    public void Reset()
    {
        Interlocked.Exchange(ref _received, 0);
        Latency.Reset();
    }

    /// <summary>Counts every timestamped message in the payload (a frame may carry several).</summary>
    public void OnPayload(ReadOnlySpan<byte> payload, ref bool connectionSeen)
    {
        var now = Stopwatch.GetTimestamp();
        while (true)
        {
            var at = payload.IndexOf(TimestampKey);
            if (at < 0)
            {
                return;
            }

            payload = payload[(at + TimestampKey.Length)..];
            if (!Utf8Parser.TryParse(payload, out long sent, out var used))
            {
                continue;
            }

            payload = payload[used..];
            OnTimestamp(sent, now, ref connectionSeen);
        }
    }

    public void OnTimestamp(long sent, long now, ref bool connectionSeen)
    {
        if (!connectionSeen)
        {
            connectionSeen = true;
            Interlocked.Increment(ref _seenConnections);
        }

        if (sent == 0)
        {
            Interlocked.Increment(ref _warmupReceived);
            return;
        }

        Interlocked.Increment(ref _received);
        Latency.Record((now - sent) * 1_000_000 / Stopwatch.Frequency);
    }
}
