namespace SocketPush.Gossip.Simulation;

internal enum SimEventKind : byte
{
    Timer,
    Datagram,
    PushPullRequest,
    PushPullReply,
    FallbackPing,
    FallbackAck,
    Crash,
    Restart,
    UpdateMetadata,
    Partition,
    Heal,
    Sample,
}

internal struct SimEvent
{
    public long Time;
    public long Order;
    public SimEventKind Kind;
    public int Node;
    public int From;
    public int Generation;
    public int Length;
    public byte[]? Buffer;
    public object? Payload;
}

/// <summary>
/// A binary min-heap of events by (time, insertion order): ties resolve the same way on every run,
/// which is what makes one seed replay exactly.
/// </summary>
internal sealed class EventQueue
{
    private SimEvent[] _heap = new SimEvent[1024];
    private long _order;

    public int Count { get; private set; }

    public void Push(SimEvent item)
    {
        item.Order = _order++;
        if (Count == _heap.Length)
        {
            Array.Resize(ref _heap, _heap.Length * 2);
        }

        var i = Count++;
        while (i > 0)
        {
            var parent = (i - 1) >> 1;
            if (!Less(item, _heap[parent]))
            {
                break;
            }

            _heap[i] = _heap[parent];
            i = parent;
        }

        _heap[i] = item;
    }

    public SimEvent Pop()
    {
        var top = _heap[0];
        var last = _heap[--Count];
        _heap[Count] = default;
        if (Count > 0)
        {
            var i = 0;
            while (true)
            {
                var child = (2 * i) + 1;
                if (child >= Count)
                {
                    break;
                }

                if (child + 1 < Count && Less(_heap[child + 1], _heap[child]))
                {
                    child++;
                }

                if (!Less(_heap[child], last))
                {
                    break;
                }

                _heap[i] = _heap[child];
                i = child;
            }

            _heap[i] = last;
        }

        return top;
    }

    public long PeekTime => _heap[0].Time;

    private static bool Less(in SimEvent a, in SimEvent b) => a.Time < b.Time || (a.Time == b.Time && a.Order < b.Order);
}
