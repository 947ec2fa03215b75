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
    private ClusterView(
        string localId, RingSettings settings, ImmutableArray<ClusterMember> members, HashRing ring, string? ringProblem, ImmutableArray<RefusedPeer> refused,
        string? configProblem = null, int configDisagreements = 0)
    {
        Refused = refused;
        LocalId = localId;
        Settings = settings;
        Members = members;
        Ring = ring;
        RingProblem = ringProblem;
        ConfigProblem = configProblem;
        ConfigDisagreements = configDisagreements;
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

    /// <summary>
    /// Which live members hold which version of the cluster's config layer, when they do not all hold the same (for a
    /// moment after a set, for longer when an exchange fails), or null.
    /// </summary>
    public string? ConfigProblem { get; }

    /// <summary>Live members whose cluster config layer version differs from this node's (a metric).</summary>
    public int ConfigDisagreements { get; }

    /// <summary>The live members whose format this node cannot read (another wire version, or metadata it cannot decode).</summary>
    public ImmutableArray<RefusedPeer> Refused { get; }

    /// <summary>A view of this node alone, before gossip has said anything.</summary>
    public static ClusterView Alone(string localId, RingSettings settings) =>
        new(localId, settings, [], HashRing.Create([localId], new HashRingOptions { VirtualNodesPerNode = settings.VirtualNodes }), null, []);

    /// <param name="snapshot">What gossip knows.</param>
    /// <param name="localId">This node.</param>
    /// <param name="settings">This node's ring settings.</param>
    /// <param name="leaving">This node is leaving: the ring is the other live members, as they will see it.</param>
    /// <param name="heardLeaving">Members that said they are leaving before their metadata did (a refused handoff).</param>
    /// <param name="standby">This node is a standby not yet promoted: in gossip, out of the ring.</param>
    public static ClusterView From(
        MembershipSnapshot snapshot, string localId, RingSettings settings, bool leaving = false, IReadOnlySet<string>? heardLeaving = null, bool standby = false)
    {
        var inRing = leaving || standby ? new List<string>() : [localId];
        var problems = new List<string>();
        var refused = ImmutableArray.CreateBuilder<RefusedPeer>();
        var members = ImmutableArray.CreateRange(snapshot.Members, ClusterMember.Of);
        foreach (var member in members)
        {
            if (!member.IsLive || member.Name == localId || member.Metadata?.Leaving == true || heardLeaving?.Contains(member.Name) == true
                || member.Metadata?.Standby == true)
            {
                // A leaving member hands its keys over: it owns and holds none from the moment it says so. A
                // standby holds none until it is promoted.
                continue;
            }

            if (member.Metadata is not { } theirs)
            {
                problems.Add($"{member.Name} sent metadata this node cannot read ({member.MetadataProblem})");
                refused.Add(new RefusedPeer(member.Name, member.Address, $"its metadata cannot be read ({member.MetadataProblem}); this node reads metadata format {NodeMetadata.FormatVersion}"));
            }
            else if (theirs.WireVersion != ClusterSettings.WireVersion || theirs.Ring != settings)
            {
                problems.Add($"{member.Name} uses {ClusterSettings.Describe(theirs.WireVersion, theirs.Ring)}");
                if (theirs.WireVersion != ClusterSettings.WireVersion)
                {
                    refused.Add(new RefusedPeer(member.Name, member.Address, $"it speaks wire version {theirs.WireVersion}, this node wire version {ClusterSettings.WireVersion}"));
                }
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
        var (configProblem, configDisagreements) = ConfigVersions(members, localId);
        return new ClusterView(localId, settings, members, ring, problem, refused.ToImmutable(), configProblem, configDisagreements);
    }

    /// <summary>The live members' config layer versions (this node's from its own metadata, as the others see it): who differs, and from this node how many.</summary>
    private static (string? Problem, int Disagreements) ConfigVersions(ImmutableArray<ClusterMember> members, string localId)
    {
        var versions = members.Where(m => m.IsLive && m.Metadata is { Leaving: false }).Select(m => (m.Name, m.Metadata!.ConfigVersion)).ToList();
        var groups = versions.GroupBy(v => v.ConfigVersion, StringComparer.Ordinal).ToList();
        if (groups.Count <= 1)
        {
            return (null, 0);
        }

        var local = versions.FirstOrDefault(v => v.Name == localId).ConfigVersion;
        var problem = "cluster config layer versions differ: "
            + string.Join("; ", groups.Select(g => $"{string.Join(", ", g.Select(v => v.Name))} {(g.Count() == 1 ? "has" : "have")} {g.Key}"));
        return (problem, local is null ? 0 : versions.Count(v => v.ConfigVersion != local));
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

/// <summary>A member this node refuses to work with because it cannot read what the member sends.</summary>
/// <param name="NodeId">The member's id.</param>
/// <param name="Address">Its cluster endpoint.</param>
/// <param name="Why">Both formats: the member's and this node's.</param>
internal sealed record RefusedPeer(string NodeId, string Address, string Why);
