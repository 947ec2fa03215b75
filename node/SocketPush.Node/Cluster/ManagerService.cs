using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Node.Services;

namespace SocketPush.Node.Cluster;

/// <summary>
/// manager: the cluster as this node sees it. Until clustering lands a node is a cluster of one, so the
/// status is this node alone, alive and owning the whole ring; the shape is the one the cluster view will fill.
/// </summary>
internal sealed class ManagerService(NodeIdentity identity, PushState state) : IManagerService
{
    public Task<JsonElement> StatusAsync(CancellationToken cancellationToken = default)
    {
        var records = state.Counts();
        var self = new
        {
            nodeId = identity.NodeId,
            state = "alive",
            incarnation = 0,
            address = identity.ClusterEndpoint,
            clientUrl = identity.ClientUrl,
            adminUrl = identity.AdminUrl,
            wireVersion = 1,
            // decimal keeps the ".0" on the wire, so a share always decodes as a fraction (a float in PHP), never an int.
            ringShare = 1.0m,
            local = true,
        };
        return Task.FromResult(JsonSerializer.SerializeToElement(new
        {
            nodeId = identity.NodeId,
            members = new[] { self },
            ringAgreed = true,
            virtualNodes = 2000,
            records = new { users = records.Users, sessions = records.Sessions, channels = records.Channels },
        }));
    }
}
