using System.Text.Json;

namespace SocketPush.Client.Services;

/// <summary>The node the call reaches, not the cluster: its config file and the config it runs on.</summary>
[Service("worker", "This node's configuration: reload the file, read what is in force.")]
public interface IWorkerService
{
    [Method("Reads the node's config file again and applies it; returns what was applied and what was refused, and why: {result, version, applied, refused, error}.")]
    Task<JsonElement> ReloadAsync(CancellationToken cancellationToken = default);

    [Method("Returns the config this node runs on, in the file's shape, with secrets and keys shown only as set or empty.")]
    Task<JsonElement> GetConfigAsync(CancellationToken cancellationToken = default);
}
