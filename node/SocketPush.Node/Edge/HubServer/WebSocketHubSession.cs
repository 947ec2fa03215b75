using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;

namespace SocketPush.Node.Edge.HubServer;

/// <summary>
/// A hub client over a WebSocket that this node speaks itself, directly on Kestrel's connection: no HTTP request
/// objects, no SignalR connection objects, no per-connection output pipe. A message is one prebuilt frame (built
/// once per published message) written with one non-blocking <c>send</c> on the publisher's thread; only when the
/// socket's buffer is full do frames queue in the connection's <see cref="OutboundQueue"/> (which closes a slow
/// consumer), drained by asynchronous sends that write everything queued at once.
/// </summary>
internal sealed class WebSocketHubSession : HubSession
{
    /// <summary>WebSocket messages from the client larger than this close the connection (status 1009).</summary>
    private const long MaxFrameBytes = MaxClientMessageBytes;

    private readonly ConnectionContext _connection;
    private readonly Socket _socket;
    /// <summary>Queued frames are sent together up to this many bytes at a time (the pool keeps buffers of this size).</summary>
    private const int CoalesceBytes = 64 * 1024;

    private readonly PipeReader _input;
    private readonly OutboundQueue _backlog;

    protected override OutboundQueue Outbound => _backlog;
    /// <summary>A drain owns the socket's output: new frames queue behind it, so that they keep their order.</summary>
    private bool _draining;
    private byte[]? _fragments;
    private int _fragmentLength;

    /// <summary>Whether the message being read is text (its bytes must be UTF-8) rather than binary.</summary>
    private bool _text;

    public WebSocketHubSession(ConnectionContext connection, Socket socket, HubSessions sessions, string? userId, string? sessionId)
        : base(connection.ConnectionId, ClientTransport.WebSockets, sessions, userId, sessionId)
    {
        _connection = connection;
        _socket = socket;
        _input = connection.Transport.Input;
        // Closed as a slow consumer: nothing more can reach the client in time, not even a close frame.
        _backlog = new OutboundQueue(this, SendGate, sessions.Queues, connection.Abort);
    }

    protected override bool Binary => true;

    /// <summary>Answers the upgrade, then reads frames until the client or the server ends the session.</summary>
    public async Task RunAsync(byte[] acceptResponse)
    {
        // Kestrel only ever uses this socket asynchronously; making it non-blocking lets a send here return at
        // once with what fit instead of waiting for a slow client.
        _socket.Blocking = false;
        Sessions.Track(this);
        try
        {
            lock (SendGate)
            {
                SendRaw(acceptResponse, null);
            }

            await ReadLoopAsync();
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or ConnectionResetException or OperationCanceledException)
        {
            // The client went away; the session ends below like any other.
        }
        finally
        {
            EndTransport();
            OnTransportClosed();
            ReturnFragments();
        }
    }

    protected override SendResult Send(PushMessage message)
    {
        var frame = message.WebSocketFrame(Format);
        lock (SendGate)
        {
            return SendRaw(frame, message);
        }
    }

    protected override SendResult SendLocked(ReadOnlyMemory<byte> hubBytes) =>
        SendRaw(WebSocketFrames.Build(Format == HubFormat.Json ? WebSocketOpcode.Text : WebSocketOpcode.Binary, hubBytes.Span), null);

    protected override void EndTransport() => End(1000, "");

    /// <summary>
    /// Sends a close frame with the status (unless frames are still queued behind a full socket) and stops: the read
    /// loop returns, and Kestrel shuts the socket down after what was sent. Later calls do nothing.
    /// </summary>
    private void End(ushort status, string reason)
    {
        lock (SendGate)
        {
            if (_backlog.Closed)
            {
                return;
            }

            if (!_draining)
            {
                SendRaw(WebSocketFrames.BuildClose(status, reason), null);
            }

            _backlog.Close();
        }

        _input.CancelPendingRead();
    }

