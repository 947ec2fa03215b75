using System.Diagnostics;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using SocketPush.ConsistentHashing;

namespace SocketPush.Bench.Ring;

/// <summary>
/// The <c>ring-techniques</c> command: the balancing techniques the ring could have used, measured
/// on the same keys and members, to show why the library uses many virtual nodes. The alternatives
/// are compact prototypes written for this comparison only. Options: <c>--keys n</c>.
/// </summary>
internal static class RingTechniques
{
    private const int LargeCluster = 100;
    private const int SmallCluster = 10;

    // Jump hash numbers buckets by position in the member list, so the leaver is taken from the
    // middle of the list, as a crash would pick it; for the other techniques any node is alike.
    private const string Leaver = "node-5";

    private sealed record Technique(string Name, string Settings, Func<string[], ulong[], string[]> Owners);

    public static int Run(string[] args, TextWriter output)
    {
        int keyCount = args.Length == 2 && args[0] == "--keys" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1_000_000;
        var keys = new ulong[keyCount];
        for (int i = 0; i < keyCount; i++)
        {
            keys[i] = XxHash3.HashToUInt64(Encoding.UTF8.GetBytes($"u:{i}"));
        }

        Technique[] techniques =
        [
            RingOf(100), RingOf(1000), RingOf(HashRingOptions.DefaultVirtualNodesPerNode),
            new("multi-probe", "1 point per node, 21 probes", (nodes, k) => MultiProbe(nodes, k, 21)),
            new("rendezvous (HRW)", "score every node", Rendezvous),
            new("Maglev table", "65,537 slots", (nodes, k) => Maglev(nodes, k, 65_537)),
            new("jump hash", "buckets = member list order", Jump),
            new("bounded loads", "100 vnodes, c = 1.10", (nodes, k) => BoundedLoads(nodes, k, 100, 1.10)),
        ];

        output.WriteLine($"{keyCount} keys u:0…; balance at {LargeCluster} nodes; join node-{SmallCluster + 1} to node-1…node-{SmallCluster}; {Leaver} leaves node-1…node-{SmallCluster}.");
        output.WriteLine("Lookup and build times are rough Stopwatch figures from one run (100 nodes), for comparison only.");
        output.WriteLine();
        output.WriteLine("| technique | settings | max/mean, 100 nodes | moved on join (ideal 0.0909) | of them to old nodes | moved on leave (ideal 0.1) | of them not the leaver's | lookup, 100 nodes | build, 100 nodes |");
        output.WriteLine("|---|---|---|---|---|---|---|---|---|");
        var small = RingWorkload.NodeIds(SmallCluster);
        var joined = RingWorkload.NodeIds(SmallCluster + 1);
        var left = small.Where(id => id != Leaver).ToArray();
        var large = RingWorkload.NodeIds(LargeCluster);
        foreach (var technique in techniques)
        {
            long start = Stopwatch.GetTimestamp();
            var owners = technique.Owners(large, keys);
            double lookupNs = Stopwatch.GetElapsedTime(start).TotalMilliseconds * 1e6 / keyCount;
            double balance = owners.GroupBy(o => o, StringComparer.Ordinal).Max(g => g.Count()) / ((double)keyCount / LargeCluster);

            var before = technique.Owners(small, keys);
            var (joinMoved, joinStray) = Moves(before, technique.Owners(joined, keys), moved => moved.After != $"node-{SmallCluster + 1}");
            var (leaveMoved, leaveStray) = Moves(before, technique.Owners(left, keys), moved => moved.Before != Leaver);

            double buildMs = BuildTime(technique, large);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {technique.Name} | {technique.Settings} | {balance:F3} | {joinMoved:F4} | {joinStray:F4} | {leaveMoved:F4} | {leaveStray:F4} | {lookupNs:F0} ns | {buildMs:F2} ms |"));
        }

        return 0;
    }

    private static Technique RingOf(int virtualNodes) =>
        new("ring, virtual nodes", $"{virtualNodes} per node", (nodes, keys) =>
        {
            var ring = HashRing.Create(nodes, new HashRingOptions { VirtualNodesPerNode = virtualNodes });
            return keys.Select(key => ring.OwnerAt((uint)(key >> 32))).ToArray();
        });

    /// <summary>The fraction of keys that changed owner, and the fraction that changed owner in a way they should not.</summary>
    private static (double Moved, double Stray) Moves(string[] before, string[] after, Func<(string Before, string After), bool> stray)
    {
        int moved = 0;
        int strayed = 0;
        for (int i = 0; i < before.Length; i++)
        {
            if (!string.Equals(before[i], after[i], StringComparison.Ordinal))
            {
                moved++;
                strayed += stray((before[i], after[i])) ? 1 : 0;
            }
        }

        return ((double)moved / before.Length, (double)strayed / before.Length);
    }

