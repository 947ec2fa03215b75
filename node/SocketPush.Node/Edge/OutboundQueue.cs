using SocketPush.Node.Configuration;

namespace SocketPush.Node.Edge;

/// <summary>
/// What the outbound queues of every connection share: the live bound (a reload applies to the next message), the
/// metrics, the clock and the log.
/// </summary>
internal sealed class OutboundQueues(LiveConfig config, EdgeMetrics metrics, TimeProvider time, ILogger<OutboundQueue> logger)
{
    public const string SlowConsumerReason = "its send queue is full (slow consumer)";

    /// <summary><c>options.maxQueuedMessagesPerConnection</c>, read at every enqueue.</summary>
    public int Bound => config.Options.MaxQueuedMessagesPerConnection;

    public EdgeMetrics Metrics { get; } = metrics;

    public TimeProvider Time { get; } = time;

    public ILogger Logger { get; } = logger;
}

/// <summary>
/// The messages one connection has taken but not yet written, on any transport. It holds at most
/// <c>options.maxQueuedMessagesPerConnection</c>; one more closes the connection as a slow consumer: the queue is
/// emptied and ends, the close is counted and logged once, and the transport is stopped at once (a full queue
/// means nothing more, not even a close message, would reach the client in time). The transport's writer takes
/// everything queued in one batch, writes it, and hands the batch back to <see cref="Sent"/>, which counts the
/// deliveries. Publishers never wait: enqueueing only takes <paramref name="gate"/> for a moment.
/// </summary>
/// <param name="owner">The connection, for the log line.</param>
/// <param name="gate">
/// The connection's send lock, also held by the connection around its own writes so that bytes keep their order;
/// entered again here (<see cref="Lock"/> is reentrant), so callers may hold it or not.
/// </param>
/// <param name="shared">The bound, metrics, clock and log of every queue.</param>
/// <param name="stopTransport">Cuts the connection when it is closed as a slow consumer; may run under <paramref name="gate"/>.</param>
internal sealed class OutboundQueue(ClientConnection owner, Lock gate, OutboundQueues shared, Action stopTransport)
{
    private Queue<Outgoing>? _items;
    private TaskCompletionSource? _signal;
    private TaskCompletionSource? _taken;
    private volatile bool _closed;

    /// <summary><c>options.maxQueuedMessagesPerConnection</c> now.</summary>
    public int Bound => shared.Bound;

    /// <summary>Nothing more is taken: closed, or closed as a slow consumer. What is queued may still be taken.</summary>
    public bool Closed => _closed;

    /// <summary>Messages waiting.</summary>
    public int Count
    {
        get
        {
            lock (gate)
            {
                return _items?.Count ?? 0;
            }
        }
    }

    /// <summary>
    /// Queues bytes for the client, with the published message they carry (counted as delivered once written), if
    /// any. Refused once closed, and when the queue is full, which closes the connection as a slow consumer.
    /// </summary>
    public SendResult Enqueue(ReadOnlyMemory<byte> bytes, PushMessage? message)
    {
        lock (gate)
        {
            if (_closed)
            {
                return SendResult.Refused;
            }

            var items = _items ??= new Queue<Outgoing>();
            if (items.Count >= shared.Bound)
            {
                CloseAsSlowConsumerLocked();
                return SendResult.Refused;
            }

            items.Enqueue(new Outgoing(bytes, message));
            WakeLocked();
            return SendResult.Queued;
        }
    }

    /// <summary>Takes nothing more; what is queued may still be taken. Returns false when it was closed already.</summary>
    public bool Close()
    {
        lock (gate)
        {
            if (_closed)
            {
                return false;
            }

            _closed = true;
            WakeLocked();
            return true;
        }
    }

    /// <summary>Closes and drops what is queued: the client will not read it (it went away, or the socket failed).</summary>
    public void Discard()
    {
        lock (gate)
        {
            _items?.Clear();
            _closed = true;
            WakeLocked();
        }
    }

    /// <summary>Everything queued, oldest first; an empty batch once closed with nothing left; null when there is nothing yet.</summary>
    public Outgoing[]? TryTakeAll()
    {
        lock (gate)
        {
            if (_items is { Count: > 0 } items)
            {
                var batch = items.ToArray();
                items.Clear();
                WakeTakenLocked();
                return batch;
            }

            return _closed ? [] : null;
        }
    }

    /// <summary>
    /// Moves everything queued, oldest first, to the end of <paramref name="batch"/> (a writer's own list, reused
    /// from batch to batch so that taking allocates nothing) and returns how many; 0 when nothing is queued.
    /// </summary>
    public int MoveTo(List<Outgoing> batch)
    {
        lock (gate)
        {
            var count = _items?.Count ?? 0;
            while (_items is { Count: > 0 } items)
            {
                batch.Add(items.Dequeue());
            }

            if (count > 0)
            {
                WakeTakenLocked();
            }

            return count;
        }
    }

    /// <summary>
    /// Waits until something is queued or the queue closes, then takes everything (see <see cref="TryTakeAll"/>).
    /// Returns null when <paramref name="timeout"/> passed first.
    /// </summary>
    public async Task<Outgoing[]?> TakeAsync(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        Task signal;
        lock (gate)
        {
            if (TryTakeAll() is { } ready)
            {
                return ready;
            }

            signal = (_signal ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }

        try
        {
            await (timeout is { } limit ? signal.WaitAsync(limit, shared.Time, cancellationToken) : signal.WaitAsync(cancellationToken));
        }
        catch (TimeoutException)
        {
            return null;
        }

        // Signalled: something was queued or the queue closed (and may have been emptied since, by a discard).
        return TryTakeAll() ?? [];
    }

    /// <summary>
    /// Completes once at most <paramref name="count"/> messages wait, or the queue closed: a sender of many messages
    /// at once (a recovery) sends them in parts, each when the transport has taken the one before.
    /// </summary>
    public Task TakenDownToAsync(int count, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            if (_closed || (_items?.Count ?? 0) <= count)
            {
                return Task.CompletedTask;
            }

            return (_taken ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Closes the connection as a slow consumer (see the class), unless it is closed already.</summary>
    public void CloseAsSlowConsumer()
    {
        lock (gate)
        {
            if (!_closed)
            {
                _items ??= new Queue<Outgoing>();
                CloseAsSlowConsumerLocked();
            }
        }
    }

    /// <summary>Counts the published messages of a batch the transport has written as delivered, with their latency.</summary>
    public void Sent(ReadOnlySpan<Outgoing> batch)
    {
        foreach (var item in batch)
        {
            if (item.Message is { } message)
            {
                shared.Metrics.Delivered(message, 1, shared.Time);
            }
        }
    }

    private void CloseAsSlowConsumerLocked()
    {
        _items!.Clear();
        _closed = true;
        WakeLocked();
        shared.Metrics.SlowConsumerClosed();
        ClientLog.Closed(shared.Logger, owner.Id, owner.UserId, OutboundQueues.SlowConsumerReason);
        stopTransport();
    }

    private void WakeLocked()
    {
        _signal?.TrySetResult();
        _signal = null;
        if (_closed)
        {
            WakeTakenLocked();
        }
    }

    private void WakeTakenLocked()
    {
        _taken?.TrySetResult();
        _taken = null;
    }
}

/// <summary>Bytes waiting for the client, with the published message they carry, if any.</summary>
internal readonly record struct Outgoing(ReadOnlyMemory<byte> Bytes, PushMessage? Message);
