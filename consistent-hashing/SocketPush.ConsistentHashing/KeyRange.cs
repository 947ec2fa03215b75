namespace SocketPush.ConsistentHashing;

/// <summary>
/// The ring positions from <see cref="Start"/> to <see cref="End"/>, both included
/// (<see cref="Start"/> ≤ <see cref="End"/>; a range never wraps past position 0).
/// </summary>
/// <param name="Start">The first position of the range.</param>
/// <param name="End">The last position of the range.</param>
public readonly record struct KeyRange(uint Start, uint End)
{
    /// <summary>The number of positions in the range.</summary>
    public ulong Length => (ulong)End - Start + 1;

    /// <summary>The share of the whole position space the range covers.</summary>
    public double Fraction => Length / 4294967296.0;

    /// <summary>True when <paramref name="position"/> (see <see cref="HashRing.Position(ReadOnlySpan{byte})"/>) lies in the range.</summary>
    public bool Contains(uint position) => position >= Start && position <= End;
}
