using System.Globalization;
using SocketPush.Gossip;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Cluster;

/// <summary>
/// What the node tells the cluster about itself and how the config maps onto the gossip library. The gossip
/// metadata's version field carries the peer wire version and the ring settings, <c>"wire=1 vnodes=2000 replicas=3"</c>,
/// so that nodes which would compute different owners or replicas find out before they route anything.
/// </summary>
internal static class ClusterSettings
{
    /// <summary>The version of the peer data plane's messages; a node refuses to route with a peer of another.</summary>
    public const byte WireVersion = 2;

    public static GossipOptions Gossip(NodeConfig config, IReadOnlyList<string> resolvedSeeds)
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

    public static string Version(RingSettings ring) =>
        string.Create(CultureInfo.InvariantCulture, $"wire={WireVersion} vnodes={ring.VirtualNodes} replicas={ring.Replicas}");

    /// <summary>What a leaving node announces: the same settings, marked so that the others take it out of their rings at once.</summary>
    public static string LeavingVersion(RingSettings ring) => Version(ring) + " " + LeavingMark;

    /// <summary>Whether a member announced that it is leaving (<see cref="LeavingVersion"/>).</summary>
    public static bool IsLeaving(MemberMetadata? metadata) =>
        metadata?.Version?.Split(' ').Contains(LeavingMark, StringComparer.Ordinal) == true;

    private const string LeavingMark = "leaving";

    /// <summary>Reads what <see cref="Version"/> wrote; null for a member whose metadata says something else.</summary>
    public static (int Wire, RingSettings Ring)? ParseVersion(MemberMetadata? metadata)
    {
        if (metadata?.Version is not { } version)
        {
            return null;
        }

        int? wire = null, vnodes = null, replicas = null;
        foreach (var part in version.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && int.TryParse(part.AsSpan(eq + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                switch (part[..eq])
                {
                    case "wire":
                        wire = value;
                        break;
                    case "vnodes":
                        vnodes = value;
                        break;
                    case "replicas":
                        replicas = value;
                        break;
                }
            }
        }

        return wire is { } w && vnodes is { } v && replicas is { } r ? (w, new RingSettings(v, r)) : null;
    }
}

/// <summary>What every node of a cluster must agree on to compute the same owners and replicas of a key.</summary>
/// <param name="VirtualNodes">cluster.virtualNodes: ring points per node.</param>
/// <param name="Replicas">cluster.replicas: how many distinct nodes hold each key (fewer while the cluster is smaller).</param>
internal readonly record struct RingSettings(int VirtualNodes, int Replicas)
{
    public static RingSettings Of(Configuration.NodeConfig config) => new(config.Cluster.VirtualNodes, config.Cluster.Replicas);
}
