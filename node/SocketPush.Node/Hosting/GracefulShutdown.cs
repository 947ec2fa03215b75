using SocketPush.Node.Cluster;
using SocketPush.Node.Edge;
using SocketPush.Node.Edge.HubServer;

namespace SocketPush.Node.Hosting;

/// <summary>
/// What the node does first when the host stops (SIGTERM, Ctrl+C, disposing <see cref="NodeHost"/>): the host runs
/// every <see cref="IHostedLifecycleService.StoppingAsync"/> before it stops the web server and the background
/// services, so the node still serves its clients and peers while it leaves. It stops being ready, leaves the cluster
/// gracefully (once, however often the host is stopped), then closes every client still here, so that the web server
/// does not wait for open SSE streams and polls for its whole shutdown timeout.
/// </summary>
internal sealed class GracefulShutdown(HealthState health, GracefulLeave leave, ConnectionRegistry registry, HubSessions hubSessions)
    : IHostedLifecycleService
{
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        health.Ready = false;
        try
        {
            // Bounded by cluster.leaveTimeout, not by the host's token: the host's shutdown timeout is lengthened by it.
            await leave.LeaveAsync().ConfigureAwait(false);
        }
        finally
        {
            // Also after a leave that failed: an open SSE stream would hold the web server for its whole shutdown timeout.
            CloseClients();
        }
    }

    /// <summary>Closes every client connection, and every hub session that has not authenticated yet.</summary>
    private void CloseClients()
    {
        foreach (var connection in registry.All().ToList())
        {
            connection.Abort("the node is shutting down", allowReconnect: true);
        }

        // Hub sessions live below HTTP, so Kestrel's shutdown would only wait for them; unauthenticated ones too.
        hubSessions.CloseAll("the node is shutting down");
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
