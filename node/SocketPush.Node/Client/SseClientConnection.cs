using System.Threading.Channels;
using SocketPush.Node.Admin;

namespace SocketPush.Node.Client;

/// <summary>
/// A plain Server-Sent Events stream. Publishes enqueue without waiting; one loop per connection writes the
/// queue to the response, so a slow reader never holds up a publish. A reader that falls
/// <c>maxQueuedMessagesPerConnection</c> messages behind is closed; its EventSource reconnects.
/// </summary>
internal sealed class SseClientConnection : ClientConnection, IDisposable
{
    private static readonly byte[] KeepAliveFrame = ": keep-alive\n\n"u8.ToArray();

    private readonly Channel<PushMessage> _queue;
    private readonly CancellationTokenSource _aborted = new();
    private readonly NodeMetrics _metrics;
    private readonly TimeProvider _time;

    public SseClientConnection(string id, string userId, int queueLimit, NodeMetrics metrics, TimeProvider time)
        : base(id, userId, ClientTransport.PlainSse)
    {
        _queue = Channel.CreateBounded<PushMessage>(new BoundedChannelOptions(queueLimit) { SingleReader = true });
        _metrics = metrics;
        _time = time;
    }

    public string? AbortReason { get; private set; }

    public override SendResult TrySend(PushMessage message)
    {
        if (_queue.Writer.TryWrite(message))
        {
            return SendResult.Queued;
        }

        if (AbortReason is null)
        {
            _metrics.SlowConsumerClosed();
            Abort("its send queue is full (slow consumer)", allowReconnect: true);
        }

        return SendResult.Refused;
    }

    public override void Abort(string reason, bool allowReconnect)
    {
        AbortReason ??= reason;
        _queue.Writer.TryComplete();
        try
        {
            _aborted.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The stream already ended; a late user.remove or shutdown has nothing left to close.
        }
    }

    public void Dispose() => _aborted.Dispose();

    /// <summary>Writes queued messages to the response until the client goes away or the connection is aborted.</summary>
    public async Task PumpAsync(Stream body, TimeSpan keepAlive, CancellationToken requestAborted)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, _aborted.Token);
        var reader = _queue.Reader;
        try
        {
            while (true)
            {
                using var idle = new CancellationTokenSource(keepAlive, _time);
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(stop.Token, idle.Token);
                try
                {
                    if (!await reader.WaitToReadAsync(wait.Token))
                    {
                        return;
                    }
                }
                catch (OperationCanceledException) when (!stop.IsCancellationRequested)
                {
                    await body.WriteAsync(KeepAliveFrame, stop.Token);
                    await body.FlushAsync(stop.Token);
                    continue;
                }

                while (reader.TryRead(out var message))
                {
                    await body.WriteAsync(message.SseFrame, stop.Token);
                    _metrics.Delivered(message, 1, _time);
                }

                await body.FlushAsync(stop.Token);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The client left or the server closed the stream: both end the pump normally.
        }
    }
}
