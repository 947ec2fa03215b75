using System.Buffers;
using System.Collections.Immutable;
using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace SocketPush.ConsistentHashing;

/// <summary>
/// An immutable consistent-hash ring. Each node places virtual nodes (points) on a 32-bit circle at
/// positions that depend only on its id; a key hashes (XxHash3 of its UTF-8 bytes) to a position and
/// belongs to the first point at or after it, clockwise. Because a node's points never depend on the
/// other members, a node that joins takes keys only from others and a node that leaves gives away
/// only its own keys. Lookups allocate nothing and take constant time.
/// </summary>
/// <remarks>
/// The ring is a pure function of its members and <see cref="HashRingOptions"/>: the same members in
/// any order give an equal ring in every process on every machine.
/// </remarks>
public sealed class HashRing : IEquatable<HashRing>
{
    // Lists up to this long are searched for repeats; longer ones mark the nodes met in a bitset.
    private const int ShortListLength = 8;

    // Bitsets for up to 64 × this many nodes live on the stack.
    private const int StackBitsetWords = 64;

    // Node ids up to this many UTF-8 bytes are encoded on the stack while the ring is built.
    private const int StackIdBytes = 512;

    // The first pass of the build's radix sort splits points into at most 2^this groups.
    private const int TopDigitBits = 8;

    // A point is (position << 32) | rank, where rank is the node's index in _nodeIds (ordinal order).
    // Sorting these numbers orders points by position and breaks a tie by node id, an order that does
    // not depend on which other nodes are present; that is what keeps movement minimal.
    // The array ends with a sentinel at position uint.MaxValue that carries the rank of the first
    // point, so a lookup past the last point wraps around without a branch.
    private readonly ulong[] _points;

    // One bucket per one or two points: position >> _bucketShift picks it. A bucket holds the first
    // two points at or after its start, so most lookups end after one memory access whatever the
    // number of points, and the rest scan on from the third.
    private readonly Bucket[] _buckets;
    private readonly int _bucketShift;
    private readonly string[] _nodeIds;
    private readonly int[] _pointsPerNode;

    private HashRing(int virtualNodesPerNode, ImmutableArray<RingMember> members, string[] nodeIds, int[] pointsPerNode, ulong[] points, Bucket[] buckets, int bucketShift)
    {
        VirtualNodesPerNode = virtualNodesPerNode;
        Members = members;
        Nodes = ImmutableArray.Create(nodeIds);
        _nodeIds = nodeIds;
        _pointsPerNode = pointsPerNode;
        _points = points;
        _buckets = buckets;
        _bucketShift = bucketShift;
    }

    /// <summary>The members, ordered by id (ordinal).</summary>
    public ImmutableArray<RingMember> Members { get; }

    /// <summary>The node ids, ordered by id (ordinal).</summary>
    public ImmutableArray<string> Nodes { get; }

    /// <summary>The number of nodes.</summary>
    public int NodeCount => _nodeIds.Length;

    /// <summary>True when the ring has no node; lookups on an empty ring throw.</summary>
    public bool IsEmpty => _nodeIds.Length == 0;

    /// <summary>The <see cref="HashRingOptions.VirtualNodesPerNode"/> the ring was built with.</summary>
    public int VirtualNodesPerNode { get; }

    /// <summary>The number of points (virtual nodes of all members) on the ring.</summary>
    public int PointCount => _points.Length - 1;

    internal ReadOnlySpan<ulong> Points => _points.AsSpan(0, PointCount);

    /// <summary>The bytes of the lookup tables (points and bucket index).</summary>
    internal long MemoryBytes => (_points.Length * sizeof(ulong)) + ((long)_buckets.Length * Unsafe.SizeOf<Bucket>());

    /// <summary>Builds a ring of nodes of weight 1.</summary>
    /// <param name="nodeIds">Distinct, non-empty node ids, in any order.</param>
    /// <param name="options">Ring settings; defaults when null.</param>
    /// <exception cref="ArgumentException">An id is null, empty or repeated, or the options are invalid.</exception>
    public static HashRing Create(IEnumerable<string> nodeIds, HashRingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(nodeIds);
        return Create(nodeIds.Select(id => new RingMember(id)), options);
    }

