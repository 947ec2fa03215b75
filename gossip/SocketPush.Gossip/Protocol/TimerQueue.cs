namespace SocketPush.Gossip.Protocol;

internal enum TimerKind : byte
{
    Probe,
    ProbeTimeout,
    Gossip,
    PushPull,
    Reconnect,
    JoinRetry,
    Suspicion,
    RelayNack,
    PendingExpiry,
    Reap,
}

internal readonly record struct TimerEntry(TimerKind Kind, uint Seq, string? Name, int Generation);

/// <summary>
/// Due times in ticks since the core started. Cancelled timers are not removed: their handler
/// checks a sequence number or generation and ignores what is stale. Ties fire in scheduling order.
/// </summary>
internal sealed class TimerQueue
{
    private readonly PriorityQueue<TimerEntry, (long Due, long Order)> _queue = new();
    private long _order;

    public int Count => _queue.Count;

    public void Schedule(long due, TimerEntry entry) => _queue.Enqueue(entry, (due, _order++));

    public bool TryPeekDue(out long due)
    {
        if (_queue.TryPeek(out _, out var priority))
        {
            due = priority.Due;
            return true;
        }

        due = 0;
        return false;
    }

    public bool TryPeek(out TimerEntry entry) => _queue.TryPeek(out entry, out _);

    public void DropFirst() => _queue.Dequeue();

    public bool TryDequeueDue(long now, out TimerEntry entry, out long due)
    {
        if (_queue.TryPeek(out entry, out var priority) && priority.Due <= now)
        {
            _queue.Dequeue();
            due = priority.Due;
            return true;
        }

        due = 0;
        return false;
    }
}