    /// <summary>Median time to compute the owners of 1,000 keys from scratch, which is dominated by building the structure.</summary>
    private static double BuildTime(Technique technique, string[] nodes)
    {
        var few = new ulong[1];
        var times = new double[5];
        for (int t = 0; t < times.Length; t++)
        {
            long start = Stopwatch.GetTimestamp();
            technique.Owners(nodes, few);
            times[t] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(times);
        return times[times.Length / 2];
    }

    private static ulong Seed(string node) => XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(node));

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Appleton and O'Reilly's multi-probe hashing: one point per node, the key probes k times and takes the nearest point.</summary>
    private static string[] MultiProbe(string[] nodes, ulong[] keys, int probes)
    {
        var points = nodes.Select(n => (Position: Seed(n), Id: n)).OrderBy(p => p.Position).ThenBy(p => p.Id, StringComparer.Ordinal).ToArray();
        var positions = points.Select(p => p.Position).ToArray();
        var owners = new string[keys.Length];
        for (int k = 0; k < keys.Length; k++)
        {
            ulong best = ulong.MaxValue;
            for (int probe = 0; probe < probes; probe++)
            {
                ulong position = Mix(keys[k] + ((ulong)probe * 0x9E3779B97F4A7C15UL));
                int index = Array.BinarySearch(positions, position);
                index = index < 0 ? ~index : index;
                index = index == positions.Length ? 0 : index;
                ulong distance = positions[index] - position;
                if (distance < best)
                {
                    best = distance;
                    owners[k] = points[index].Id;
                }
            }
        }

        return owners;
    }

    /// <summary>Highest random weight: every node scores the key, the highest score owns it.</summary>
    private static string[] Rendezvous(string[] nodes, ulong[] keys)
    {
        var seeds = nodes.Select(Seed).ToArray();
        var owners = new string[keys.Length];
        for (int k = 0; k < keys.Length; k++)
        {
            ulong best = 0;
            int winner = 0;
            for (int n = 0; n < seeds.Length; n++)
            {
                ulong score = Mix(keys[k] ^ seeds[n]);
                if (score > best || (score == best && string.CompareOrdinal(nodes[n], nodes[winner]) < 0))
                {
                    best = score;
                    winner = n;
                }
            }

            owners[k] = nodes[winner];
        }

        return owners;
    }

    /// <summary>Google's Maglev lookup table: each node fills slots in its own permutation order, round-robin.</summary>
    private static string[] Maglev(string[] nodes, ulong[] keys, int size)
    {
        var sorted = nodes.Order(StringComparer.Ordinal).ToArray();
        var offset = sorted.Select(n => (int)(Seed(n) % (ulong)size)).ToArray();
        var skip = sorted.Select(n => (int)(Mix(Seed(n)) % (ulong)(size - 1)) + 1).ToArray();
        var next = new int[sorted.Length];
        var table = new int[size];
        Array.Fill(table, -1);
        int filled = 0;
        while (filled < size)
        {
            for (int n = 0; n < sorted.Length && filled < size; n++)
            {
                int slot;
                do
                {
                    slot = (int)((offset[n] + ((long)next[n]++ * skip[n])) % size);
                }
                while (table[slot] >= 0);

                table[slot] = n;
                filled++;
            }
        }

        return keys.Select(key => sorted[table[(int)(key % (ulong)size)]]).ToArray();
    }

    /// <summary>Lamping and Veach's jump consistent hash over the member list as given.</summary>
    private static string[] Jump(string[] nodes, ulong[] keys) =>
        keys.Select(key =>
        {
            long bucket = -1;
            long next = 0;
            while (next < nodes.Length)
            {
                bucket = next;
                key = (key * 2862933555777941757UL) + 1;
                next = (long)((bucket + 1) * ((double)(1L << 31) / ((key >> 33) + 1)));
            }

            return nodes[bucket];
        }).ToArray();

    /// <summary>
    /// Mirrokni, Thorup and Zadimoghaddam's bounded loads: a key goes clockwise to the first node below
    /// c × mean keys. The result depends on the order keys arrive; here the order of the key list.
    /// </summary>
    private static string[] BoundedLoads(string[] nodes, ulong[] keys, int virtualNodes, double factor)
    {
        var ring = HashRing.Create(nodes, new HashRingOptions { VirtualNodesPerNode = virtualNodes });
        int capacity = (int)Math.Ceiling(factor * keys.Length / nodes.Length);
        var load = new Dictionary<string, int>(StringComparer.Ordinal);
        var list = new string[nodes.Length];
        var owners = new string[keys.Length];
        for (int k = 0; k < keys.Length; k++)
        {
            int count = ring.PreferenceListAt((uint)(keys[k] >> 32), list);
            for (int i = 0; i < count; i++)
            {
                if (load.GetValueOrDefault(list[i]) < capacity)
                {
                    owners[k] = list[i];
                    load[list[i]] = load.GetValueOrDefault(list[i]) + 1;
                    break;
                }
            }
        }

        return owners;
    }
}
