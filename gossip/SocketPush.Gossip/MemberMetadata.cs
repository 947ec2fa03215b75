namespace SocketPush.Gossip;

/// <summary>
/// What a member tells the cluster about itself. Encoded it must fit in
/// <see cref="GossipOptions.MaxMetadataBytes"/>; a change spreads like any other update.
/// </summary>
/// <param name="NodeId">The member's name in the cluster; it cannot change while the member runs.</param>
/// <param name="ClientUrl">Where clients connect to this member.</param>
/// <param name="AdminUrl">Where the management API of this member listens.</param>
/// <param name="Version">Software version of this member.</param>
public sealed record MemberMetadata(string NodeId, string ClientUrl, string AdminUrl, string Version);
