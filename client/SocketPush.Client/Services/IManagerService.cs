using System.Text.Json;

namespace SocketPush.Client.Services;

/// <summary>The cluster as a whole: which nodes it has, how they are doing and what each of them holds.</summary>
[Service("manager", "Cluster-wide status and configuration.")]
public interface IManagerService
{
    [Method("Returns the cluster as this node sees it: members with their state, URLs and ring shares, and the records this node holds per keyspace.")]
    Task<JsonElement> StatusAsync(CancellationToken cancellationToken = default);
}
