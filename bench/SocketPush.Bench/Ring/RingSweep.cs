using System.Diagnostics;
using System.Globalization;
using SocketPush.ConsistentHashing;

namespace SocketPush.Bench.Ring;

/// <summary>
/// The <c>ring-sweep</c> command: how balance, build time and memory depend on the number of virtual
/// nodes, over many random sets of node ids (not just node-1…node-N), to choose the default.
/// Options: <c>--vnodes a,b,c</c>, <c>--trials n</c>, <c>--keys n</c>, <c>--seed n</c>. Prints a Markdown table.
/// </summary>
internal static class RingSweep
{
    private static readonly int[] Sizes = [3, 10, 30, 100];

    public static int Run(string[] args, TextWriter output)
    {
        int[] vnodes = [100, 250, 500, 1000, 2000, 4000];
        int trials = 20;
        int keyCount = 1_000_000;
        int seed = 1;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--vnodes":
                    vnodes = args[i + 1].Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray();
                    break;
                case "--trials":
                    trials = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--keys":
                    keyCount = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--seed":
                    seed = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                default:
                    output.WriteLine($"unknown argument '{args[i]}'; usage: ring-sweep [--vnodes a,b,c] [--trials n] [--keys n] [--seed n]");
                    return 1;
            }
        }

        var keys = RingWorkload.KeyPositions(keyCount);
        output.WriteLine($"max/mean keys per node over {trials} random id sets, {keyCount} keys: median / 90th percentile / worst");
        output.WriteLine();
        output.WriteLine("| vnodes | " + string.Join(" | ", Sizes.Select(n => $"{n} nodes")) + " | build 100 nodes, fastest of 9 | memory 100 nodes |");
        output.WriteLine("|---|" + string.Concat(Enumerable.Repeat("---|", Sizes.Length + 2)));
        foreach (int v in vnodes)
        {
            var options = new HashRingOptions { VirtualNodesPerNode = v };
            var random = new Random(seed);
            var cells = new List<string>();
            foreach (int size in Sizes)
            {
                var ratios = new double[trials];
                for (int t = 0; t < trials; t++)
                {
                    var ids = Enumerable.Range(0, size).Select(_ => $"n-{random.NextInt64():x16}").ToArray();
                    ratios[t] = RingWorkload.MaxOverMean(RingWorkload.Load(HashRing.Create(ids, options), keys, 1));
                }

                Array.Sort(ratios);
                cells.Add(string.Create(CultureInfo.InvariantCulture, $"{ratios[trials / 2]:F3} / {ratios[(int)(trials * 0.9)]:F3} / {ratios[^1]:F3}"));
            }

            var hundred = RingWorkload.NodeIds(100);
            var ring = HashRing.Create(hundred, options);
            var times = new double[9];
            for (int t = 0; t < times.Length; t++)
            {
                long start = Stopwatch.GetTimestamp();
                ring = HashRing.Create(hundred, options);
                times[t] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }

            Array.Sort(times);
            long bytes = ring.MemoryBytes;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {v} | {string.Join(" | ", cells)} | {times[0]:F2} ms | {bytes / 1024.0:F0} KiB |"));
        }

        return 0;
    }
}
