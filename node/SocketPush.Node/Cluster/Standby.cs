using SocketPush.Gossip;

namespace SocketPush.Node.Cluster;

/// <summary>A node's standby state as it gossips it (<see cref="NodeMetadata.Standby"/>, <see cref="NodeMetadata.StandsInFor"/>).</summary>
/// <param name="Waiting">Started with <c>node.standby</c> and not promoted yet: out of every ring.</param>
/// <param name="StandsInFor">The dead member it was promoted for; empty for a node that never was a standby or still waits.</param>
internal sealed record StandbyState(bool Waiting, string StandsInFor);

/// <summary>
/// Which standby stands in for which dead member. Every node computes the same pairs from the same view: the dead
/// members nobody stands in for yet, by id, against the waiting standbys, by id. Pairing comes before the wait:
/// a standby waits for its own member's <c>cluster.standbyAfter</c>, so two standbys whose clocks for different
/// members differ still never pick the same member.
/// </summary>
internal static class StandbyChoice
{
    /// <summary>The dead member the standby <paramref name="localId"/> must stand in for now, or null.</summary>
    /// <param name="localId">This node, a waiting standby.</param>
    /// <param name="members">Every member gossip remembers (<see cref="ClusterView.Members"/>).</param>
    /// <param name="deadFor">How long this node has seen each dead member dead.</param>
    /// <param name="standbyAfter"><c>cluster.standbyAfter</c>.</param>
    public static string? StandInFor(string localId, IReadOnlyList<ClusterMember> members, Func<string, TimeSpan> deadFor, TimeSpan standbyAfter) =>
        Pairs(members).TryGetValue(localId, out var dead) && deadFor(dead) >= standbyAfter ? dead : null;

    /// <summary>Waiting standby → the dead member it is paired with.</summary>
    public static IReadOnlyDictionary<string, string> Pairs(IReadOnlyList<ClusterMember> members)
    {
        var stoodInFor = members
            .Where(m => m.Metadata is { StandsInFor.Length: > 0 })
            .Select(m => m.Metadata!.StandsInFor)
            .ToHashSet(StringComparer.Ordinal);
        var dead = members
            .Where(m => m.State == MemberState.Dead && m.Metadata is { Standby: false } && !stoodInFor.Contains(m.Name))
            .Select(m => m.Name)
            .Order(StringComparer.Ordinal);
        var standbys = members
            .Where(m => m.IsLive && m.Metadata is { Standby: true, Leaving: false })
            .Select(m => m.Name)
            .Order(StringComparer.Ordinal);
        return standbys.Zip(dead).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
    }
}