    /// <summary>Writes a whole frame, or queues what did not fit. The caller holds <see cref="HubSession.SendGate"/>.</summary>
    private SendResult SendRaw(ReadOnlyMemory<byte> frame, PushMessage? message)
    {
        if (_backlog.Closed)
        {
            return SendResult.Refused;
        }

        if (_draining)
        {
            return _backlog.Enqueue(frame, message);
        }

        int sent;
        SocketError error;
        // Noted before the send: once the bytes are out the client may act on them (and a test may move the
        // clock), so the note must already be there.
        MarkSent();
        try
        {
            // Never blocks (non-blocking socket); the gate only keeps concurrent frames from interleaving.
            sent = _socket.Send(frame.Span, SocketFlags.None, out error);
        }
        catch (ObjectDisposedException)
        {
            _backlog.Close();
            return SendResult.Refused;
        }

        if (sent == frame.Length)
        {
            return SendResult.Written;
        }

        if (error is not (SocketError.Success or SocketError.WouldBlock))
        {
            _backlog.Close();
            _connection.Abort();
            return SendResult.Refused;
        }

        // The queue is empty here (no drain runs), so it takes the rest whatever its bound.
        _backlog.Enqueue(frame[Math.Max(sent, 0)..], message);
        _draining = true;
        _ = DrainAsync();
        return SendResult.Queued;
    }

    private async Task DrainAsync()
    {
        // One list per drain, reused for each batch: taking frames off the queue allocates nothing.
        var batch = new List<Outgoing>();
        while (true)
        {
            lock (SendGate)
            {
                batch.Clear();
                if (_backlog.MoveTo(batch) == 0)
                {
                    _draining = false;
                    return;
                }
            }

            try
            {
                await SendAllAsync(batch);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                lock (SendGate)
                {
                    _backlog.Discard();
                    _draining = false;
                }

                _connection.Abort();
                return;
            }

            MarkSent();
            _backlog.Sent(CollectionsMarshal.AsSpan(batch));
        }
    }

