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
