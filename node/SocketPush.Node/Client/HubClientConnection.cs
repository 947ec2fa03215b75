using Microsoft.AspNetCore.SignalR;

namespace SocketPush.Node.Client;

/// <summary>A SignalR connection of a user. Messages go through the hub context in batches (see <see cref="MessageDelivery"/>).</summary>
internal sealed class HubClientConnection(HubCallerContext context, string userId, ClientTransport transport)
    : ClientConnection(context.ConnectionId, userId, transport)
{
    public override void Abort(string reason) => context.Abort();
}
