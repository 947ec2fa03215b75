using System.Text;

namespace SocketPush.ConsistentHashing.Tests;

/// <summary>
/// The ring as its specification reads, without the lookup tables: every node's points from its id,
/// sorted by position then ordinal id, walked clockwise one by one.
/// </summary>
internal sealed class ClockwiseModel
{
    private readonly (uint Position, string Id)[] _points;

    public ClockwiseModel(IEnumerable<string> ids, int virtualNodes)
    {
        _points = ids
            .SelectMany(id =>
            {
                ulong seed = RingHash.NodeSeed(Encoding.UTF8.GetBytes(id));
                return Enumerable.Range(0, virtualNodes).Select(i => (Position: RingHash.VirtualNodePosition(seed, i), Id: id));
            })
            .OrderBy(point => point.Position)
            .ThenBy(point => point.Id, StringComparer.Ordinal)
            .ToArray();
    }

    public string[] PreferenceList(uint position, int count)
    {
        int start = Array.FindIndex(_points, point => point.Position >= position);
        if (start < 0)
        {
            start = 0;
        }

        var list = new List<string>();
        for (int step = 0; step < _points.Length && list.Count < count; step++)
        {
            string id = _points[(start + step) % _points.Length].Id;
            if (!list.Contains(id))
            {
                list.Add(id);
            }
        }

        return list.ToArray();
    }
}
