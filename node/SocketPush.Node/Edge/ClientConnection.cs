using SocketPush.Node.Cluster.Delivery;

namespace SocketPush.Node.Edge;

/// <summary>How a client is connected; also the <c>transport</c> label of the connection metrics.</summary>
internal enum ClientTransport
{
    WebSockets,
    ServerSentEvents,
    LongPolling,
    PlainSse,
}

/// <summary>What a connection did with a message.</summary>
internal enum SendResult
{
    /// <summary>Not taken: the connection is closing, or was closed now as a slow consumer.</summary>
    Refused,

    /// <summary>Written to the connection's output; the caller counts the delivery.</summary>
    Written,

    /// <summary>Taken, to be written later; the connection counts the delivery when it reaches the socket.</summary>
    Queued,

    /// <summary>Not sent: the connection has delivered this position of its stream already.</summary>
    Duplicate,
}

/// <summary>One open client connection; it joins the registry once it has authenticated as a user.</summary>
internal abstract class ClientConnection(string id, string userId, ClientTransport transport)
{
    public string Id { get; } = id;

    /// <summary>The user, set before the connection joins the registry and never changed after.</summary>
    public string UserId { get; protected set; } = userId;

    public ClientTransport Transport { get; } = transport;

    private readonly Lock _streamGate = new();
    private StreamCursors? _cursors;

    /// <summary>Fetches what a gap in a stream misses; set when the connection joins the registry.</summary>
    public StreamRecovery? Recovery { get; set; }

    /// <summary>
    /// Hands a message to the connection without waiting for the network. A message of a stream that keeps history
    /// goes through the connection's stream cursors first: sent when it is the stream's next, dropped when the
    /// connection has it already, held while a recovery or a gap fill of its stream runs.
    /// </summary>
    public SendResult TrySend(PushMessage message)
    {
        if (message.Position is null)
        {
            return Send(message);
        }

        lock (_streamGate)
        {
            _cursors ??= new StreamCursors();
            switch (_cursors.Admit(message, out var fillFrom))
            {
                case Admission.Deliver:
                    return Send(message);
                case Admission.Duplicate:
                    return SendResult.Duplicate;
                default:
                    if (Outbound is { } queue && _cursors.HeldCount(StreamCursors.StreamOf(message)) > queue.Bound)
                    {
                        // Held messages wait for this connection as queued ones do, under the same bound.
                        queue.CloseAsSlowConsumer();
                        return SendResult.Refused;
                    }

                    if (fillFrom is { } from)
                    {
                        if (Recovery is null)
                        {
                            // Nothing can fetch the gap: the stream goes on from this message.
                            foreach (var held in _cursors.Release(StreamCursors.StreamOf(message), null, [], out _))
                            {
                                Send(held);
                            }

                            return SendResult.Queued;
                        }

                        Recovery.FillGap(this, StreamCursors.StreamOf(message), from);
                    }

                    return SendResult.Queued;
            }
        }
    }

    /// <summary>Writes or queues a message for the transport, in the order of the calls.</summary>
    protected abstract SendResult Send(PushMessage message);

    /// <summary>
    /// Holds the live messages of these streams until each is released (before a recovery; before the connection
    /// registers). <paramref name="positions"/>, those the client gave, stay in its position token meanwhile.
    /// </summary>
    public void Hold(IEnumerable<string> streams, IReadOnlyDictionary<string, StreamPosition>? positions = null)
    {
        lock (_streamGate)
        {
            _cursors ??= new StreamCursors();
            foreach (var stream in streams)
            {
                _cursors.Hold(stream, positions is not null && positions.TryGetValue(stream, out var from) ? from : null);
            }
        }
    }

