namespace SocketPush.Gossip.Protocol;

/// <summary>
/// Updates waiting to be piggybacked. A newer update about a member replaces the older one; the
/// least transmitted (then the newest) go first; each is dropped after its retransmit limit.
/// </summary>
internal sealed class BroadcastQueue
{
    private readonly List<Entry> _entries = [];
    private readonly Dictionary<string, Entry> _byName = new(StringComparer.Ordinal);
    private long _nextId;
    private bool _sorted = true;

    public int Count => _entries.Count;

    /// <summary>Raised when an entry leaves the queue, sent out or replaced.</summary>
    public Action<string>? Finished { get; set; }

    public void Enqueue(string name, byte[] encoded)
    {
        if (_byName.Remove(name, out var old))
        {
            _entries.Remove(old);
            Finished?.Invoke(name);
        }

        var entry = new Entry(name, encoded, _nextId++);
        _byName[name] = entry;
        _entries.Add(entry);
        _sorted = false;
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>Takes as many updates as fit in <paramref name="budget"/> bytes, counting one transmission each.</summary>
    public void Take(int budget, int transmitLimit, List<byte[]> taken)
    {
        taken.Clear();
        if (_entries.Count == 0)
        {
            return;
        }

        if (!_sorted)
        {
            _entries.Sort(static (a, b) => a.Transmits != b.Transmits ? a.Transmits.CompareTo(b.Transmits) : b.Id.CompareTo(a.Id));
            _sorted = true;
        }

        var removed = false;
        for (var i = 0; i < _entries.Count && budget > 0; i++)
        {
            var entry = _entries[i];
            if (entry.Encoded.Length > budget)
            {
                continue;
            }

            budget -= entry.Encoded.Length;
            taken.Add(entry.Encoded);
            entry.Transmits++;
            _sorted = false;
            if (entry.Transmits >= transmitLimit)
            {
                entry.Done = true;
                removed = true;
            }
        }

        if (removed)
        {
            _entries.RemoveAll(e =>
            {
                if (!e.Done)
                {
                    return false;
                }

                _byName.Remove(e.Name);
                Finished?.Invoke(e.Name);
                return true;
            });
        }
    }

    private sealed class Entry(string name, byte[] encoded, long id)
    {
        public string Name { get; } = name;

        public byte[] Encoded { get; } = encoded;

        public long Id { get; } = id;

        public int Transmits { get; set; }

        public bool Done { get; set; }
    }
}
