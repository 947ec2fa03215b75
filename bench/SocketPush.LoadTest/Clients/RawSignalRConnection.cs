using System.Text;

namespace SocketPush.LoadTest.Clients;

/// <summary>
/// SignalR's JSON hub protocol over a plain WebSocket, without negotiation (the server creates the
/// connection on the WebSocket request): handshake, then records ending in 0x1E. Costs the client far less
/// than HubConnection, so the harness can hold 10,000 of them on a shared 2-core machine.
/// </summary>
internal sealed class RawSignalRConnection(Uri uri, HttpMessageInvoker invoker, DeliveryCounters counters)
    : WebSocketConnection(uri, invoker, counters)
{
    private const byte RecordSeparator = 0x1E;
    private static readonly byte[] Handshake = Encoding.UTF8.GetBytes("{\"protocol\":\"json\",\"version\":1}\u001e");
    private static readonly byte[] Ping = Encoding.UTF8.GetBytes("{\"type\":6}\u001e");

    private bool _handshakeDone;
    private bool _seen;

    public override Task KeepAliveAsync() => SendTextAsync(Ping).AsTask();

    protected override ValueTask OnOpenAsync() => SendTextAsync(Handshake);

    protected override ValueTask OnMessageAsync(ReadOnlyMemory<byte> message)
    {
        var span = message.Span;
        if (!_handshakeDone)
        {
            var end = span.IndexOf(RecordSeparator);
            if (end < 0)
            {
                Fail("handshake response without record separator");
                return ValueTask.CompletedTask;
            }

            var response = span[..end];
            if (response.IndexOf("\"error\""u8) >= 0)
            {
                Fail("handshake refused: " + Encoding.UTF8.GetString(response));
                return ValueTask.CompletedTask;
            }

            _handshakeDone = true;
            Ready.TrySetResult();
            span = span[(end + 1)..];
        }

        if (span.IndexOf("\"type\":7"u8) >= 0)
        {
            Fail("closed by server: " + Encoding.UTF8.GetString(span));
            return ValueTask.CompletedTask;
        }

        Counters.OnPayload(span, ref _seen);
        return ValueTask.CompletedTask;
    }
}
