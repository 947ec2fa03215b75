using System.Buffers;
using System.Net.WebSockets;

namespace SocketPush.Node.Edge.HubServer;

/// <summary>
/// A hub client over a WebSocket that reached the HTTP server instead of <see cref="HubWebSocketListener"/>,
/// which only sees a connection's first request: an upgrade sent on a kept-alive connection after other requests,
/// as some proxies send them, and every WebSocket under TLS (the listener writes to the raw socket, which TLS
/// wraps). It takes the simple road: ASP.NET Core's WebSocket, a bounded queue like the
/// HTTP transports (same slow-consumer rule), one send loop.
/// </summary>
internal sealed class UpgradedWebSocketHubSession(string connectionId, WebSocket socket, HubSessions sessions, string? userId, string? sessionId)
    : HttpHubSession(connectionId, token: "", ClientTransport.WebSockets, sessions, userId, sessionId)
{
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(5);

    protected override bool Binary => true;

    /// <summary>Runs the session until either side ends it.</summary>
    public async Task RunAsync(CancellationToken requestAborted)
    {
        Sessions.Track(this);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        var sending = SendLoopAsync(stop);
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer.AsMemory(), stop.Token);
                // Hub messages carry their own framing (record separator, length prefix), so chunks go on as they
                // come; a message split over several is kept, within the hub protocol's size limit.
                if (received.MessageType == WebSocketMessageType.Close
                    || !await ReceiveAsync(buffer.AsMemory(0, received.Count), stop.Token))
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            // The client went away, or the send loop ended the session.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            // What is queued (a close message) still goes out before the send loop closes the socket.
            EndTransport();
            await sending;
        }
    }

    /// <summary>Aborted off this thread: the gate is held, and aborting runs the loops' continuations.</summary>
    protected override void OnOverflowLocked() => _ = Task.Run(socket.Abort);

    private async Task SendLoopAsync(CancellationTokenSource stop)
    {
        try
        {
            while (await TakeAsync(null, stop.Token) is { Length: > 0 } batch)
            {
                var type = Format == HubFormat.Json ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
                foreach (var item in batch)
                {
                    await socket.SendAsync(item.Bytes, type, endOfMessage: true, stop.Token);
                }

                CountDelivered(batch);
            }

            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", stop.Token);
            // The client answers with its close frame, which ends the receive loop; one that does not is cut off.
            stop.CancelAfter(CloseGrace);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            // The client went away: the receive loop need not wait for anything.
            await stop.CancelAsync();
        }
    }
}
