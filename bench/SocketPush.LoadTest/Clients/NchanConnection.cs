namespace SocketPush.LoadTest.Clients;

/// <summary>Nchan's WebSocket subscriber: each published message arrives as one text message, body as is.</summary>
internal sealed class NchanConnection(Uri uri, HttpMessageInvoker invoker, DeliveryCounters counters)
    : WebSocketConnection(uri, invoker, counters)
{
    private bool _seen;

    protected override ValueTask OnMessageAsync(ReadOnlyMemory<byte> message)
    {
        Counters.OnPayload(message.Span, ref _seen);
        return ValueTask.CompletedTask;
    }
}
