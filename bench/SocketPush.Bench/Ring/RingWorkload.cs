using SocketPush.ConsistentHashing;

namespace SocketPush.Bench.Ring;

/// <summary>The keys and node names every ring measurement uses, so that figures can be compared.</summary>
internal static class RingWorkload
{
    public static string[] NodeIds(int count, int first = 1) =>
        Enumerable.Range(first, count).Select(i => $"node-{i}").ToArray();

    /// <summary>Positions of the user keys u:0 … u:{count-1}, hashed once and shared by every ring.</summary>
    public static uint[] KeyPositions(int count)
    {
        var positions = new uint[count];
        for (int i = 0; i < count; i++)
        {
            positions[i] = HashRing.Position($"u:{i}");
        }

        return positions;
    }

    /// <summary>Keys per node (with <paramref name="replicas"/> > 1: key replicas per node), in the ring's node order.</summary>
    public static long[] Load(HashRing ring, uint[] keys, int replicas)
    {
        var load = new long[ring.NodeCount];
        if (replicas == 1)
        {
            foreach (uint key in keys)
            {
                load[ring.OwnerRankAt(key)]++;
            }

            return load;
        }

        var list = new string[replicas];
        var rankOf = ring.Nodes.Select((id, rank) => (id, rank)).ToDictionary(x => x.id, x => x.rank, StringComparer.Ordinal);
        foreach (uint key in keys)
        {
            int written = ring.PreferenceListAt(key, list);
            for (int j = 0; j < written; j++)
            {
                load[rankOf[list[j]]]++;
            }
        }

        return load;
    }

    public static double MaxOverMean(long[] load) => load.Max() / load.Average();
}
