using System.Text.Json;

namespace SocketPush.Client.Services;

/// <summary>The cluster as a whole: which nodes it has, how they are doing and what each of them holds.</summary>
[Service("manager", "Cluster-wide status and configuration.")]
public interface IManagerService
{
    [Method("Returns the cluster as this node sees it: members with their state, URLs and ring shares, and the records this node holds per keyspace.")]
    Task<JsonElement> StatusAsync(CancellationToken cancellationToken = default);

    [Method("Sets config keys on every node at once, e.g. {\"options.maxConnections\": 5000} (null takes a key out): the cluster's layer, over each node's file and under its command-line flags, kept by every node across restarts. Keys that need a restart, secrets, unknown keys and bad values are refused (invalid_argument), each named; nothing changes then. Returns the layer as manager.getConfig does.")]
    Task<JsonElement> SetConfigAsync(JsonElement changes, CancellationToken cancellationToken = default);

    [Method("Returns the cluster's config layer as this node holds it: {version, values: {key: value}, entries: [{key, value, removed, setAt, setBy}], stateFile}.")]
    Task<JsonElement> GetConfigAsync(CancellationToken cancellationToken = default);
}