    /// <summary>
    /// Ends the hold of a stream: sends, from <paramref name="from"/>, the fetched messages and the held ones in order
    /// and once. Returns how many went out and, when held messages still miss some before them, where to fill from.
    /// Without <paramref name="from"/>, <paramref name="start"/> is the stream's place in the position token until a
    /// message gives it one (see <see cref="StreamCursors.Release"/>).
    /// </summary>
    public (int Sent, List<PushMessage> Written, StreamPosition? FillFrom) Release(
        string stream, StreamPosition? from, IEnumerable<PushMessage> fetched, StreamPosition? start = null)
    {
        lock (_streamGate)
        {
            var send = _cursors!.Release(stream, from, fetched, out var fillFrom, start);
            var written = new List<PushMessage>();
            foreach (var message in send)
            {
                if (Send(message) == SendResult.Written)
                {
                    // Queued ones are counted by their queue once written; these are the caller's to count.
                    written.Add(message);
                }
            }

            return (send.Count, written, fillFrom);
        }
    }

    /// <summary>
    /// <see cref="Release"/> for many fetched messages (a recovery): sent in parts of at most half the queue's bound,
    /// each once the transport has taken the queue down to half, so that a recovery larger than
    /// <c>options.maxQueuedMessagesPerConnection</c> reaches a client that reads, while one that does not read is
    /// still closed as a slow consumer (its live messages, held meanwhile, count against the bound too).
    /// </summary>
    public async Task<(int Sent, List<PushMessage> Written, StreamPosition? FillFrom)> ReleaseAsync(
        string stream, StreamPosition from, IReadOnlyList<PushMessage> fetched, CancellationToken cancellationToken)
    {
        var sent = 0;
        var written = new List<PushMessage>();
        var rest = fetched;
        while (Outbound is { } queue && !queue.Closed)
        {
            var half = Math.Max(1, queue.Bound / 2);
            lock (_streamGate)
            {
                var room = half - queue.Count;
                if (rest.Count <= room)
                {
                    break;
                }

                if (room > 0)
                {
                    foreach (var message in _cursors!.Feed(stream, from, rest.Take(room)))
                    {
                        sent++;
                        if (Send(message) == SendResult.Written)
                        {
                            written.Add(message);
                        }
                    }

                    rest = [.. rest.Skip(room)];
                    from = _cursors.PositionOf(stream) ?? from;
                }
            }

            await queue.TakenDownToAsync(half / 2, cancellationToken).ConfigureAwait(false);
        }

        var last = Release(stream, from, rest);
        written.AddRange(last.Written);
        return (sent + last.Sent, written, last.FillFrom);
    }

    /// <summary>The queue of what waits for the transport, which a large recovery paces itself by; null without one.</summary>
    protected virtual OutboundQueue? Outbound => null;

    /// <summary>
    /// Ends the hold of a stream the client gave no position for (see <see cref="StreamRecovery"/>): every held
    /// message goes out, after the one a live message reached before the hold (the connection registered before it
    /// learnt its user's channels), so that none goes out twice; <paramref name="top"/> stands for the stream in the
    /// position token until a message does.
    /// </summary>
    public (int Sent, List<PushMessage> Written, StreamPosition? FillFrom) Start(string stream, StreamPosition top)
    {
        lock (_streamGate)
        {
            return Release(stream, _cursors!.PositionOf(stream), [], top);
        }
    }

    /// <summary>
    /// The positions the connection reached with <paramref name="sending"/>, as a token (see <see cref="StreamCursors.Token"/>);
    /// empty without history. Called from <see cref="Send"/>, under the stream lock.
    /// </summary>
    protected string PositionsToken(PushMessage sending)
    {
        lock (_streamGate)
        {
            return _cursors?.Token(sending) ?? "";
        }
    }

    /// <summary>Closes the connection from the server side (user.remove, shutdown, a slow consumer).</summary>
    /// <param name="reason">Why, for the log and for clients that can show it.</param>
    /// <param name="allowReconnect">Whether the client should reconnect: yes when the node stops, no when the user was removed.</param>
    public abstract void Abort(string reason, bool allowReconnect);
}
