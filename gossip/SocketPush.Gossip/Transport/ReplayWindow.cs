namespace SocketPush.Gossip.Transport;

/// <summary>
/// Anti-replay window of one sender for one purpose, as IPsec and DTLS keep it: the highest counter
/// accepted and a bitmap of the <see cref="Size"/> counters below it. A counter is accepted once;
/// one at or below <c>highest − Size</c> is refused as too old, because it can no longer be told
/// from a replay. Checked only after the payload authenticated, so a forger cannot move it.
/// </summary>
internal sealed class ReplayWindow
{
    /// <summary>How far behind the highest counter a payload may arrive (reordered UDP, a queued reliable message).</summary>
    public const int Size = 1024;

    private readonly ulong[] _seen = new ulong[Size / 64];
    private ulong _highest;
    private bool _any;

    /// <summary>Whether <paramref name="counter"/> is new; records it when it is.</summary>
    public bool Accept(ulong counter)
    {
        if (!_any || counter > _highest)
        {
            Advance(counter);
            return true;
        }

        var behind = _highest - counter;
        if (behind >= Size)
        {
            return false;
        }

        ref var word = ref _seen[(int)(counter % Size) / 64];
        var bit = 1UL << (int)(counter % 64);
        if ((word & bit) != 0)
        {
            return false;
        }

        word |= bit;
        return true;
    }

    /// <summary>Slides the window up to <paramref name="counter"/>: the slots it passes over are free again.</summary>
    private void Advance(ulong counter)
    {
        if (!_any || counter - _highest >= Size)
        {
            Array.Clear(_seen);
        }
        else
        {
            // A word at a time: the counters between two payloads of one sender are those it sent to others.
            for (var c = _highest + 1; c < counter;)
            {
                var bit = (int)(c % 64);
                var run = (int)Math.Min((ulong)(64 - bit), counter - c);
                var mask = run == 64 ? ulong.MaxValue : ((1UL << run) - 1) << bit;
                _seen[(int)(c % Size) / 64] &= ~mask;
                c += (ulong)run;
            }
        }

        _seen[(int)(counter % Size) / 64] |= 1UL << (int)(counter % 64);
        _highest = counter;
        _any = true;
    }
}

/// <summary>
/// The replay windows of every sender heard from, one per (sender, purpose). Only authenticated
/// payloads create one, so only members holding the secret take room; a member declared dead or
/// left is forgotten, and beyond <see cref="MaxSenders"/> the one heard from longest ago goes.
/// Thread-safe: the gossip loop and LiteNetLib's receive thread both check here.
/// </summary>
internal sealed class ReplayGuard
{
    public const int MaxSenders = 16_384;

    private readonly Dictionary<ulong, SenderWindows> _senders = [];
    private readonly Lock _lock = new();
    private long _uses;

    /// <summary>Whether the payload <paramref name="counter"/> from <paramref name="sender"/> was not seen before and is not too old.</summary>
    public bool Accept(ulong sender, SealPurpose purpose, ulong counter)
    {
        lock (_lock)
        {
            if (!_senders.TryGetValue(sender, out var windows))
            {
                if (_senders.Count >= MaxSenders)
                {
                    EvictOldest();
                }

                windows = new SenderWindows();
                _senders[sender] = windows;
            }

            windows.LastUse = ++_uses;
            var index = (int)purpose;
            var window = windows.ByPurpose[index] ??= new ReplayWindow();
            return window.Accept(counter);
        }
    }

    /// <summary>Drops what is kept about a sender (declared dead or left); a new life of it starts afresh.</summary>
    public void Forget(ulong sender)
    {
        lock (_lock)
        {
            _senders.Remove(sender);
        }
    }

    /// <summary>Senders with windows; for tests of the bound.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _senders.Count;
            }
        }
    }

    private void EvictOldest()
    {
        var oldest = _senders.MinBy(s => s.Value.LastUse).Key;
        _senders.Remove(oldest);
    }

    private sealed class SenderWindows
    {
        public ReplayWindow?[] ByPurpose { get; } = new ReplayWindow?[5];

        public long LastUse { get; set; }
    }
}
