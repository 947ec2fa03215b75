using System.Collections.Immutable;
using SocketPush.ConsistentHashing;
using SocketPush.Gossip;

namespace SocketPush.Node.Cluster;

/// <summary>
/// The cluster as this node sees it at one moment: the members gossip knows and the ring built from the live ones.
/// Immutable; a membership change publishes a new view. Every node builds the same ring from the same member list.
/// </summary>
internal sealed class ClusterView
{
    private ClusterView(string localId, RingSettings settings, ImmutableArray<ClusterMember> members, HashRing ring, string? ringProblem)
    {
        LocalId = localId;
        Settings = settings;
        Members = members;
        Ring = ring;
        RingProblem = ringProblem;
    }

    public string LocalId { get; }

    public RingSettings Settings { get; }

    public int VirtualNodes => Settings.VirtualNodes;

    /// <summary>How many nodes hold each key now: cluster.replicas, or every node of a smaller ring.</summary>
    public int Replicas => Math.Min(Settings.Replicas, Ring.NodeCount);

    /// <summary>Every member gossip remembers, dead and left ones included, ordered by id, with its metadata read.</summary>
    public ImmutableArray<ClusterMember> Members { get; }

    /// <summary>The live members with this node's ring settings.</summary>
    public HashRing Ring { get; }

    /// <summary>Why this node refuses to route (a live member computes owners differently), or null.</summary>
    public string? RingProblem { get; }

    /// <summary>A view of this node alone, before gossip has said anything.</summary>
    public static ClusterView Alone(string localId, RingSettings settings) =>
        new(localId, settings, [], HashRing.Create([localId], new HashRingOptions { VirtualNodesPerNode = settings.VirtualNodes }), null);

    /// <param name="snapshot">What gossip knows.</param>
    /// <param name="localId">This node.</param>
    /// <param name="settings">This node's ring settings.</param>
    /// <param name="leaving">This node is leaving: the ring is the other live members, as they will see it.</param>
    /// <param name="heardLeaving">Members that said they are leaving before their metadata did (a refused handoff).</param>
    public static ClusterView From(MembershipSnapshot snapshot, string localId, RingSettings settings, bool leaving = false, IReadOnlySet<string>? heardLeaving = null)
    {
        var inRing = leaving ? new List<string>() : [localId];
        var problems = new List<string>();
        var members = ImmutableArray.CreateRange(snapshot.Members, ClusterMember.Of);
        foreach (var member in members)
        {
            if (!member.IsLive || member.Name == localId || member.Metadata?.Leaving == true || heardLeaving?.Contains(member.Name) == true)
            {
                // A leaving member hands its keys over: it owns and holds none from the moment it says so.
                continue;
            }

            if (member.Metadata is not { } theirs)
            {
                problems.Add($"{member.Name} sent metadata this node cannot read ({member.MetadataProblem})");
            }
            else if (theirs.WireVersion != ClusterSettings.WireVersion || theirs.Ring != settings)
            {
                problems.Add($"{member.Name} uses {ClusterSettings.Describe(theirs.WireVersion, theirs.Ring)}");
            }
            else
            {
                inRing.Add(member.Name);
            }
        }

        var problem = problems.Count == 0
            ? null
            : $"ring settings differ: {string.Join("; ", problems)}, this node uses {ClusterSettings.Describe(ClusterSettings.WireVersion, settings)}; "
              + "nodes of one cluster must share cluster.virtualNodes, cluster.replicas and the wire version";
        var ring = HashRing.Create(inRing, new HashRingOptions { VirtualNodesPerNode = settings.VirtualNodes });
        return new ClusterView(localId, settings, members, ring, problem);
    }

    public ClusterMember? Member(string nodeId)
    {
        foreach (var member in Members)
        {
            if (member.Name == nodeId)
            {
                return member;
            }
        }

        return null;
    }

    public string Owner(string key) => Ring.Owner(key);

    /// <summary>The nodes that hold <paramref name="key"/>, its owner first (<see cref="Replicas"/> of them).</summary>
    public string[] ReplicasOf(string key)
    {
        var nodes = new string[Replicas];
        Ring.PreferenceList(key, nodes);
        return nodes;
    }

    /// <summary>Whether the ring has other live members than this node.</summary>
    public bool HasOthers => Ring.Nodes.Any(n => n != LocalId);

    /// <summary>Whether this node is one of the key's replicas.</summary>
    public bool HoldsLocally(string key) => ReplicasOf(key).Contains(LocalId);

    /// <summary>The fraction of the key space each ring member owns, by node id.</summary>
    public IReadOnlyDictionary<string, double> Shares()
    {
        var shares = Ring.Nodes.ToDictionary(n => n, _ => 0.0, StringComparer.Ordinal);
        var empty = HashRing.Create(["\u0001none"], new HashRingOptions { VirtualNodesPerNode = 1 });
        foreach (var change in HashRing.Difference(empty, Ring).Changes)
        {
            shares[change.After[0]] += change.Range.Fraction;
        }

        return shares;
    }
}
