namespace SocketPush.Gossip.Simulation;

/// <summary>
/// The reliable channel (push-pull, fallback pings) as LiteNetLib 2.x runs it over a lossy network, so
/// that the simulator does not make the fallback ping succeed by construction:
/// <list type="bullet">
/// <item>Every packet is lost with the datagram loss. A lost packet goes again after LiteNetLib's
/// resend delay, <c>ResendFixedDelay + ResendRttMultiplier × RTT</c> = 25 ms + 2.1 × RTT, until it
/// arrives; a message is delivered when its last packet is. A message of more than one packet
/// (about 1 KB each) goes in windows of 64 packets, each window waiting for its slowest packet.</item>
/// <item>The RTT is LiteNetLib's average over the last three pings (one a second). A ping whose pong
/// was lost counts as the full ping interval, so a little loss inflates the resend delay a lot:
/// one lost pong of three makes it about 25 + 2.1 × 337 ≈ 730 ms.</item>
/// <item>LiteNetLib drops a connection after <c>DisconnectTimeout</c> (5 s) without any packet from
/// the peer. While a message waits, each second the peer's ping and its pong to ours are both lost
/// with <c>p × (1 − (1 − p)²)</c>; five such seconds in a row drop the connection and the message.
/// The next message to that peer first connects again: a request every <c>ReconnectDelay</c>, each
/// answered with <c>(1 − p)²</c>, giving up at the connect timeout, as the transport sets it.</item>
/// </list>
/// Not modelled: the per-channel ordering (a later message never waits for an earlier one here),
/// LiteNetLib's 15 ms logic tick, and connection state beyond "dropped" (a pair is connected until
/// a drop, so first messages pay no handshake).
/// </summary>
internal sealed class ReliableChannelModel(SimulationOptions options, Random random, Func<long> latency)
{
    public const double ResendFixedDelayMs = 25;
    public const double ResendRttMultiplier = 2.1;
    public const double PingIntervalMs = 1000;
    public const double DisconnectTimeoutMs = 5000;
    public const int PacketBytes = 1024;
    public const int WindowPackets = 64;

    private static readonly long TicksPerMs = TimeSpan.TicksPerMillisecond;

    /// <summary>Pairs whose connection dropped and was not opened again since.</summary>
    private readonly HashSet<long> _down = [];

    /// <summary>Packets sent again after a loss.</summary>
    public long Resends { get; private set; }

    /// <summary>Connections dropped by the disconnect timeout while a message waited on them.</summary>
    public long Drops { get; private set; }

    /// <summary>Messages lost: their connection dropped, or connecting again gave up.</summary>
    public long Lost { get; private set; }

    /// <summary>
    /// How long a message of <paramref name="bytes"/> from <paramref name="from"/> to
    /// <paramref name="to"/> takes to arrive, in ticks, or null when it never does.
    /// </summary>
    public long? Delay(int from, int to, int bytes)
    {
        var loss = options.Loss;
        if (options.LosslessReliable || loss == 0)
        {
            return latency();
        }

        var pair = from < to ? ((long)from << 32) | (uint)to : ((long)to << 32) | (uint)from;
        long elapsed = 0;
        if (_down.Contains(pair))
        {
            if (Connect(loss) is not { } connected)
            {
                Lost++;
                return null;
            }

            elapsed = connected;
            _down.Remove(pair);
        }

        var resend = ResendDelay(loss);
        var packets = Math.Max(1, (bytes + PacketBytes - 1) / PacketBytes);
        for (var sent = 0; sent < packets; sent += WindowPackets)
        {
            long slowest = 0;
            for (var i = sent; i < Math.Min(packets, sent + WindowPackets); i++)
            {
                slowest = Math.Max(slowest, PacketDelay(loss, resend));
            }

            elapsed += slowest;
        }

        if (DropsWithin(loss, elapsed))
        {
            _down.Add(pair);
            Drops++;
            Lost++;
            return null;
        }

        return elapsed;
    }

    /// <summary>One packet, sent again every <paramref name="resend"/> ticks until one copy arrives.</summary>
    private long PacketDelay(double loss, long resend)
    {
        long elapsed = 0;
        while (random.NextDouble() < loss)
        {
            elapsed += resend;
            Resends++;
        }

        return elapsed + latency();
    }

    /// <summary>25 ms + 2.1 × the average of three RTT samples; a sample whose ping or pong was lost is the ping interval.</summary>
    private long ResendDelay(double loss)
    {
        var pingLost = 1 - ((1 - loss) * (1 - loss));
        double rttMs = 0;
        for (var i = 0; i < 3; i++)
        {
            rttMs += random.NextDouble() < pingLost ? PingIntervalMs : 2.0 * latency() / TicksPerMs;
        }

        return (long)((ResendFixedDelayMs + (ResendRttMultiplier * rttMs / 3)) * TicksPerMs);
    }

    /// <summary>Whether, while a message waited <paramref name="elapsed"/> ticks, five seconds in a row brought nothing from the peer.</summary>
    private bool DropsWithin(double loss, long elapsed)
    {
        var seconds = (int)(elapsed / (1000 * TicksPerMs));
        var needed = (int)(DisconnectTimeoutMs / 1000);
        if (seconds < needed)
        {
            return false;
        }

        var silent = loss * (1 - ((1 - loss) * (1 - loss)));
        var run = 0;
        for (var s = 0; s < seconds; s++)
        {
            run = random.NextDouble() < silent ? run + 1 : 0;
            if (run >= needed)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>LiteNetLib's connect: a request every ReconnectDelay, as the transport derives it from the connect timeout.</summary>
    private long? Connect(double loss)
    {
        var timeoutMs = (int)Math.Ceiling(options.Gossip.PeerConnectTimeout.TotalMilliseconds);
        var delayMs = Math.Clamp(timeoutMs / 4, 10, 500);
        var attempts = Math.Max(1, (timeoutMs / delayMs) - 1) + 1;
        for (var attempt = 0; attempt < attempts; attempt++)
        {
            if (random.NextDouble() < (1 - loss) * (1 - loss))
            {
                return (attempt * delayMs * TicksPerMs) + latency() + latency();
            }
        }

        return null;
    }
}
