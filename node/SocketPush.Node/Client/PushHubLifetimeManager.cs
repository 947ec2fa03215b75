using Microsoft.AspNetCore.SignalR;

namespace SocketPush.Node.Client;

/// <summary>
/// SignalR's default lifetime manager, plus a handle on each connection's <see cref="HubConnectionContext"/>
/// (which a hub cannot otherwise reach), so that <see cref="HubClientConnection"/> writes serialized messages
/// to it directly instead of looking connections up by id on every publish.
/// </summary>
internal sealed class PushHubLifetimeManager(ILogger<DefaultHubLifetimeManager<PushHub>> logger) : DefaultHubLifetimeManager<PushHub>(logger)
{
    private const string ContextKey = "socketpush.hubConnectionContext";

    public override Task OnConnectedAsync(HubConnectionContext connection)
    {
        // Runs before the hub's OnConnectedAsync; HubCallerContext.Items is the same dictionary.
        connection.Items[ContextKey] = connection;
        return base.OnConnectedAsync(connection);
    }

    public static HubConnectionContext ContextOf(HubCallerContext caller) => (HubConnectionContext)caller.Items[ContextKey]!;
}
