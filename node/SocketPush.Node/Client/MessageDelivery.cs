using Microsoft.AspNetCore.SignalR;
using SocketPush.Node.Admin;

namespace SocketPush.Node.Client;

/// <summary>
/// Hands one message to a set of local connections. SignalR connections are sent to in one batch, so the
/// hub message is serialized once per protocol, not once per connection; SSE connections get it queued.
/// </summary>
internal sealed class MessageDelivery(IHubContext<PushHub> hub, NodeMetrics metrics, TimeProvider time, ILogger<MessageDelivery> logger)
{
    /// <summary>The hub event every message arrives as.</summary>
    public const string MessageEvent = "message";

    /// <summary>Returns how many connections the message was handed to.</summary>
    public async Task<int> DeliverAsync(PushMessage message, IEnumerable<ClientConnection> connections)
    {
        List<string>? hubConnectionIds = null;
        var count = 0;
        foreach (var connection in connections)
        {
            switch (connection)
            {
                case HubClientConnection:
                    (hubConnectionIds ??= []).Add(connection.Id);
                    count++;
                    break;
                case SseClientConnection sse when sse.TryEnqueue(message):
                    count++;
                    break;
            }
        }

        if (hubConnectionIds is not null)
        {
            try
            {
                await hub.Clients.Clients(hubConnectionIds).SendAsync(MessageEvent, message.HubArgument);
                metrics.Delivered(message.Kind, hubConnectionIds.Count, time.GetElapsedTime(message.PublishedTimestamp));
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException)
            {
                // A connection that closed while we wrote to it is not the publisher's error.
                ClientLog.HubDeliveryFailed(logger, e);
            }
        }

        return count;
    }
}
