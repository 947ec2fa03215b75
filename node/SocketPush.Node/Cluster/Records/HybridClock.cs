namespace SocketPush.Node.Cluster.Records;

/// <summary>
/// A hybrid logical clock: milliseconds of wall time in the high 48 bits, a counter in the low 16. Every stamp it
/// hands out is above every stamp it handed out or saw before, so a write made after another on any node wins
/// over it even when the nodes' clocks disagree by less than the time between the two writes.
/// </summary>
internal sealed class HybridClock(TimeProvider time)
{
    private long _last;

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

    /// <summary>Moves the clock past a stamp seen from another node.</summary>
    public void Observe(long stamp)
    {
        while (true)
        {
            var last = Volatile.Read(ref _last);
            if (stamp <= last || Interlocked.CompareExchange(ref _last, stamp, last) == last)
            {
                return;
            }
        }
    }
}

/// <summary>When and where a value was written; the node id breaks ties between equal clock values.</summary>
internal readonly record struct Stamp(long Time, string Node) : IComparable<Stamp>
{
    public static readonly Stamp Zero = new(0, "");

    public int CompareTo(Stamp other)
    {
        var byTime = Time.CompareTo(other.Time);
        return byTime != 0 ? byTime : string.CompareOrdinal(Node ?? "", other.Node ?? "");
    }

    public static Stamp Max(Stamp a, Stamp b) => a.CompareTo(b) >= 0 ? a : b;
}
