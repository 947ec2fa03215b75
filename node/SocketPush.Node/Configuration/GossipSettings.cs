using SocketPush.Gossip;

namespace SocketPush.Node.Configuration;

/// <summary>How the node's config maps onto the gossip library's options: one place, read by the validator and by the membership.</summary>
internal static class GossipSettings
{
    public static GossipOptions Of(NodeConfig config, IReadOnlyList<string> resolvedSeeds)
    {
        var cluster = config.Cluster;
        return new GossipOptions
        {
            BindAddress = config.Node.BindAddress,
            Port = config.Node.ClusterPort,
            AdvertiseAddress = cluster.AdvertiseAddress.Length > 0 ? cluster.AdvertiseAddress : null,
            Seeds = [.. resolvedSeeds],
            Secret = cluster.Secret.Length > 0 ? cluster.Secret : null,
            PreviousSecret = cluster.PreviousSecret.Length > 0 ? cluster.PreviousSecret : null,
            Swim = cluster.Swim,
        };
    }
}