    /// <summary>
    /// Sends a batch of frames with as few sends as it can: frames are copied into one pooled buffer of up to
    /// <see cref="CoalesceBytes"/> and sent together; a frame as large as that goes on its own, uncopied.
    /// </summary>
    private async Task SendAllAsync(List<Outgoing> batch)
    {
        if (batch.Count == 1)
        {
            await SendWholeAsync(batch[0].Bytes);
            return;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(CoalesceBytes);
        try
        {
            var used = 0;
            for (var i = 0; i < batch.Count; i++)
            {
                var frame = batch[i].Bytes;
                if (used > 0 && used + frame.Length > buffer.Length)
                {
                    await SendWholeAsync(buffer.AsMemory(0, used));
                    used = 0;
                }

                if (frame.Length >= buffer.Length)
                {
                    await SendWholeAsync(frame);
                    continue;
                }

                frame.Span.CopyTo(buffer.AsSpan(used));
                used += frame.Length;
            }

            if (used > 0)
            {
                await SendWholeAsync(buffer.AsMemory(0, used));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async ValueTask SendWholeAsync(ReadOnlyMemory<byte> bytes)
    {
        while (bytes.Length > 0)
        {
            bytes = bytes[await _socket.SendAsync(bytes, SocketFlags.None)..];
        }
    }

    private async Task ReadLoopAsync()
    {
        while (true)
        {
            var read = await _input.ReadAsync();
            if (read.IsCanceled || _backlog.Closed)
            {
                return;
            }

            var buffer = read.Buffer;
            var messages = default(List<(byte[] Bytes, int Length)>);
            var outcome = ReadFrames(ref buffer, ref messages);
            _input.AdvanceTo(buffer.Start, buffer.End);
            if (messages is not null)
            {
                foreach (var (bytes, length) in messages)
                {
                    try
                    {
                        if (!_backlog.Closed && !await ReceiveAsync(bytes.AsMemory(0, length), _connection.ConnectionClosed))
                        {
                            outcome = ReadOutcome.End;
                        }
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(bytes);
                    }
                }
            }

            if (outcome != ReadOutcome.More || read.IsCompleted)
            {
                return;
            }
        }
    }

    private enum ReadOutcome
    {
        More,
        End,
    }

    /// <summary>Takes every complete frame off the buffer; complete messages are unmasked into pooled arrays.</summary>
    private ReadOutcome ReadFrames(ref ReadOnlySequence<byte> buffer, ref List<(byte[] Bytes, int Length)>? messages)
    {
        Span<byte> control = stackalloc byte[125];
        while (true)
        {
            var problem = WebSocketFrames.TryReadHeader(buffer, MaxFrameBytes, out var header);
            if (problem == FrameProblem.NeedMoreData)
            {
                return ReadOutcome.More;
            }

            if (problem != FrameProblem.None)
            {
                Refuse(problem, problem == FrameProblem.TooLarge ? (ushort)1009 : (ushort)1002);
                return ReadOutcome.End;
            }

            if (buffer.Length < header.HeaderLength + header.PayloadLength)
            {
                return ReadOutcome.More;
            }

            var payload = buffer.Slice(header.HeaderLength, header.PayloadLength);
            buffer = buffer.Slice(payload.End);
            switch (header.Opcode)
            {
                case WebSocketOpcode.Ping:
                    var ping = control[..(int)header.PayloadLength];
                    WebSocketFrames.Unmask(payload, header.MaskKey, ping);
                    lock (SendGate)
                    {
                        SendRaw(WebSocketFrames.Build(WebSocketOpcode.Pong, ping), null);
                    }

                    break;
                case WebSocketOpcode.Pong:
                    break;
                case WebSocketOpcode.Close:
                    // The client closes: answer with its own status (or a protocol error) and stop reading.
                    var close = control[..(int)header.PayloadLength];
                    WebSocketFrames.Unmask(payload, header.MaskKey, close);
                    var closeProblem = WebSocketFrames.CloseReply(close, out var status);
                    if (closeProblem != FrameProblem.None)
                    {
                        Refuse(closeProblem, status);
                    }
                    else
                    {
                        End(status, "");
                    }

                    return ReadOutcome.End;
                default:
                    // RFC 6455 §5.4: a continuation needs a message in progress, and a new message may not start
                    // inside one.
                    if ((header.Opcode == WebSocketOpcode.Continuation) != (_fragments is not null))
                    {
                        Refuse(FrameProblem.BadFragmentation, 1002);
                        return ReadOutcome.End;
                    }

                    if (header.Opcode != WebSocketOpcode.Continuation)
                    {
                        _text = header.Opcode == WebSocketOpcode.Text;
                    }

                    if (!AppendFragment(payload, header))
                    {
                        Refuse(FrameProblem.TooLarge, 1009);
                        return ReadOutcome.End;
                    }

                    if (header.Final)
                    {
                        // Checked on the whole message: a character may be split across fragments.
                        if (_text && !System.Text.Unicode.Utf8.IsValid(_fragments.AsSpan(0, _fragmentLength)))
                        {
                            Refuse(FrameProblem.InvalidUtf8, 1007);
                            return ReadOutcome.End;
                        }

                        (messages ??= []).Add((_fragments!, _fragmentLength));
                        _fragments = null;
                        _fragmentLength = 0;
                    }

                    break;
            }
        }
    }

    private bool AppendFragment(ReadOnlySequence<byte> payload, WebSocketFrameHeader header)
    {
        var needed = _fragmentLength + (int)header.PayloadLength;
        if (needed > MaxFrameBytes)
        {
            return false;
        }

        if (_fragments is null || _fragments.Length < needed)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, 256));
            if (_fragments is not null)
            {
                _fragments.AsSpan(0, _fragmentLength).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_fragments);
            }

            _fragments = larger;
        }

        WebSocketFrames.Unmask(payload, header.MaskKey, _fragments.AsSpan(_fragmentLength, (int)header.PayloadLength));
        _fragmentLength = needed;
        return true;
    }

    private void ReturnFragments()
    {
        if (_fragments is not null)
        {
            ArrayPool<byte>.Shared.Return(_fragments);
            _fragments = null;
        }
    }

    private void Refuse(FrameProblem problem, ushort status)
    {
        Sessions.Metrics.MalformedClientMessage();
        ClientLog.MalformedFrame(Sessions.Logger, Id, problem);
        End(status, status switch
        {
            1009 => "message too big",
            1007 => "invalid UTF-8",
            _ => "protocol error",
        });
    }
}
