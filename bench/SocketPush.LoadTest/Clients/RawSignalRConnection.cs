using System.Text;

namespace SocketPush.LoadTest.Clients;

/// <summary>
/// SignalR's JSON hub protocol over a plain WebSocket, without negotiation (the server creates the
/// connection on the WebSocket request): handshake, then records ending in 0x1E. Costs the client far less
/// than HubConnection, so the harness can hold 10,000 of them on a shared 2-core machine.
/// </summary>
internal class RawSignalRConnection(Uri uri, HttpMessageInvoker invoker, DeliveryCounters counters)
    : WebSocketConnection(uri, invoker, counters)
{
    protected const byte RecordSeparator = 0x1E;
    private static readonly byte[] Handshake = Encoding.UTF8.GetBytes("{\"protocol\":\"json\",\"version\":1}\u001e");
    private static readonly byte[] Ping = Encoding.UTF8.GetBytes("{\"type\":6}\u001e");

    private bool _handshakeDone;
    private bool _seen;

    public override Task KeepAliveAsync() => SendTextAsync(Ping).AsTask();

    protected override ValueTask OnOpenAsync() => SendTextAsync(Handshake);

    protected override ValueTask OnMessageAsync(ReadOnlyMemory<byte> message)
    {
        if (_handshakeDone)
        {
            OnRecords(message.Span);
            return ValueTask.CompletedTask;
        }

        var span = message.Span;
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
        return AfterHandshakeAsync(message[(end + 1)..]);
    }

    /// <summary>The handshake was accepted: the connection is ready (a subclass may authenticate first).</summary>
    protected virtual ValueTask OnHandshakeDoneAsync()
    {
        Ready.TrySetResult();
        return ValueTask.CompletedTask;
    }

    /// <summary>Hub records after the handshake: every timestamped message in them is counted.</summary>
    protected virtual void OnRecords(ReadOnlySpan<byte> records)
    {
        if (records.IndexOf("\"type\":7"u8) >= 0)
        {
            Fail("closed by server: " + Encoding.UTF8.GetString(records));
            return;
        }

        Counters.OnPayload(records, ref _seen);
    }

    private async ValueTask AfterHandshakeAsync(ReadOnlyMemory<byte> rest)
    {
        await OnHandshakeDoneAsync();
        if (!rest.IsEmpty)
        {
            OnRecords(rest.Span);
        }
    }
}
