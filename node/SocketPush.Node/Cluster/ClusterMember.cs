using SocketPush.Gossip;

namespace SocketPush.Node.Cluster;

/// <summary>A gossip member with its metadata read once, when the view that holds it was built.</summary>
/// <param name="Gossip">The member as gossip knows it.</param>
/// <param name="Metadata">What it said about itself, or null when its bytes are not this node's metadata.</param>
/// <param name="MetadataProblem">Why <paramref name="Metadata"/> is null; null when it was read.</param>
internal sealed record ClusterMember(GossipMember Gossip, NodeMetadata? Metadata, string? MetadataProblem)
{
    public string Name => Gossip.Name;

    public string Address => Gossip.Address;

    public uint Incarnation => Gossip.Incarnation;

    public MemberState State => Gossip.State;

    public bool IsLive => Gossip.IsLive;

    public static ClusterMember Of(GossipMember member) =>
        new(member, NodeMetadata.TryDecode(member.Metadata.Span, out var problem), problem);
}
