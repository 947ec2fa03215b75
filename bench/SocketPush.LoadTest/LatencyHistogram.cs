using System.Text.Json.Serialization;

namespace SocketPush.LoadTest;

/// <summary>
/// Log-linear histogram of microseconds: exact below 128 µs, then 64 buckets per power of two, so any
/// recorded value is known within 1.6 %. Recording is one interlocked add, safe from every receive loop at
/// once; histograms of several processes merge by adding counts.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBucketBits = 6;
    private const int SubBuckets = 1 << SubBucketBits;
    private const int LinearLimit = SubBuckets * 2;
    // Up to 2^40 µs (12 days): everything a run can see.
    private const int BucketCount = LinearLimit + (40 - SubBucketBits) * SubBuckets;

    private readonly long[] _counts = new long[BucketCount];

    public void Record(long microseconds)
    {
        var index = IndexOf(Math.Max(0, microseconds));
        Interlocked.Increment(ref _counts[index]);
    }

    public void Reset() => Array.Clear(_counts);

    /// <summary>Values recorded.</summary>
    public long Count => _counts.Sum();

    /// <summary>Non-empty buckets as (index, count) pairs, for the worker protocol.</summary>
    public long[] ToSparse()
    {
        var pairs = new List<long>();
        for (var i = 0; i < _counts.Length; i++)
        {
            var c = Interlocked.Read(ref _counts[i]);
            if (c != 0)
            {
                pairs.Add(i);
                pairs.Add(c);
            }
        }

        return [.. pairs];
    }

    public void AddSparse(long[] pairs)
    {
        for (var i = 0; i + 1 < pairs.Length; i += 2)
        {
            _counts[(int)pairs[i]] += pairs[i + 1];
        }
    }

    /// <summary>The value below which the given fraction of recorded values fall (bucket midpoint).</summary>
    public double PercentileMicroseconds(double fraction)
    {
        long total = 0;
        foreach (var c in _counts)
        {
            total += c;
        }

        if (total == 0)
        {
            return double.NaN;
        }

        var rank = (long)Math.Ceiling(fraction * total);
        rank = Math.Clamp(rank, 1, total);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Midpoint(i);
            }
        }

        return Midpoint(_counts.Length - 1);
    }

    public double MaxMicroseconds()
    {
        for (var i = _counts.Length - 1; i >= 0; i--)
        {
            if (_counts[i] != 0)
            {
                return Midpoint(i);
            }
        }

        return double.NaN;
    }

    internal static int IndexOf(long value)
    {
        if (value < LinearLimit)
        {
            return (int)value;
        }

        var msb = 63 - (int)long.LeadingZeroCount(value);
        var shift = msb - SubBucketBits;
        var sub = (int)(value >> shift) - SubBuckets;
        var index = LinearLimit + ((shift - 1) * SubBuckets) + sub;
        return Math.Min(index, BucketCount - 1);
    }

    internal static long LowerBound(int index)
    {
        if (index < LinearLimit)
        {
            return index;
        }

        var shift = ((index - LinearLimit) / SubBuckets) + 1;
        var sub = (index - LinearLimit) % SubBuckets;
        return (long)(SubBuckets + sub) << shift;
    }

    private static double Midpoint(int index)
    {
        if (index < LinearLimit)
        {
            return index;
        }

        var low = LowerBound(index);
        var high = index + 1 < BucketCount ? LowerBound(index + 1) : low * 2;
        return (low + high) / 2.0;
    }
}

/// <summary>Latency summary in milliseconds, as written to the results.</summary>
internal sealed record LatencySummary(
    [property: JsonPropertyName("count")] long Count,
    [property: JsonPropertyName("p50Ms")] double P50Ms,
    [property: JsonPropertyName("p99Ms")] double P99Ms,
    [property: JsonPropertyName("p999Ms")] double P999Ms,
    [property: JsonPropertyName("maxMs")] double MaxMs)
{
    public static LatencySummary From(LatencyHistogram h, long count) => new(
        count,
        h.PercentileMicroseconds(0.50) / 1000.0,
        h.PercentileMicroseconds(0.99) / 1000.0,
        h.PercentileMicroseconds(0.999) / 1000.0,
        h.MaxMicroseconds() / 1000.0);
}
