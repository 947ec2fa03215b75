using System.Text;
using BenchmarkDotNet.Attributes;
using SocketPush.ConsistentHashing;

namespace SocketPush.Bench.Ring;

/// <summary>
/// Lookups on a 100-node ring over 1,024 different user keys per invocation, so that the figures
/// include the cache misses of a ring far larger than L1, as a busy node sees them.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class RingLookupBenchmarks : RingBenchmarkBase
{
    private const int KeyCount = 1024;
    private readonly string[] _list = new string[3];
    private HashRing _ring = null!;
    private string[] _stringKeys = null!;
    private byte[][] _byteKeys = null!;

    [GlobalSetup]
    public void Setup()
    {
        _ring = HashRing.Create(RingWorkload.NodeIds(Nodes), Options);
        var random = new Random(42);
        _stringKeys = Enumerable.Range(0, KeyCount).Select(_ => $"u:{random.Next()}").ToArray();
        _byteKeys = _stringKeys.Select(Encoding.UTF8.GetBytes).ToArray();
    }

    [Benchmark(OperationsPerInvoke = KeyCount)]
    public uint PositionOnly()
    {
        uint sum = 0;
        foreach (var key in _byteKeys)
        {
            sum += HashRing.Position(key);
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = KeyCount)]
    public uint PositionOnlyString()
    {
        uint sum = 0;
        foreach (var key in _stringKeys)
        {
            sum += HashRing.Position(key);
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = KeyCount, Baseline = true)]
    public string OwnerBytes()
    {
        string owner = "";
        foreach (var key in _byteKeys)
        {
            owner = _ring.Owner(key);
        }

        return owner;
    }

    [Benchmark(OperationsPerInvoke = KeyCount)]
    public string OwnerString()
    {
        string owner = "";
        foreach (var key in _stringKeys)
        {
            owner = _ring.Owner(key);
        }

        return owner;
    }

    [Benchmark(OperationsPerInvoke = KeyCount)]
    public int PreferenceList3Bytes()
    {
        int total = 0;
        foreach (var key in _byteKeys)
        {
            total += _ring.PreferenceList(key, _list);
        }

        return total;
    }

    [Benchmark(OperationsPerInvoke = KeyCount)]
    public int PreferenceList3String()
    {
        int total = 0;
        foreach (var key in _stringKeys)
        {
            total += _ring.PreferenceList(key, _list);
        }

        return total;
    }
}
