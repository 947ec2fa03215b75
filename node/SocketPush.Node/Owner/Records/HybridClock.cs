using MemoryPack;
using SocketPush.Client.Services;

namespace SocketPush.Node.Owner.Records;

/// <summary>
/// A hybrid logical clock: milliseconds of wall time in the high 48 bits, a counter in the low 16. Every stamp it
/// hands out is above every stamp it handed out or saw before, so a write made after another on any node wins
/// over it even when the nodes' clocks disagree by less than the time between the two writes.
/// A stamp from another node more than <see cref="MaxDrift"/> ahead of this node's wall clock is refused: accepted,
/// it would drag this clock (and every later write) into the future and win every merge until real time caught up,
/// and a stamp near <see cref="long.MaxValue"/> would make the next one overflow.
/// </summary>
internal sealed class HybridClock(TimeProvider time)
{
    /// <summary>How far ahead of this node's wall clock another node's stamp may be (clocks kept by NTP are within ms).</summary>
    public static readonly TimeSpan MaxDrift = TimeSpan.FromMinutes(1);

    private long _last;
    private long _refused;

    /// <summary>Stamps from other nodes refused as too far ahead since start (a metric).</summary>
    public long FutureStampsRefused => Interlocked.Read(ref _refused);

    public long Now()
    {
        var physical = time.GetUtcNow().ToUnixTimeMilliseconds() << 16;
        while (true)
        {
            var last = Volatile.Read(ref _last);
            var next = Math.Max(physical, last + 1);
            if (Interlocked.CompareExchange(ref _last, next, last) == last)
            {
                return next;
            }
        }
    }

    /// <summary>
    /// Moves the clock past a stamp from another node, or refuses the stamp (clock unmoved) with a
    /// <see cref="ServiceException"/> the sender reads: what it sent is not taken, so it keeps it and sends it again.
    /// </summary>
    public void ObserveFromPeer(long stamp, string what)
    {
        if (!Observe(stamp))
        {
            var ahead = ((stamp >> 16) - time.GetUtcNow().ToUnixTimeMilliseconds()) / 1000.0;
            throw new ServiceException(ErrorCodes.Unavailable,
                $"{what} stamped {ahead:0.#} s ahead of this node's clock (at most {MaxDrift.TotalSeconds:0} s allowed): " +
                "check the clocks of the cluster's machines (NTP).");
        }
    }

    /// <summary>
    /// Moves the clock past a stamp seen from another node; false, clock unmoved and the refusal counted, when the
    /// stamp is more than <see cref="MaxDrift"/> ahead of this node's wall clock.
    /// </summary>
    public bool Observe(long stamp)
    {
        var limit = (time.GetUtcNow().ToUnixTimeMilliseconds() + (long)MaxDrift.TotalMilliseconds) << 16 | 0xFFFF;
        if (stamp > limit)
        {
            Interlocked.Increment(ref _refused);
            return false;
        }

        while (true)
        {
            var last = Volatile.Read(ref _last);
            if (stamp <= last || Interlocked.CompareExchange(ref _last, stamp, last) == last)
            {
                return true;
            }
        }
    }
}

/// <summary>When and where a value was written; the node id breaks ties between equal clock values.</summary>
[MemoryPackable]
internal readonly partial record struct Stamp(long Time, string Node) : IComparable<Stamp>
{
    public static readonly Stamp Zero = new(0, "");

    public int CompareTo(Stamp other)
    {
        var byTime = Time.CompareTo(other.Time);
        return byTime != 0 ? byTime : string.CompareOrdinal(Node ?? "", other.Node ?? "");
    }

    public static Stamp Max(Stamp a, Stamp b) => a.CompareTo(b) >= 0 ? a : b;
}
