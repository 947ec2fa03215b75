using System.Collections.Immutable;

namespace SocketPush.ConsistentHashing;

/// <summary>
/// Where two rings disagree: the ranges of positions whose preference list of length
/// <see cref="Replicas"/> changed, ordered by position, not overlapping. Positions in no range keep
/// the same list. Built by <see cref="HashRing.Difference(HashRing, HashRing, int)"/>.
/// </summary>
public sealed class RingDifference
{
    private RingDifference(int replicas, ImmutableArray<RingChange> changes)
    {
        Replicas = replicas;
        Changes = changes;
    }

    /// <summary>The length of the preference lists compared.</summary>
    public int Replicas { get; }

    /// <summary>The changed ranges, ordered by position. Adjacent ranges always differ in their lists.</summary>
    public ImmutableArray<RingChange> Changes { get; }

    /// <summary>The share of the position space whose preference list changed.</summary>
    public double ChangedFraction => Changes.Sum(change => change.Range.Fraction);

    /// <summary>The change covering a position, or null when that position keeps its preference list.</summary>
    public RingChange? Find(uint position)
    {
        int low = 0;
        int high = Changes.Length - 1;
        while (low <= high)
        {
            int middle = low + ((high - low) >> 1);
            var range = Changes[middle].Range;
            if (range.End < position)
            {
                low = middle + 1;
            }
            else if (range.Start > position)
            {
                high = middle - 1;
            }
            else
            {
                return Changes[middle];
            }
        }

        return null;
    }

    internal static RingDifference Compute(HashRing before, HashRing after, int replicas)
    {
        var changes = ImmutableArray.CreateBuilder<RingChange>();
        var beforeList = new string[replicas];
        var afterList = new string[replicas];
        var pendingBefore = new string[replicas];
        var pendingAfter = new string[replicas];
        int pendingBeforeCount = 0;
        int pendingAfterCount = 0;
        bool pending = false;
        uint pendingStart = 0;
        uint pendingEnd = 0;

        // Between two consecutive points of either ring both lists are constant, so the lists at the
        // end of each such segment stand for the whole segment.
        uint start = 0;
        foreach (uint end in Boundaries(before.Points, after.Points))
        {
            int beforeCount = before.PreferenceListAt(end, beforeList);
            int afterCount = after.PreferenceListAt(end, afterList);
            var beforeSpan = beforeList.AsSpan(0, beforeCount);
            var afterSpan = afterList.AsSpan(0, afterCount);
            if (!SameList(beforeSpan, afterSpan))
            {
                if (pending && pendingEnd == start - 1
                    && SameList(beforeSpan, pendingBefore.AsSpan(0, pendingBeforeCount))
                    && SameList(afterSpan, pendingAfter.AsSpan(0, pendingAfterCount)))
                {
                    pendingEnd = end;
                }
                else
                {
                    if (pending)
                    {
                        changes.Add(new RingChange(new KeyRange(pendingStart, pendingEnd), [.. pendingBefore.AsSpan(0, pendingBeforeCount)], [.. pendingAfter.AsSpan(0, pendingAfterCount)]));
                    }

                    pending = true;
                    pendingStart = start;
                    pendingEnd = end;
                    beforeSpan.CopyTo(pendingBefore);
                    afterSpan.CopyTo(pendingAfter);
                    pendingBeforeCount = beforeCount;
                    pendingAfterCount = afterCount;
                }
            }

            start = end + 1;
        }

        if (pending)
        {
            changes.Add(new RingChange(new KeyRange(pendingStart, pendingEnd), [.. pendingBefore.AsSpan(0, pendingBeforeCount)], [.. pendingAfter.AsSpan(0, pendingAfterCount)]));
        }

        return new RingDifference(replicas, changes.ToImmutable());
    }

    private static bool SameList(ReadOnlySpan<string> a, ReadOnlySpan<string> b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        for (int i = 0; i < a.Length; i++)
        {
            if (!string.Equals(a[i], b[i], StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The distinct point positions of both rings in ascending order, ending with uint.MaxValue.</summary>
    private static List<uint> Boundaries(ReadOnlySpan<ulong> a, ReadOnlySpan<ulong> b)
    {
        var boundaries = new List<uint>(a.Length + b.Length + 1);
        int i = 0;
        int j = 0;
        while (i < a.Length || j < b.Length)
        {
            uint next;
            if (j >= b.Length || (i < a.Length && (a[i] >> 32) <= (b[j] >> 32)))
            {
                next = (uint)(a[i++] >> 32);
            }
            else
            {
                next = (uint)(b[j++] >> 32);
            }

            if (boundaries.Count == 0 || boundaries[^1] != next)
            {
                boundaries.Add(next);
            }
        }

        if (boundaries.Count == 0 || boundaries[^1] != uint.MaxValue)
        {
            boundaries.Add(uint.MaxValue);
        }

        return boundaries;
    }
}
