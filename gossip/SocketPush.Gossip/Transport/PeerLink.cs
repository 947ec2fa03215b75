using System.Net;
using LiteNetLib;

namespace SocketPush.Gossip.Transport;

/// <summary>What <see cref="PeerLink.Offer"/> decided for one message.</summary>
internal enum LinkOffer
{
    /// <summary>Connected and nothing waits: the caller sends on the returned peer.</summary>
    SendNow,

    /// <summary>Queued behind a connection attempt (or a flush) already under way.</summary>
    Queued,

    /// <summary>Queued; the caller must start the connection attempt with the returned number.</summary>
    Connect,

    /// <summary>Too many bytes already wait for this connection.</summary>
    Refused,

    /// <summary>The link failed meanwhile and left the table; the caller takes a fresh one.</summary>
    Gone,
}

/// <summary>
/// The connection to one peer endpoint and what waits for it, shared by the gossip loop and any
/// thread that sends data. All fields change under <c>_gate</c>; nothing in here touches the
/// socket, so the lock is never held across a send or a connect. Callers do those with what a
/// method returned, after the lock is released.
/// </summary>
internal sealed class PeerLink
{
    /// <summary>Gossip requests kept per peer while it connects; a peer that never answers must not pile up state.</summary>
    private const int MaxWaitingGossip = 16;

    private readonly Lock _gate = new();
    private readonly Queue<byte[]> _gossip = new();
    private readonly Queue<byte[]> _data = new();
    private long _dataBytes;
    private State _state;
    private NetPeer? _peer;

    /// <summary>
    /// The connection whose flush is under way. While set, new messages queue behind the flush,
    /// or they could overtake the messages that waited before them.
    /// </summary>
    private NetPeer? _flushing;

    private int _attempt;
    private long _connectingSince;
    private bool _removed;

    public PeerLink(IPEndPoint key)
    {
        Key = key;

        // A second copy goes to callers: IPEndPoint is mutable, and the table's key must not change.
        EndPoint = new IPEndPoint(key.Address, key.Port);
    }

    private enum State
    {
        Idle,
        Connecting,
        Connected,
    }

    /// <summary>
    /// Held while a message is sealed and handed to this link, so that messages leave in the order
    /// of their counters. Apart from <c>_gate</c>: it is held across a send, never across a connect.
    /// </summary>
    public Lock SendOrder { get; } = new();

    /// <summary>The key of this link in the transport's table; never handed out.</summary>
    public IPEndPoint Key { get; }

    /// <summary>The peer's endpoint as callers see it in events.</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>
    /// Decides where a message goes. A connect attempt that has run for
    /// <paramref name="stuckAfter"/> without any outcome from LiteNetLib is started again, so that
    /// a lost event cannot block this peer for good.
    /// </summary>
    public LinkOffer Offer(byte channel, byte[] wire, long maxDataBytes, long now, long stuckAfter, out NetPeer? peer, out int attempt)
    {
        peer = null;
        attempt = 0;
        lock (_gate)
        {
            if (_removed)
            {
                return LinkOffer.Gone;
            }

            if (_state == State.Connected && _flushing is null)
            {
                peer = _peer;
                return LinkOffer.SendNow;
            }

            if (!Enqueue(channel, wire, maxDataBytes))
            {
                return LinkOffer.Refused;
            }

            if (_state == State.Connecting && now - _connectingSince > stuckAfter)
            {
                _state = State.Idle;
            }

            if (_state != State.Idle)
            {
                return LinkOffer.Queued;
            }

            _state = State.Connecting;
            _connectingSince = now;
            _peer = null;
            attempt = ++_attempt;
            return LinkOffer.Connect;
        }
    }

    /// <summary>
    /// Records the peer LiteNetLib created for attempt <paramref name="attempt"/>, unless an event
    /// already settled it. Null means the remote's own request is being answered; its connect
    /// event will follow.
    /// </summary>
    public void Attach(int attempt, NetPeer? peer)
    {
        lock (_gate)
        {
            if (!_removed && _attempt == attempt && _state == State.Connecting)
            {
                _peer = peer;
            }
        }
    }

    /// <summary>
    /// A connection to this endpoint is up (ours or the remote's). Returns false when the link
    /// left the table meanwhile; <paramref name="mustFlush"/> says the caller must flush what waited.
    /// </summary>
    public bool Connected(NetPeer peer, out bool mustFlush)
    {
        mustFlush = false;
        lock (_gate)
        {
            if (_removed)
            {
                return false;
            }

            _peer = peer;
            _state = State.Connected;

            // Taking over from a flush of an older connection stops that one: it sees it is no longer the flusher.
            _flushing = _gossip.Count + _data.Count > 0 ? peer : null;
            mustFlush = _flushing is not null;
            return true;
        }
    }

    /// <summary>
    /// Takes everything queued, for the flush of <paramref name="peer"/>. Returns false, and ends
    /// the flush, when nothing is left or another connection took over.
    /// </summary>
    public bool TakeQueued(NetPeer peer, out byte[][] gossip, out byte[][] data)
    {
        gossip = data = [];
        lock (_gate)
        {
            if (!ReferenceEquals(_flushing, peer))
            {
                return false;
            }

            if (_gossip.Count + _data.Count == 0)
            {
                _flushing = null;
                return false;
            }

            gossip = _gossip.ToArray();
            data = _data.ToArray();
            _gossip.Clear();
            _data.Clear();
            _dataBytes = 0;
            return true;
        }
    }

    /// <summary>
    /// LiteNetLib ended <paramref name="peer"/>. Returns true when that ends this link: what waited
    /// is dropped and the caller removes the link and reports the loss. Late events of an older
    /// connection change nothing, and a simultaneous connect that lost to the remote's (both sides
    /// connected at once) keeps the queue for the remote's connection.
    /// </summary>
    public bool Lost(NetPeer peer, DisconnectReason reason, long now)
    {
        lock (_gate)
        {
            if (_removed || (_peer is not null && !ReferenceEquals(_peer, peer)) || (_peer is null && _state != State.Connecting))
            {
                return false;
            }

            if (reason == DisconnectReason.PeerToPeerConnection)
            {
                _peer = null;
                _state = State.Connecting;
                _connectingSince = now;
                return false;
            }

            return Remove();
        }
    }

    /// <summary>
    /// The remote's own connection request was refused. If this link waits for exactly that
    /// (its connect call found the remote's request pending), it fails now instead of at the stuck limit.
    /// </summary>
    public bool Refused()
    {
        lock (_gate)
        {
            return !_removed && _state == State.Connecting && _peer is null && Remove();
        }
    }

    private bool Remove()
    {
        _removed = true;
        _state = State.Idle;
        _peer = null;
        _flushing = null;
        _gossip.Clear();
        _data.Clear();
        _dataBytes = 0;
        return true;
    }

    private bool Enqueue(byte channel, byte[] wire, long maxDataBytes)
    {
        if (channel == LiteNetTransport.GossipChannel)
        {
            if (_gossip.Count >= MaxWaitingGossip)
            {
                _gossip.Dequeue();
            }

            _gossip.Enqueue(wire);
            return true;
        }

        // One message always fits, so that a payload larger than the bound can still wait for a connection.
        if (_data.Count > 0 && _dataBytes + wire.Length > maxDataBytes)
        {
            return false;
        }

        _data.Enqueue(wire);
        _dataBytes += wire.Length;
        return true;
    }
}
