using System.Text;

namespace SocketPush.LoadTest.Clients;

/// <summary>
/// Engine.IO v4 / Socket.IO v5 over a WebSocket from the start (no polling, no upgrade): the server opens
/// with "0{sid,...}", the client joins the main namespace with "40", the server acknowledges with
/// "40{sid}" or refuses with "44{message}"; the server pings with "2" and expects "3"; events arrive as
/// "42[name, args...]"; "1" closes.
/// </summary>
internal sealed class SocketIoConnection(Uri uri, HttpMessageInvoker invoker, DeliveryCounters counters)
    : WebSocketConnection(uri, invoker, counters)
{
    private static readonly byte[] ConnectNamespace = "40"u8.ToArray();

    private bool _seen;

    protected override ValueTask OnOpenAsync() => ValueTask.CompletedTask;

    protected override async ValueTask OnMessageAsync(ReadOnlyMemory<byte> message)
    {
        if (message.IsEmpty)
        {
            return;
        }

        switch (message.Span[0])
        {
            case (byte)'0':
                await SendTextAsync(ConnectNamespace);
                break;
            case (byte)'2':
                // Pong echoes the ping's payload ("2probe" -> "3probe"); a plain ping has none.
                var pong = message.ToArray();
                pong[0] = (byte)'3';
                await SendTextAsync(pong);
                break;
            case (byte)'1':
                Fail("closed by server (engine.io close)");
                break;
            case (byte)'4':
                OnSocketIoPacket(message.Span);
                break;
            default:
                break;
        }
    }

    private void OnSocketIoPacket(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < 2)
        {
            return;
        }

        switch (packet[1])
        {
            case (byte)'0':
                Ready.TrySetResult();
                break;
            case (byte)'2':
                Counters.OnPayload(packet, ref _seen);
                break;
            case (byte)'4':
                Fail("namespace connect refused: " + Encoding.UTF8.GetString(packet[2..]));
                break;
            case (byte)'1':
                Fail("namespace disconnected by server");
                break;
            default:
                break;
        }
    }
}