    /// <summary>Builds a ring of weighted nodes.</summary>
    /// <param name="members">Members with distinct, non-empty ids, in any order.</param>
    /// <param name="options">Ring settings; defaults when null.</param>
    /// <exception cref="ArgumentException">
    /// An id is null, empty or repeated, a weight is not a finite number greater than zero, the ring
    /// would exceed <see cref="HashRingOptionsValidator.MaxPoints"/> points, or the options are invalid.
    /// </exception>
    public static HashRing Create(IEnumerable<RingMember> members, HashRingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(members);
        options ??= new HashRingOptions();
        HashRingOptionsValidator.ThrowIfInvalid(options);
        int virtualNodes = options.VirtualNodesPerNode;

        var sorted = members.ToArray();
        foreach (var member in sorted)
        {
            if (string.IsNullOrEmpty(member.Id))
            {
                throw new ArgumentException("A ring member has a null or empty id.", nameof(members));
            }

            if (!IsWellFormed(member.Id))
            {
                // Two such ids could encode to the same UTF-8 bytes and so share all their points.
                throw new ArgumentException($"Ring member id '{member.Id}' contains a lone surrogate; ids must be well-formed UTF-16.", nameof(members));
            }

            if (!double.IsFinite(member.Weight) || member.Weight <= 0)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"The weight of ring member '{member.Id}' must be a finite number greater than zero, not {member.Weight}."), nameof(members));
            }
        }

        if (sorted.Length > HashRingOptionsValidator.MaxNodes)
        {
            throw new ArgumentException($"A ring holds at most {HashRingOptionsValidator.MaxNodes} nodes, not {sorted.Length}.", nameof(members));
        }

        Array.Sort(sorted, static (a, b) => string.CompareOrdinal(a.Id, b.Id));
        var nodeIds = new string[sorted.Length];
        var pointsPerNode = new int[sorted.Length];
        long total = 0;
        for (int rank = 0; rank < sorted.Length; rank++)
        {
            if (rank > 0 && string.Equals(sorted[rank].Id, sorted[rank - 1].Id, StringComparison.Ordinal))
            {
                throw new ArgumentException($"Ring member '{sorted[rank].Id}' is listed more than once.", nameof(members));
            }

            nodeIds[rank] = sorted[rank].Id;
            double count = Math.Max(1, Math.Round(virtualNodes * sorted[rank].Weight, MidpointRounding.AwayFromZero));
            total += count > HashRingOptionsValidator.MaxPoints ? HashRingOptionsValidator.MaxPoints + 1L : (long)count;
            if (total > HashRingOptionsValidator.MaxPoints)
            {
                throw new ArgumentException($"The ring would hold more than {HashRingOptionsValidator.MaxPoints} points; lower the weights or VirtualNodesPerNode.", nameof(members));
            }

            pointsPerNode[rank] = (int)count;
        }

        var (points, buckets, bucketShift) = PlacePoints(nodeIds, pointsPerNode, (int)total);
        return new HashRing(virtualNodes, ImmutableArray.Create(sorted), nodeIds, pointsPerNode, points, buckets, bucketShift);
    }

    /// <summary>The ring position of a key: the high 32 bits of the XxHash3 (seed 0) of its bytes.</summary>
    public static uint Position(ReadOnlySpan<byte> key) => RingHash.Position(key);

    /// <summary>The ring position of a key given as text: that of its UTF-8 bytes, computed without allocating.</summary>
    public static uint Position(ReadOnlySpan<char> key) => RingHash.Position(key);

    /// <summary>The node that owns a key: the node of the first point at or after the key's position.</summary>
    /// <exception cref="InvalidOperationException">The ring is empty.</exception>
    public string Owner(ReadOnlySpan<byte> key) => OwnerAt(RingHash.Position(key));

    /// <summary>The node that owns a key given as text (hashed as UTF-8).</summary>
    /// <exception cref="InvalidOperationException">The ring is empty.</exception>
    public string Owner(ReadOnlySpan<char> key) => OwnerAt(RingHash.Position(key));

    /// <summary>The node that owns the keys at a ring position (see <see cref="Position(ReadOnlySpan{byte})"/>).</summary>
    /// <exception cref="InvalidOperationException">The ring is empty.</exception>
    public string OwnerAt(uint position)
    {
        ThrowIfEmpty();
        return _nodeIds[OwnerRank(position)];
    }

    /// <summary>
    /// Writes the preference list of a key into <paramref name="destination"/>: the first distinct
    /// nodes met clockwise from the key's position, the owner first. It holds
    /// min(<paramref name="destination"/>.Length, <see cref="NodeCount"/>) nodes.
    /// </summary>
    /// <returns>The number of nodes written.</returns>
    public int PreferenceList(ReadOnlySpan<byte> key, Span<string> destination) => PreferenceListAt(RingHash.Position(key), destination);

    /// <summary>The preference list of a key given as text (hashed as UTF-8); see <see cref="PreferenceList(ReadOnlySpan{byte}, Span{string})"/>.</summary>
    /// <returns>The number of nodes written.</returns>
    public int PreferenceList(ReadOnlySpan<char> key, Span<string> destination) => PreferenceListAt(RingHash.Position(key), destination);

    /// <summary>The preference list of the keys at a ring position; see <see cref="PreferenceList(ReadOnlySpan{byte}, Span{string})"/>.</summary>
    /// <returns>The number of nodes written.</returns>
    public int PreferenceListAt(uint position, Span<string> destination)
    {
        int wanted = Math.Min(destination.Length, _nodeIds.Length);
        if (wanted == 0)
        {
            return 0;
        }

        // A short list is searched for repeats faster than a bitset is cleared.
        return wanted <= ShortListLength
            ? WalkPreferenceList(position, destination[..wanted], [])
            : LongPreferenceList(position, destination[..wanted]);
    }

    /// <summary>
    /// Compares the preference lists of length <paramref name="replicas"/> of two rings over the whole
    /// position space: the ranges where they differ, with the nodes each range gains and loses.
    /// </summary>
    /// <param name="before">The ring in force so far.</param>
    /// <param name="after">The ring that replaces it.</param>
    /// <param name="replicas">The length of the preference lists compared; 1 compares owners.</param>
    public static RingDifference Difference(HashRing before, HashRing after, int replicas = 1)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1);
        return RingDifference.Compute(before, after, replicas);
    }

    /// <summary>True when both rings have the same settings and members, hence the same owners for every key.</summary>
    public bool Equals(HashRing? other) =>
        other is not null
        && (ReferenceEquals(this, other)
            || (VirtualNodesPerNode == other.VirtualNodesPerNode
                && _nodeIds.AsSpan().SequenceEqual(other._nodeIds)
                && _pointsPerNode.AsSpan().SequenceEqual(other._pointsPerNode)));

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as HashRing);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(VirtualNodesPerNode);
        for (int rank = 0; rank < _nodeIds.Length; rank++)
        {
            hash.Add(_nodeIds[rank], StringComparer.Ordinal);
            hash.Add(_pointsPerNode[rank]);
        }

        return hash.ToHashCode();
    }

    /// <inheritdoc />
    public override string ToString() => $"HashRing({NodeCount} nodes, {PointCount} points)";

    /// <summary>
    /// For each node, the share of the position space whose preference list of length
    /// <paramref name="replicas"/> includes it; with 1, the share it owns. Exact, from the points.
    /// </summary>
    internal double[] OwnedFractions(int replicas = 1)
    {
        var fractions = new double[_nodeIds.Length];
        int count = PointCount;
        if (count == 0)
        {
            return fractions;
        }

        var list = new string[Math.Min(replicas, _nodeIds.Length)];
        for (int i = 0; i < count; i++)
        {
            uint position = (uint)(_points[i] >> 32);
            // The point owns the positions after the previous point up to its own, wrapping at the start.
            ulong length = i == 0
                ? (1UL << 32) - (_points[count - 1] >> 32) + position
                : position - (_points[i - 1] >> 32);
            if (length == 0)
            {
                continue;
            }

            int written = PreferenceListAt(position, list);
            for (int j = 0; j < written; j++)
            {
                fractions[Array.BinarySearch(_nodeIds, list[j], StringComparer.Ordinal)] += length / 4294967296.0;
            }
        }

        return fractions;
    }

    internal int RankOf(string nodeId) => Array.BinarySearch(_nodeIds, nodeId, StringComparer.Ordinal);

    /// <summary>The owner's index in <see cref="Nodes"/>, for measurements that count per node.</summary>
    internal int OwnerRankAt(uint position)
    {
        ThrowIfEmpty();
        return OwnerRank(position);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int RankAt(ulong point) => (int)(uint)point;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int OwnerRank(uint position)
    {
        ref readonly var bucket = ref BucketOf(position);
        if (position <= bucket.FirstPosition)
        {
            return bucket.FirstRank;
        }

        if (position <= bucket.SecondPosition)
        {
            return bucket.SecondRank;
        }

        return RankAt(_points[ScanFrom(bucket.First + 2, position)]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int FirstPointAtOrAfter(uint position)
    {
        ref readonly var bucket = ref BucketOf(position);
        if (position <= bucket.FirstPosition)
        {
            return bucket.First;
        }

        return position <= bucket.SecondPosition ? bucket.First + 1 : ScanFrom(bucket.First + 2, position);
    }

    // Bounds checks skipped on purpose, this is the hot path: the bucket number is below the table
    // length by construction, and a scan stops at the sentinel, whose position is the largest there is.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref readonly Bucket BucketOf(uint position) =>
        ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_buckets), (int)(position >> _bucketShift));

    private int ScanFrom(int i, uint position)
    {
        ref ulong points = ref MemoryMarshal.GetArrayDataReference(_points);
        while ((uint)(Unsafe.Add(ref points, i) >> 32) < position)
        {
            i++;
        }

        return i;
    }

    // Kept out of the short-list path on purpose: a method with a stack buffer zeroes it on every
    // call, which would cost the common three-replica lookup more than the walk itself.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int LongPreferenceList(uint position, Span<string> destination)
    {
        int words = (_nodeIds.Length + 63) / 64;
        if (words <= StackBitsetWords)
        {
            Span<ulong> seen = stackalloc ulong[StackBitsetWords];
            return WalkPreferenceList(position, destination, seen[..words]);
        }

        var rented = ArrayPool<ulong>.Shared.Rent(words);
        try
        {
            var seen = rented.AsSpan(0, words);
            seen.Clear();
            return WalkPreferenceList(position, destination, seen);
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(rented);
        }
    }

    private int WalkPreferenceList(uint position, Span<string> destination, Span<ulong> seen)
    {
        var points = _points;
        int last = points.Length - 1;
        int i = FirstPointAtOrAfter(position);
        int found = 0;
        while (true)
        {
            if (i == last)
            {
                i = 0;
            }

            int rank = RankAt(points[i++]);
            string id = _nodeIds[rank];
            if (seen.IsEmpty ? ContainsReference(destination[..found], id) : !FirstVisit(seen, rank))
            {
                continue;
            }

            destination[found] = id;
            if (++found == destination.Length)
            {
                return found;
            }
        }
    }

    // Ids in a list are the ring's own string instances, so identity is equality and cheaper.
    private static bool ContainsReference(Span<string> list, string id)
    {
        foreach (string taken in list)
        {
            if (ReferenceEquals(taken, id))
            {
                return true;
            }
        }

        return false;
    }

    private static bool FirstVisit(Span<ulong> seen, int rank)
    {
        ulong bit = 1UL << (rank & 63);
        if ((seen[rank >> 6] & bit) != 0)
        {
            return false;
        }

        seen[rank >> 6] |= bit;
        return true;
    }

    private static bool IsWellFormed(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return false;
            }
        }

        return true;
    }

    private void ThrowIfEmpty()
    {
        if (_nodeIds.Length == 0)
        {
            throw new InvalidOperationException("The ring has no nodes.");
        }
    }

    private static (ulong[] Points, Bucket[] Buckets, int BucketShift) PlacePoints(string[] nodeIds, int[] pointsPerNode, int total)
    {
        // One to two points per bucket: floor(log2(total)) bits of the position pick the bucket.
        // Twice the buckets would shorten the scan by less than one point and double the table.
        int bucketBits = Math.Max(1, BitOperations.Log2((uint)total));
        int bucketShift = 32 - bucketBits;
        if (total == 0)
        {
            return ([0], new Bucket[1 << bucketBits], bucketShift);
        }

        // Every slot is written below, so the large arrays skip zeroing.
        var points = GC.AllocateUninitializedArray<ulong>(total + 1);
        var unsorted = ArrayPool<ulong>.Shared.Rent(total);
        var staged = ArrayPool<ulong>.Shared.Rent(total);
        var bucketStart = ArrayPool<int>.Shared.Rent(1 << bucketBits);
        Array.Clear(bucketStart, 0, 1 << bucketBits);
        try
        {
            // Positions are uniform hashes, so a radix sort in two passes runs in linear time and
            // leaves the bucket index behind. The first pass splits by the top bits into few enough
            // groups that every write stream stays in cache; the second finishes each group, which
            // fits in cache as a whole. Random writes over the full arrays cost several times more.
            int topBits = Math.Min(TopDigitBits, bucketBits);
            int topShift = 32 - topBits;
            int groups = 1 << topBits;
            Span<int> groupStart = stackalloc int[(1 << TopDigitBits) + 1];
            Span<int> cursor = stackalloc int[1 << TopDigitBits];
            int next = 0;
            for (int rank = 0; rank < nodeIds.Length; rank++)
            {
                ulong seed = NodeSeed(nodeIds[rank]);
                for (int i = 0; i < pointsPerNode[rank]; i++)
                {
                    uint position = RingHash.VirtualNodePosition(seed, i);
                    unsorted[next++] = ((ulong)position << 32) | (uint)rank;
                    groupStart[(int)(position >> topShift) + 1]++;
                }
            }

            for (int g = 0; g < groups; g++)
            {
                groupStart[g + 1] += groupStart[g];
            }

            groupStart[..groups].CopyTo(cursor);
            foreach (ulong point in unsorted.AsSpan(0, total))
            {
                staged[cursor[(int)((uint)(point >> 32) >> topShift)]++] = point;
            }

            int subBits = bucketBits - topBits;
            int subMask = (1 << subBits) - 1;
            for (int g = 0; g < groups; g++)
            {
                var group = staged.AsSpan(groupStart[g], groupStart[g + 1] - groupStart[g]);
                var starts = bucketStart.AsSpan(g << subBits, 1 << subBits);
                foreach (ulong point in group)
                {
                    starts[(int)((uint)(point >> 32) >> bucketShift) & subMask]++;
                }

                int end = groupStart[g];
                for (int b = 0; b < starts.Length; b++)
                {
                    end += starts[b];
                    starts[b] = end;
                }

                foreach (ulong point in group)
                {
                    points[--starts[(int)((uint)(point >> 32) >> bucketShift) & subMask]] = point;
                }

                // Every point now sits in its bucket of one or two, so one insertion sort over the
                // group moves each at most a step or two: cheaper than sorting bucket by bucket.
                InsertionSort(points.AsSpan(groupStart[g], group.Length));
            }

            points[total] = ((ulong)uint.MaxValue << 32) | (uint)RankAt(points[0]);
            var buckets = GC.AllocateUninitializedArray<Bucket>(1 << bucketBits);
            for (int b = 0; b < buckets.Length; b++)
            {
                int first = bucketStart[b];
                buckets[b] = new Bucket(first, points[first], points[Math.Min(first + 1, total)]);
            }

            return (points, buckets, bucketShift);
        }
        finally
        {
            ArrayPool<ulong>.Shared.Return(unsorted);
            ArrayPool<ulong>.Shared.Return(staged);
            ArrayPool<int>.Shared.Return(bucketStart);
        }
    }

    private static ulong NodeSeed(string nodeId)
    {
        if (Encoding.UTF8.GetMaxByteCount(nodeId.Length) <= StackIdBytes)
        {
            Span<byte> buffer = stackalloc byte[StackIdBytes];
            return RingHash.NodeSeed(buffer[..Encoding.UTF8.GetBytes(nodeId, buffer)]);
        }

        return RingHash.NodeSeed(Encoding.UTF8.GetBytes(nodeId));
    }

    private static void InsertionSort(Span<ulong> nearlySorted)
    {
        for (int i = 1; i < nearlySorted.Length; i++)
        {
            ulong value = nearlySorted[i];
            int j = i - 1;
            while (j >= 0 && nearlySorted[j] > value)
            {
                nearlySorted[j + 1] = nearlySorted[j];
                j--;
            }

            nearlySorted[j + 1] = value;
        }
    }

    /// <summary>The first two points at or after a bucket's start, and the index of the first.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private readonly struct Bucket(int first, ulong firstPoint, ulong secondPoint)
    {
        public readonly uint FirstPosition = (uint)(firstPoint >> 32);
        public readonly uint SecondPosition = (uint)(secondPoint >> 32);
        public readonly ushort FirstRank = (ushort)firstPoint;
        public readonly ushort SecondRank = (ushort)secondPoint;
        public readonly int First = first;
    }
}
