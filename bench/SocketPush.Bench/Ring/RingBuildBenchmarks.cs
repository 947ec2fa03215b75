using BenchmarkDotNet.Attributes;
using SocketPush.ConsistentHashing;

namespace SocketPush.Bench.Ring;

/// <summary>Building a ring, and the difference a join makes, as a node does on every membership change.</summary>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class RingBuildBenchmarks : RingBenchmarkBase
{
    private string[] _ids = null!;
    private HashRingOptions _options = null!;
    private HashRing _before = null!;
    private HashRing _after = null!;

    [GlobalSetup]
    public void Setup()
    {
        _ids = RingWorkload.NodeIds(Nodes);
        _options = Options;
        _before = HashRing.Create(_ids, _options);
        _after = HashRing.Create(RingWorkload.NodeIds(Nodes + 1), _options);
    }

    [Benchmark]
    public HashRing Build() => HashRing.Create(_ids, _options);

    [Benchmark]
    public RingDifference DifferenceOnJoin3() => HashRing.Difference(_before, _after, 3);
}
