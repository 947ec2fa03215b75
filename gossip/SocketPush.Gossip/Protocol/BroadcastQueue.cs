namespace SocketPush.Gossip.Protocol;

/// <summary>
/// Updates waiting to be piggybacked. A newer update about a member replaces the older one; the
/// least transmitted go first, newest first among equals; each leaves after its retransmit limit.
/// </summary>
/// <remarks>
/// Entries sit in one stack per transmit count, so taking k updates costs O(k) however many wait.
/// After a healed partition a member may hold an update for most of the cluster, and sorting the
/// whole queue for every datagram would make that quadratic. A replaced entry is only marked,
/// and is dropped when it comes up.
/// </remarks>
internal sealed class BroadcastQueue
{
    private readonly List<Stack<Entry>> _byTransmits = [];
    private readonly Dictionary<string, Entry> _byName = new(StringComparer.Ordinal);
    private readonly List<Entry> _moved = [];

    public int Count => _byName.Count;

    /// <summary>
    /// Raised when an entry leaves the queue: with <c>true</c> when it was sent its retransmit limit of times, with
    /// <c>false</c> when a newer update about the same member replaced it before that.
    /// </summary>
    public Action<string, bool>? Finished { get; set; }

    public void Enqueue(string name, byte[] encoded)
    {
        if (_byName.Remove(name, out var old))
        {
            old.Replaced = true;
            Finished?.Invoke(name, false);
        }

        var entry = new Entry(name, encoded);
        _byName[name] = entry;
        Bucket(0).Push(entry);
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>Takes as many updates as fit in <paramref name="budget"/> bytes, counting one transmission each.</summary>
    public void Take(int budget, int transmitLimit, List<byte[]> taken)
    {
        taken.Clear();
        _moved.Clear();
        for (var transmits = 0; transmits < _byTransmits.Count && budget > 0 && _byName.Count > 0; transmits++)
        {
            var stack = _byTransmits[transmits];
            while (stack.TryPeek(out var entry))
            {
                if (entry.Replaced)
                {
                    stack.Pop();
                    continue;
                }

                if (entry.Encoded.Length > budget)
                {
                    break;
                }

                stack.Pop();
                budget -= entry.Encoded.Length;
                taken.Add(entry.Encoded);
                entry.Transmits++;
                if (entry.Transmits >= transmitLimit)
                {
                    _byName.Remove(entry.Name);
                    Finished?.Invoke(entry.Name, true);
                }
                else
                {
                    _moved.Add(entry);
                }
            }
        }

        // Moved after the pass, so one datagram never carries the same update twice.
        foreach (var entry in _moved)
        {
            Bucket(entry.Transmits).Push(entry);
        }
    }

    private Stack<Entry> Bucket(int transmits)
    {
        while (_byTransmits.Count <= transmits)
        {
            _byTransmits.Add(new Stack<Entry>());
        }

        return _byTransmits[transmits];
    }

    private sealed class Entry(string name, byte[] encoded)
    {
        public string Name { get; } = name;

        public byte[] Encoded { get; } = encoded;

        public int Transmits { get; set; }

        public bool Replaced { get; set; }
    }
}
