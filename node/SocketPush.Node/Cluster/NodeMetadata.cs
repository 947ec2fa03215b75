using MemoryPack;

namespace SocketPush.Node.Cluster;

/// <summary>
/// What a node tells the cluster about itself. Gossip carries it as opaque bytes (memberlist's NodeMeta) and
/// spreads a change like any other update; only nodes read it. On the wire: <see cref="FormatVersion"/>, checked
/// before anything else is read, then this record in MemoryPack. The wire and ring settings let nodes that would
/// compute different owners or replicas find out before they route anything.
/// </summary>
/// <param name="NodeId">The node's id; gossip's member name is the same.</param>
/// <param name="ClientUrl">Where clients connect to the node (redirects, <c>user.getFrontendServer</c>, allowed origins).</param>
/// <param name="AdminUrl">Where its management API listens (<c>manager.status</c>).</param>
/// <param name="WireVersion">The version of its peer data plane's messages (<see cref="ClusterSettings.WireVersion"/>).</param>
/// <param name="VirtualNodes">Its <c>cluster.virtualNodes</c>.</param>
/// <param name="Replicas">Its <c>cluster.replicas</c>.</param>
/// <param name="Leaving">It has begun to leave: the others take it out of their rings as soon as they hear it.</param>
/// <param name="ConfigVersion">The version of its copy of the cluster's config layer; a member with another one exchanges layers with it.</param>
/// <param name="Standby">A standby node (<c>node.standby</c>) not yet promoted: in gossip, out of every ring.</param>
/// <param name="StandsInFor">The dead member a promoted standby stands in for (empty otherwise): no second standby is promoted for it.</param>
[MemoryPackable]
internal sealed partial record NodeMetadata(
    string NodeId, string ClientUrl, string AdminUrl, int WireVersion, int VirtualNodes, int Replicas, bool Leaving, string ConfigVersion,
    bool Standby = false, string StandsInFor = "")
{
    /// <summary>
    /// The encoding's version. 1 was the gossip library's own four strings, whose version string carried
    /// <c>"wire=1 vnodes=2000 replicas=3 leaving"</c>; 2 had neither the config version nor the standby fields. A node
    /// refuses another kind's metadata instead of misreading it.
    /// </summary>
    public const byte FormatVersion = 3;

    /// <summary>The ring settings it routes with.</summary>
    [MemoryPackIgnore]
    public RingSettings Ring => new(VirtualNodes, Replicas);

    /// <summary>This node's metadata: its identity, the wire version it speaks, its ring settings, its config layer's version and its standby state.</summary>
    public static NodeMetadata Of(NodeIdentity identity, RingSettings ring, bool leaving, string configVersion, StandbyState standby) =>
        new(identity.NodeId, identity.ClientUrl, identity.AdminUrl, ClusterSettings.WireVersion, ring.VirtualNodes, ring.Replicas, leaving, configVersion,
            standby.Waiting, standby.StandsInFor);

    public byte[] Encode()
    {
        var body = MemoryPackSerializer.Serialize(this, MemoryPackSerializerOptions.Utf8);
        var bytes = new byte[body.Length + 1];
        bytes[0] = FormatVersion;
        body.CopyTo(bytes, 1);
        return bytes;
    }

    /// <summary>Reads what <see cref="Encode"/> wrote, or returns null with the reason: never throws on what a member sent.</summary>
    public static NodeMetadata? TryDecode(ReadOnlySpan<byte> bytes, out string? problem)
    {
        problem = null;
        if (bytes.IsEmpty)
        {
            problem = "none";
            return null;
        }

        if (bytes[0] != FormatVersion)
        {
            problem = $"unknown format version {bytes[0]}";
            return null;
        }

        try
        {
            NodeMetadata? metadata = null;
            var read = MemoryPackSerializer.Deserialize(bytes[1..], ref metadata);
            if (read != bytes.Length - 1 || metadata is null || metadata.NodeId is null || metadata.ClientUrl is null || metadata.AdminUrl is null
                || metadata.ConfigVersion is null || metadata.StandsInFor is null)
            {
                problem = "incomplete metadata";
                return null;
            }

            return metadata;
        }
        catch (Exception e) when (e is MemoryPackSerializationException or ArgumentException or IndexOutOfRangeException or InvalidOperationException or OverflowException)
        {
            // A corrupt length surfaces as one of these, depending on where it sits.
            problem = e.Message;
            return null;
        }
    }
}
