using Microsoft.AspNetCore.SignalR;
using SocketPush.Node.Admin;

namespace SocketPush.Node.Client;

/// <summary>
/// A SignalR connection of a user. Messages are written to SignalR's connection directly, already serialized
/// (once per message and protocol, shared by every connection). A write that cannot finish at once, because the
/// client reads slowly, completes in the background so the publisher does not wait for it; a connection with
/// <c>maxQueuedMessagesPerConnection</c> writes outstanding is closed as a slow consumer.
/// </summary>
internal sealed class HubClientConnection(HubConnectionContext context, string userId, ClientTransport transport, int queueLimit, NodeMetrics metrics, TimeProvider time)
    : ClientConnection(context.ConnectionId, userId, transport)
{
    private int _pendingWrites;

    public override SendResult TrySend(PushMessage message)
    {
        if (context.ConnectionAborted.IsCancellationRequested)
        {
            return SendResult.Refused;
        }

        if (Interlocked.Increment(ref _pendingWrites) > queueLimit)
        {
            Interlocked.Decrement(ref _pendingWrites);
            metrics.SlowConsumerClosed();
            Abort("its send queue is full (slow consumer)");
            return SendResult.Refused;
        }

        var write = context.WriteAsync(message.HubMessage);
        if (write.IsCompletedSuccessfully)
        {
            Interlocked.Decrement(ref _pendingWrites);
            return SendResult.Written;
        }

        _ = CompleteAsync(write, message);
        return SendResult.Queued;
    }

    public override void Abort(string reason) => context.Abort();

    private async Task CompleteAsync(ValueTask write, PushMessage message)
    {
        try
        {
            await write;
            metrics.Delivered(message.Kind, 1, time.GetElapsedTime(message.PublishedTimestamp));
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException)
        {
            // The connection closed mid-write; SignalR reports the disconnect on its own.
        }
        finally
        {
            Interlocked.Decrement(ref _pendingWrites);
        }
    }
}
