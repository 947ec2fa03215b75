namespace SocketPush.Node.Edge.HubServer;

/// <summary>
/// A hub client over one of SignalR's HTTP transports (Server-Sent Events, long polling): the server's messages wait
/// in a bounded queue until the transport's response takes them; the client's come as <c>POST /push?id=</c> bodies.
/// A client that lets <c>maxQueuedMessagesPerConnection</c> messages pile up is closed as a slow consumer.
/// (<see cref="UpgradedWebSocketHubSession"/> uses the queue too, without token or POSTs.)
/// </summary>
internal abstract class HttpHubSession : HubSession
{
    private readonly OutboundQueue _queue;

    protected override OutboundQueue Outbound => _queue;
    private long _endedAt;
    private int _receiving;

    protected HttpHubSession(string connectionId, string token, ClientTransport transport, HubSessions sessions, string? userId, string? sessionId)
        : base(connectionId, transport, sessions, userId, sessionId)
    {
        Token = token;
        _queue = new OutboundQueue(this, SendGate, sessions.Queues, OnSlowConsumer);
    }

    /// <summary>The secret the client names the session with (<c>id</c> in the query).</summary>
    public string Token { get; }

    /// <summary>The session is over: nothing more is queued; what is queued may still go out.</summary>
    public bool Ended => _queue.Closed;

    protected override SendResult Send(PushMessage message)
    {
        SendResult result;
        lock (SendGate)
        {
            result = _queue.Enqueue(message.HubBytes(Format), message);
        }

        if (result == SendResult.Refused && Ended)
        {
            OnTransportClosed();
        }

        return result;
    }

    /// <summary>Takes one <c>POST</c> body, message by message, and says what became of it.</summary>
    public async Task<PostOutcome> ReceiveBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        // The official clients send one body at a time; two at once would interleave their bytes.
        if (Interlocked.CompareExchange(ref _receiving, 1, 0) != 0)
        {
            return PostOutcome.Busy;
        }

        try
        {
            var body = request.BodyReader;
            while (!Ended)
            {
                var read = await body.ReadAsync(cancellationToken);
                var open = true;
                foreach (var segment in read.Buffer)
                {
                    if (open && !await ReceiveAsync(segment, cancellationToken))
                    {
                        EndTransport();
                        open = false;
                    }
                }

                // Always handed back, even when the rest is ignored: the server drains the body after the answer.
                body.AdvanceTo(read.Buffer.End);
                if (!open)
                {
                    return ProtocolError is null ? PostOutcome.Ended : PostOutcome.Malformed;
                }

                if (read.IsCompleted)
                {
                    return PostOutcome.Taken;
                }
            }

            return PostOutcome.Ended;
        }
        finally
        {
            Volatile.Write(ref _receiving, 0);
            if (Ended)
            {
                // Authenticate may have registered the connection while the session ended elsewhere.
                OnTransportClosed();
            }
        }
    }

    /// <summary>The client went away or ended the session itself: no close message, nothing more to send.</summary>
    public void Discard()
    {
        _queue.Discard();
        EndTransport();
    }

    /// <summary>Whether the session ended at least <paramref name="linger"/> before <paramref name="now"/>.</summary>
    public bool EndedLongAgo(long now, TimeSpan linger) =>
        Ended && Interlocked.Read(ref _endedAt) is var endedAt and not 0 && Sessions.Time.GetElapsedTime(endedAt, now) >= linger;

    protected override SendResult SendLocked(ReadOnlyMemory<byte> hubBytes) => _queue.Enqueue(hubBytes, null);

    protected override void EndTransport()
    {
        _queue.Close();
        NoteEnded();
        OnTransportClosed();
    }

    /// <summary>
    /// Waits until messages are queued or the session ends, then takes every queued message. Returns null when
    /// <paramref name="timeout"/> passed first; an empty batch means the session has ended and nothing is left.
    /// </summary>
    protected Task<Outgoing[]?> TakeAsync(TimeSpan? timeout, CancellationToken cancellationToken) => _queue.TakeAsync(timeout, cancellationToken);

    /// <summary>Counts the user and channel messages of a batch as delivered once the transport has written them.</summary>
    protected void CountDelivered(Outgoing[] batch)
    {
        MarkSent();
        _queue.Sent(batch);
    }

    /// <summary>Called under <see cref="HubSession.SendGate"/> when a slow consumer is closed, to stop its transport at once.</summary>
    protected virtual void OnOverflowLocked()
    {
    }

    private void OnSlowConsumer()
    {
        NoteEnded();
        OnOverflowLocked();
    }

    private void NoteEnded() => Interlocked.CompareExchange(ref _endedAt, Sessions.Time.GetTimestamp(), 0);
}

/// <summary>What became of a <c>POST</c> body.</summary>
internal enum PostOutcome
{
    /// <summary>Read whole; the session goes on.</summary>
    Taken,

    /// <summary>Read; the session is over (the client closed it, or was refused).</summary>
    Ended,

    /// <summary>The body held a message the server could not read; the session is closed.</summary>
    Malformed,

    /// <summary>Another body of the same session was still being read.</summary>
    Busy,
}
