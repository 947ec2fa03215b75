using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Node.Cluster.Records;
using SocketPush.Node.Configuration;
using SocketPush.Node.Services;

namespace SocketPush.Node.Cluster;

/// <summary>manager: the cluster as this node sees it, from gossip and the ring (read-only).</summary>
internal sealed class ManagerService(
    NodeIdentity identity,
    ClusterMembership membership,
    RecordStore store,
    ClusterCoordinator coordinator,
    AntiEntropy antiEntropy,
    ConfigReloader reloader,
    LiveConfig live) : IManagerService
{
    public Task<JsonElement> StatusAsync(CancellationToken cancellationToken = default)
    {
        var view = membership.View;
        var shares = view.Shares();
        var members = view.Members.IsEmpty
            ? [new { nodeId = identity.NodeId, state = "alive", incarnation = 0u, address = identity.ClusterEndpoint, clientUrl = identity.ClientUrl, adminUrl = identity.AdminUrl, wireVersion = (int?)ClusterSettings.WireVersion, ringShare = 1.0m, local = true }]
            : view.Members.Select(m => new
            {
                nodeId = m.Name,
                state = m.State.ToString().ToLowerInvariant(),
                incarnation = m.Incarnation,
                address = m.Address,
                clientUrl = m.Metadata?.ClientUrl ?? "",
                adminUrl = m.Metadata?.AdminUrl ?? "",
                wireVersion = ClusterSettings.ParseVersion(m.Metadata)?.Wire,
                ringShare = Share(shares.GetValueOrDefault(m.Name)),
                local = m.Name == view.LocalId,
            }).ToArray();
        var (users, sessions, channels) = store.LiveCounts();
        return Task.FromResult(JsonSerializer.SerializeToElement(new
        {
            nodeId = identity.NodeId,
            joined = membership.Joined,
            members,
            ringAgreed = view.RingProblem is null,
            ringProblem = view.RingProblem,
            virtualNodes = view.VirtualNodes,
            replicas = view.Replicas,
            writeQuorum = Replication.QuorumOf(view, live.Current),
            records = new { users, sessions, channels },
            pendingHandoff = coordinator.PendingHandoff,
            antiEntropy = antiEntropy.LastRound?.ToJson(),
            config = new
            {
                version = reloader.Version,
                appliedAt = reloader.AppliedAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                lastReload = reloader.Last?.ToJson(),
            },
        }));
    }

    /// <summary>A decimal with at least one digit after the point, so a share always decodes as a fraction (a float in PHP), never an int.</summary>
    private static decimal Share(double share)
    {
        var rounded = Math.Round((decimal)share, 6);
        return rounded.Scale == 0 ? rounded + 0.0m : rounded;
    }
}
