namespace SocketPush.Node.Cluster;

/// <summary>Who this node is and where its ports ended up (known only after binding when a port is 0).</summary>
internal sealed class NodeIdentity(string nodeId)
{
    public string NodeId { get; } = nodeId;

    public string ClientUrl { get; set; } = "";

    public string AdminUrl { get; set; } = "";

    public string ClusterEndpoint { get; set; } = "";
}
