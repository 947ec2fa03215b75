using System.Net.WebSockets;

namespace SocketPush.LoadTest.Clients;

/// <summary>A raw WebSocket client: one receive loop, whole messages handed to the protocol.</summary>
internal abstract class WebSocketConnection : BenchConnection
{
    private const int InitialBufferBytes = 2048;

    private readonly ClientWebSocket _socket = new();
    private readonly Uri _uri;
    private readonly HttpMessageInvoker _invoker;
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _receiveLoop;

    protected WebSocketConnection(Uri uri, HttpMessageInvoker invoker, DeliveryCounters counters)
        : base(counters)
    {
        _uri = uri;
        _invoker = invoker;
        // Servers ping; a client ping per connection would only add load the other systems don't get.
        _socket.Options.KeepAliveInterval = TimeSpan.Zero;
    }

    protected TaskCompletionSource Ready { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the receive loop ends: the server closed the socket, or it broke (then <see cref="BenchConnection.Failure"/> says why).</summary>
    public Task Ended => _ended.Task;

    public override async Task ConnectAsync(CancellationToken cancellationToken)
    {
        await _socket.ConnectAsync(_uri, _invoker, cancellationToken);
        _receiveLoop = ReceiveLoopAsync();
        await OnOpenAsync();
        await Ready.Task.WaitAsync(cancellationToken);
    }

    public override async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
            }
            catch (Exception)
            {
                // The server may already be gone; the socket is aborted below either way.
            }
        }

        _socket.Abort();
        _socket.Dispose();
        if (_receiveLoop is not null)
        {
            await _receiveLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Runs once the WebSocket is open: the protocol's handshake, or <see cref="Ready"/> at once.</summary>
    protected virtual ValueTask OnOpenAsync()
    {
        Ready.TrySetResult();
        return ValueTask.CompletedTask;
    }

    /// <summary>One whole text or binary message.</summary>
    protected abstract ValueTask OnMessageAsync(ReadOnlyMemory<byte> message);

    protected ValueTask SendTextAsync(ReadOnlyMemory<byte> text) =>
        _socket.SendAsync(text, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);

    protected void Fail(string reason)
    {
        Failure ??= reason;
        Ready.TrySetException(new InvalidOperationException(reason));
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[InitialBufferBytes];
        var filled = 0;
        try
        {
            while (true)
            {
                if (filled == buffer.Length)
                {
                    Array.Resize(ref buffer, buffer.Length * 2);
                }

                var result = await _socket.ReceiveAsync(buffer.AsMemory(filled), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    Fail($"closed by server: {_socket.CloseStatus} {_socket.CloseStatusDescription}");
                    return;
                }

                filled += result.Count;
                if (!result.EndOfMessage)
                {
                    continue;
                }

                await OnMessageAsync(buffer.AsMemory(0, filled));
                filled = 0;
            }
        }
        catch (Exception e)
        {
            Fail(e is WebSocketException ws ? $"websocket: {ws.WebSocketErrorCode} {ws.Message}" : e.Message);
        }
        finally
        {
            _ended.TrySetResult();
        }
    }
}
