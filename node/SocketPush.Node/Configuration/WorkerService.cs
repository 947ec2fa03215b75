using System.Text.Json;
using SocketPush.Client.Services;

namespace SocketPush.Node.Configuration;

/// <summary>worker: this node's config. Served by the node the call reaches, never forwarded.</summary>
internal sealed class WorkerService(ConfigReloader reloader, LiveConfig live) : IWorkerService
{
    public Task<JsonElement> ReloadAsync(CancellationToken cancellationToken = default) => Task.FromResult(reloader.Reload().ToJson());

    public Task<JsonElement> GetConfigAsync(CancellationToken cancellationToken = default)
    {
        var config = ConfigKeys.ToJson(live.Current);
        return Task.FromResult(JsonSerializer.SerializeToElement(new
        {
            version = reloader.Version,
            appliedAt = reloader.AppliedAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            file = reloader.Path,
            config,
            // Where each value came from: default < file < cluster (manager.setConfig) < flag.
            sources = reloader.Sources(),
            cluster = new
            {
                version = reloader.ClusterInForce.Version,
                lastApply = reloader.LastCluster?.ToJson(),
            },
        }));
    }
}
