namespace SocketPush.Gossip.Protocol;

/// <summary>
/// Lifeguard's suspicion timer: starts at <see cref="Max"/> and shrinks toward <see cref="Min"/>
/// as independent members confirm the suspicion, reaching it after <see cref="Expected"/> confirmations.
/// </summary>
internal sealed class Suspicion(long start, int expected, long min, long max, string firstFrom, uint incarnation)
{
    private readonly HashSet<string> _confirmedBy = new(StringComparer.Ordinal) { firstFrom };

    public long Start { get; } = start;

    public int Expected { get; } = expected;

    public long Min { get; } = min;

    public long Max { get; } = max;

    public uint Incarnation { get; set; } = incarnation;

    public int Confirmations { get; private set; }

    public int Generation { get; set; }

    /// <summary>True when <paramref name="from"/> is a new, counted confirmation.</summary>
    public bool Confirm(string from)
    {
        if (Confirmations >= Expected || from.Length == 0 || !_confirmedBy.Add(from))
        {
            return false;
        }

        Confirmations++;
        return true;
    }

    /// <summary>Absolute due time given the confirmations so far.</summary>
    public long Due => Start + Timeout(Confirmations, Expected, Min, Max);

    public static long Timeout(int confirmations, int expected, long min, long max)
    {
        if (expected < 1)
        {
            return min;
        }

        var fraction = Math.Log(confirmations + 1.0) / Math.Log(expected + 1.0);
        var raw = max - (long)Math.Floor(fraction * (max - min));
        return Math.Max(min, raw);
    }
}
