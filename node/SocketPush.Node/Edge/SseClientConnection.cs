using System.Buffers;
using System.IO.Pipelines;

namespace SocketPush.Node.Edge;

/// <summary>
/// A plain Server-Sent Events stream. Publishes go to the connection's <see cref="OutboundQueue"/> without
/// waiting; one loop per connection writes what is queued to the response, so a slow reader never holds up a
/// publish, and a reader the queue gives up on is cut off; its EventSource reconnects.
/// </summary>
internal sealed class SseClientConnection : ClientConnection, IDisposable
{
    private static readonly byte[] KeepAliveFrame = ": keep-alive\n\n"u8.ToArray();

    private readonly OutboundQueue _queue;

    protected override OutboundQueue Outbound => _queue;
    private readonly CancellationTokenSource _aborted = new();

    /// <summary>A slow consumer's HTTP connection is cut with <paramref name="abortStream"/>: ending the response would wait for the client.</summary>
    public SseClientConnection(string id, string userId, OutboundQueues queues, Action abortStream)
        : base(id, userId, ClientTransport.PlainSse)
    {
        _queue = new OutboundQueue(this, new Lock(), queues, abortStream);
    }

    /// <summary>Why the server closed the stream (user.remove, shutdown), or null; a slow consumer is logged by its queue.</summary>
    public string? AbortReason { get; private set; }

    /// <summary>
    /// A message of a stream with history, and the <c>streams</c> report, carry the positions the connection has
    /// reached as their event id, which EventSource sends back as Last-Event-ID when it reconnects.
    /// </summary>
    protected override SendResult Send(PushMessage message)
    {
        if (message.Position is null && message.Kind != StreamRecovery.StreamsEvent)
        {
            return _queue.Enqueue(message.SseFrame, message);
        }

        var token = PositionsToken(message);
        var frame = new byte[4 + System.Text.Encoding.ASCII.GetByteCount(token) + 1 + message.SseFrame.Length];
        "id: "u8.CopyTo(frame);
        var length = 4 + System.Text.Encoding.ASCII.GetBytes(token, frame.AsSpan(4));
        frame[length++] = (byte)'\n';
        message.SseFrame.CopyTo(frame.AsSpan(length));
        return _queue.Enqueue(frame, message);
    }

    public override void Abort(string reason, bool allowReconnect)
    {
        AbortReason ??= reason;
        _queue.Discard();
        Cut();
    }

    public void Dispose() => _aborted.Dispose();

    /// <summary>Writes queued messages to the response until the client goes away or the connection is aborted.</summary>
    public async Task PumpAsync(PipeWriter body, TimeSpan keepAlive, CancellationToken requestAborted)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, _aborted.Token);
        try
        {
            while (await _queue.TakeAsync(keepAlive, stop.Token) is var batch && batch is not [])
            {
                if (batch is null)
                {
                    body.Write(KeepAliveFrame);
                }
                else
                {
                    // Everything queued goes out in one flush.
                    foreach (var item in batch)
                    {
                        body.Write(item.Bytes.Span);
                    }
                }

                if ((await body.FlushAsync(stop.Token)).IsCanceled)
                {
                    return;
                }

                if (batch is not null)
                {
                    _queue.Sent(batch);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The client left or the server closed the stream: both end the pump normally.
        }
    }

    private void Cut()
    {
        try
        {
            _aborted.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The stream already ended; a late user.remove or shutdown has nothing left to close.
        }
    }
}
