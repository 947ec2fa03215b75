namespace SocketPush.Gossip;

/// <summary>One member as the local member sees it.</summary>
/// <param name="Name">The member's name, unique in the cluster.</param>
/// <param name="Address">Its gossip address, <c>host:port</c>.</param>
/// <param name="Incarnation">Raised by the member itself to refute suspicion or announce new metadata.</param>
/// <param name="State">Alive, suspect, dead or left.</param>
/// <param name="Metadata">
/// What it announced about itself: bytes the library carries without reading them (memberlist's NodeMeta),
/// at most <see cref="GossipOptions.MaxMetadataBytes"/>; what they mean is the application's to decide.
/// </param>
public sealed record GossipMember(string Name, string Address, uint Incarnation, MemberState State, ReadOnlyMemory<byte> Metadata)
{
    /// <summary>Alive and suspect members count as live: a suspect may still refute.</summary>
    public bool IsLive => State is MemberState.Alive or MemberState.Suspect;
}
