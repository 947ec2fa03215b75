using System.Net;
using Microsoft.Extensions.Logging;
using SocketPush.Gossip.Protocol;
using SocketPush.Gossip.Transport;

namespace SocketPush.Gossip;

/// <summary>A data-plane message from a member; <paramref name="payload"/> is valid only during the call.</summary>
public delegate void PeerMessageHandler(IPEndPoint from, ReadOnlySpan<byte> payload);

/// <summary>
/// Reliable, ordered messages between members on the membership's UDP port, apart from gossip:
/// they share each peer's connection with push-pull but travel on a channel of their own, so
/// neither waits behind the other, and probes (unconnected datagrams) wait behind neither.
/// </summary>
/// <remarks>
/// With <see cref="GossipOptions.Secret"/>, every message is sealed under a purpose of its own,
/// so gossip cannot be replayed as data nor data as gossip. A message that does not open is
/// dropped and counted, never raised.
/// </remarks>
public sealed class PeerChannel
{
    /// <summary>
    /// Largest payload <see cref="Send(string, ReadOnlySpan{byte})"/> takes. LiteNetLib itself
    /// would fragment up to 65,535 × ~1 KB; the lower bound keeps one message from holding tens of
    /// megabytes in a peer's queue or in the receiver's reassembly.
    /// </summary>
    public const int MaxMessageBytes = 16 * 1024 * 1024;

    /// <summary>Data bytes allowed to wait for one peer's connection; what comes beyond is refused, not buffered.</summary>
    internal const int MaxPendingWhileConnecting = 4 * 1024 * 1024;

    /// <summary>First byte of every plain data-plane message, so a future layout is refused instead of misread.</summary>
    internal const byte WireVersion = 1;

    private readonly LiteNetTransport _transport;
    private readonly DatagramSealer _sealer;
    private readonly ILogger _logger;
    private long _messagesReceived;
    private long _bytesReceived;
    private long _droppedUnauthenticated;
    private long _droppedReplayed;
    private long _droppedMalformed;
    private long _sendRefused;
    private volatile bool _closed;

    internal PeerChannel(LiteNetTransport transport, DatagramSealer sealer, ILogger logger)
    {
        _transport = transport;
        _sealer = sealer;
        _logger = logger;
        transport.DataReceived = OnData;
        transport.LinkLost = OnLinkLost;
    }

    /// <summary>
    /// Raised for every message that opened under the secret, on LiteNetLib's receive thread: copy
    /// or queue it and return fast, the next message waits. The payload is valid only during the call.
    /// </summary>
    public event PeerMessageHandler? Received;

    /// <summary>
    /// Raised on LiteNetLib's thread when the connection to a peer is lost or refused, or an
    /// attempt to connect gave up after <see cref="GossipOptions.PeerConnectTimeout"/>; messages
    /// still waiting for it were dropped. Lets callers fail requests waiting on that peer at once.
    /// </summary>
    public event Action<IPEndPoint>? Disconnected;

    /// <summary>Totals for metrics.</summary>
    public PeerChannelCounters Counters
    {
        get
        {
            var (messages, bytes) = _transport.Sent(LiteNetTransport.DataChannel);
            return new PeerChannelCounters
            {
                MessagesSent = messages,
                BytesSent = bytes,
                MessagesReceived = Interlocked.Read(ref _messagesReceived),
                BytesReceived = Interlocked.Read(ref _bytesReceived),
                DroppedUnauthenticated = Interlocked.Read(ref _droppedUnauthenticated),
                DroppedReplayed = Interlocked.Read(ref _droppedReplayed),
                DroppedMalformed = Interlocked.Read(ref _droppedMalformed),
                SendRefused = Interlocked.Read(ref _sendRefused),
            };
        }
    }

    /// <summary>Wakes LiteNetLib on every send (the default); off only to measure what that saves.</summary>
    internal bool PromptSends
    {
        get => _transport.PromptSends;
        set => _transport.PromptSends = value;
    }

    /// <summary>
    /// Queues one message for the member at <paramref name="address"/> (<c>host:port</c>, its
    /// gossip address, IPv4 literal) and returns at once; connects first when needed. Thread-safe;
    /// never blocks on the network and never runs on or waits for the gossip loop.
    /// </summary>
    /// <returns>
    /// False (and counted in <see cref="PeerChannelCounters.SendRefused"/>) when the message cannot
    /// be queued: the address does not parse, the channel is closed, the payload exceeds
    /// <see cref="MaxMessageBytes"/>, or 4 MiB already wait for this peer's connection.
    /// True does not mean delivered: if the connection then fails, <see cref="Disconnected"/> says so.
    /// </returns>
    public bool Send(string address, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(address);
        return _transport.Resolve(address) is { } endPoint ? Send(endPoint, payload) : Refuse();
    }

    /// <summary>
    /// Same as <see cref="Send(string, ReadOnlySpan{byte})"/>, to an endpoint as raised by
    /// <see cref="Received"/>, to answer on the connection the message arrived on.
    /// </summary>
    public bool Send(IPEndPoint peer, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(peer);
        if (_closed || payload.Length > MaxMessageBytes || !LiteNetTransport.IsUsable(peer))
        {
            return Refuse();
        }

        try
        {
            return _transport.Send(peer, LiteNetTransport.DataChannel, WireVersion, payload, SealPurpose.Data, MaxPendingWhileConnecting) || Refuse();
        }
        catch (ObjectDisposedException)
        {
            // Disposed between the check above and the sealing.
            return Refuse();
        }
    }

    /// <summary>From now on every send is refused; called when the membership is disposed.</summary>
    internal void Close() => _closed = true;

    private bool Refuse()
    {
        Interlocked.Increment(ref _sendRefused);
        return false;
    }

    private void OnData(IPEndPoint from, ReadOnlySpan<byte> wire)
    {
        var reason = _sealer.OpenInPlace(wire, SealPurpose.Data, out var plain);
        if (reason == DropReason.None && (plain.IsEmpty || plain[0] != WireVersion))
        {
            reason = DropReason.Malformed;
        }

        if (reason != DropReason.None)
        {
            switch (reason)
            {
                case DropReason.Unauthenticated:
                    Interlocked.Increment(ref _droppedUnauthenticated);
                    break;
                case DropReason.Replayed:
                    Interlocked.Increment(ref _droppedReplayed);
                    break;
                default:
                    Interlocked.Increment(ref _droppedMalformed);
                    break;
            }

            GossipLog.DroppedPeerMessage(_logger, from, reason);
            return;
        }

        Interlocked.Increment(ref _messagesReceived);
        Interlocked.Add(ref _bytesReceived, wire.Length);
        if (_closed)
        {
            return;
        }

#pragma warning disable CA1031 // A subscriber's bug must not kill LiteNetLib's receive thread; it is logged.
        try
        {
            Received?.Invoke(from, plain[1..]);
        }
        catch (Exception e)
        {
            GossipLog.PeerHandlerFailed(_logger, nameof(Received), e);
        }
    }

    private void OnLinkLost(IPEndPoint peer)
    {
        GossipLog.PeerLost(_logger, peer);
        try
        {
            Disconnected?.Invoke(peer);
        }
        catch (Exception e)
        {
            GossipLog.PeerHandlerFailed(_logger, nameof(Disconnected), e);
        }
#pragma warning restore CA1031
    }
}
