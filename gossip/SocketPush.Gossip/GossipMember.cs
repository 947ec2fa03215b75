namespace SocketPush.Gossip;

/// <summary>One member as the local member sees it.</summary>
/// <param name="Name">The member's node id.</param>
/// <param name="Address">Its gossip address, <c>host:port</c>.</param>
/// <param name="Incarnation">Raised by the member itself to refute suspicion or announce new metadata.</param>
/// <param name="State">Alive, suspect, dead or left.</param>
/// <param name="Metadata">Its metadata, or null when what it sent could not be read.</param>
public sealed record GossipMember(string Name, string Address, uint Incarnation, MemberState State, MemberMetadata? Metadata)
{
    /// <summary>Alive and suspect members count as live: a suspect may still refute.</summary>
    public bool IsLive => State is MemberState.Alive or MemberState.Suspect;
}
