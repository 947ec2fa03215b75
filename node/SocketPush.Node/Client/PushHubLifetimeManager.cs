using Microsoft.AspNetCore.SignalR;

namespace SocketPush.Node.Client;

/// <summary>
/// SignalR's default lifetime manager, plus a handle on each connection's <see cref="HubConnectionContext"/>
/// (which a hub cannot otherwise reach), so that <see cref="HubClientConnection"/> writes serialized messages
/// to it directly instead of looking connections up by id on every publish.
/// </summary>
internal sealed class PushHubLifetimeManager(ILogger<DefaultHubLifetimeManager<PushHub>> logger) : DefaultHubLifetimeManager<PushHub>(logger)
{
    public override Task OnConnectedAsync(HubConnectionContext connection)
    {
        // Runs before the hub's OnConnectedAsync. The feature collection is shared with HubCallerContext and
        // exists anyway, whereas touching Items would allocate a dictionary per connection.
        connection.Features.Set(connection);
        return base.OnConnectedAsync(connection);
    }

    public static HubConnectionContext ContextOf(HubCallerContext caller) => caller.Features.Get<HubConnectionContext>()!;
}
