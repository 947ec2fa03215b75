using System.Globalization;
using SocketPush.ConsistentHashing;

namespace SocketPush.LoadTest.Systems;

/// <summary>
/// The harness's copy of the cluster's ring: the same node ids, virtual nodes and key strings as the node
/// (ClusterView builds its ring from the live members' ids with <c>cluster.virtualNodes</c>; keys are
/// <c>u:{userId}</c>, <c>s:{sessionId}</c>, <c>c:{channelId}</c>), so that the harness can pick ids whose
/// owners are the nodes a measurement needs. The started cluster is checked against it before measuring.
/// </summary>
internal sealed class ClusterPlacement
{
    /// <summary>The node that takes the publish requests, the one that owns the channel, the one that owns the receivers.</summary>
    public const string Publisher = "n1";
    public const string ChannelOwner = "n2";
    public const string ReceiverOwner = "n3";

    /// <summary>cluster.virtualNodes of the nodes the harness starts (the node's default).</summary>
    public const int VirtualNodes = 2000;

    public static readonly string[] NodeIds = [Publisher, ChannelOwner, ReceiverOwner];

    private readonly HashRing _ring;

    /// <summary>The ring of the given members (the default: n1, n2, n3).</summary>
    public ClusterPlacement(IReadOnlyList<string> nodeIds)
    {
        _ring = HashRing.Create(nodeIds, new HashRingOptions { VirtualNodesPerNode = VirtualNodes });
    }

    public static ClusterPlacement Default { get; } = new(NodeIds);

    public static string UserKey(string userId) => "u:" + userId;

    public static string SessionKey(string sessionId) => "s:" + sessionId;

    public static string ChannelKey(string channelId) => "c:" + channelId;

    public string OwnerOfUser(string userId) => _ring.Owner(UserKey(userId));

    public string OwnerOfChannel(string channelId) => _ring.Owner(ChannelKey(channelId));

    /// <summary>The node's default cluster.replicas: how many nodes hold each record.</summary>
    public const int Replicas = 3;

    /// <summary>Whether <paramref name="node"/> is one of the replicas of <paramref name="key"/> (its preference list).</summary>
    public bool Holds(string node, string key)
    {
        var replicas = new string[Replicas];
        var count = _ring.PreferenceList(key, replicas);
        return replicas.AsSpan(0, count).Contains(node);
    }

    /// <summary>The first channel id "bench", "bench-1", "bench-2", ... that the given node owns.</summary>
    public string ChannelOwnedBy(string node)
    {
        for (var i = 0; ; i++)
        {
            var id = i == 0 ? "bench" : "bench-" + i.ToString(CultureInfo.InvariantCulture);
            if (OwnerOfChannel(id) == node)
            {
                return id;
            }
        }
    }

    /// <summary>The first <paramref name="count"/> users u0, u1, ... that the given node owns.</summary>
    public IReadOnlyList<string> UsersOwnedBy(string node, int count)
    {
        var users = new List<string>(count);
        for (var i = 0; users.Count < count; i++)
        {
            var id = BenchUsers.Id(i);
            if (OwnerOfUser(id) == node)
            {
                users.Add(id);
            }
        }

        return users;
    }
}

/// <summary>User and session ids of the harness: user "u{i}" has session "s{i}".</summary>
internal static class BenchUsers
{
    public static string Id(int index) => "u" + index.ToString(CultureInfo.InvariantCulture);

    public static string SessionOf(string userId) => "s" + (userId.StartsWith('u') ? userId[1..] : userId);

    public static IReadOnlyList<string> Range(int count) => [.. Enumerable.Range(0, count).Select(Id)];
}
