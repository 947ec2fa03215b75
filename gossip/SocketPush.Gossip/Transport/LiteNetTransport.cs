using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using LiteNetLib;
using MemoryPack;
using Microsoft.Extensions.Logging;
using SocketPush.Gossip.Protocol;

namespace SocketPush.Gossip.Transport;

/// <summary>Something the LiteNetLib thread saw, handed to the member's loop.</summary>
internal abstract record TransportInput;

internal sealed record DatagramInput(IPEndPoint From, byte[] Data) : TransportInput;

internal sealed record ReliableInput(NetPeer Peer, byte[] Data) : TransportInput;

/// <summary>
/// One LiteNetLib <see cref="NetManager"/> for the member: SWIM datagrams as unconnected messages,
/// and one connection per peer with two ReliableOrdered channels, gossip (push-pull, fallback
/// pings) on <see cref="GossipChannel"/> and the data plane on <see cref="DataChannel"/>, so that
/// each waits only behind its own kind. Gossip input is copied to the loop's inputs; data
/// is handed to <see cref="DataReceived"/> on LiteNetLib's thread. The connection table is shared
/// by the loop and every sending thread: per-peer locks guard only its bookkeeping
/// (<see cref="PeerLink"/>), and connects and sends happen after they are released.
/// </summary>
internal sealed class LiteNetTransport : IDisposable
{
    public const byte GossipChannel = 0;

    public const byte DataChannel = 1;

    /// <summary>Resolved addresses kept; beyond that, addresses are parsed on every call, so that callers cannot grow the cache without bound.</summary>
    private const int MaxCachedAddresses = 4096;

    /// <summary>What a connect request carries, sealed under <see cref="SealPurpose.Connect"/> when there is a secret.</summary>
    internal static readonly byte[] ConnectToken = [WireFormat.Version, (byte)'S', (byte)'P', (byte)'G'];

    private readonly NetManager _net;
    private readonly DatagramSealer _sealer;
    private readonly LoopInputs _inputs;
    private readonly WakeSignal _updateWanted = new();
    private Thread? _updater;
    private readonly ILogger _logger;
    private readonly int _maxDatagram;
    private readonly ConcurrentDictionary<string, IPEndPoint?> _endpoints = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<IPEndPoint, PeerLink> _links = new();
    private byte[] _connectToken;
    private readonly long[] _sentMessages = new long[2];
    private readonly long[] _sentBytes = new long[2];
    private long _refusedConnections;
    private long _stuckAfterMs;
    private volatile bool _closed;

    public LiteNetTransport(DatagramSealer sealer, LoopInputs inputs, int maxDatagram, TimeSpan connectTimeout, ILogger logger)
    {
        _sealer = sealer;
        _inputs = inputs;
        _logger = logger;
        _maxDatagram = maxDatagram;
        // LiteNetLib writes its own messages to the console unless given a logger, a stack trace first when the port
        // is taken (Start then says so in one line). One logger for the process, as LiteNetLib has: the last transport's.
        NetDebug.Logger = new LiteNetLog(logger);
        _connectToken = sealer.Seal(ConnectToken, SealPurpose.Connect);
        var listener = new EventBasedNetListener();
        listener.NetworkReceiveUnconnectedEvent += OnUnconnected;
        listener.NetworkReceiveEvent += OnReceive;
        listener.ConnectionRequestEvent += OnConnectionRequest;
        listener.PeerConnectedEvent += OnConnected;
        listener.PeerDisconnectedEvent += OnDisconnected;
        _net = new NetManager(listener)
        {
            UnconnectedMessagesEnabled = true,
            UnsyncedEvents = true,
            AutoRecycle = true,
            IPv6Enabled = false,
            DisconnectTimeout = 5000,
            ChannelsCount = 2,
        };
        SetConnectTimeout(connectTimeout);
    }

    /// <summary>Seals the connect token again under the current secret, after a key rotation.</summary>
    public void RefreshConnectToken() => Volatile.Write(ref _connectToken, _sealer.Seal(ConnectToken, SealPurpose.Connect));

    /// <summary>Connections refused because their token did not authenticate (counted on LiteNetLib's thread).</summary>
    public long RefusedConnections => Interlocked.Read(ref _refusedConnections);

    public int LocalPort => _net.LocalPort;

    public Action<IPEndPoint>? ConnectionRefused { get; set; }

    /// <summary>A data-channel message as it came off the wire (still sealed), on LiteNetLib's thread; valid during the call.</summary>
    public PeerMessageHandler? DataReceived { get; set; }

    /// <summary>A connection, or an attempt, to a peer ended and what waited for it was dropped (LiteNetLib's thread).</summary>
    public Action<IPEndPoint>? LinkLost { get; set; }

    /// <summary>
    /// Whether every queued reliable send wakes LiteNetLib's logic thread at once. Without it a
    /// message waits for the next logic update, up to <c>UpdateTime</c> (15 ms). Off only to measure the difference.
    /// </summary>
    public bool PromptSends { get; set; } = true;

    public void Start(IPAddress bind, int port)
    {
        if (!_net.Start(bind, IPAddress.IPv6Any, port))
        {
            throw new InvalidOperationException($"Could not bind the gossip socket to {bind}:{port}.");
        }

        // Its own thread rather than the thread pool, for the same reason as the gossip loop:
        // a prompt send must not wait for a pool thread to come free.
        _updater = new Thread(RunUpdater) { IsBackground = true, Name = $"Gossip update trigger {LocalPort}" };
        _updater.Start();
    }

    /// <summary>
    /// LiteNetLib gives up a connect request after <c>ReconnectDelay</c> × (<c>MaxConnectAttempts</c> + 1);
    /// the delay is chosen so that a short timeout still gets a few retries.
    /// </summary>
    public void SetConnectTimeout(TimeSpan timeout)
    {
        var ms = (int)Math.Ceiling(timeout.TotalMilliseconds);
        var delay = Math.Clamp(ms / 4, 10, 500);
        _net.ReconnectDelay = delay;
        _net.MaxConnectAttempts = Math.Max(1, (ms / delay) - 1);
        Volatile.Write(ref _stuckAfterMs, (2L * ms) + 1000);
    }

    public void Dispose()
    {
        _closed = true;
        _updateWanted.Set();
        _updater?.Join();
        _net.Stop();
        _updateWanted.Dispose();
    }

    /// <summary>Messages and wire bytes handed to connections on <paramref name="channel"/>.</summary>
    public (long Messages, long Bytes) Sent(byte channel) =>
        (Interlocked.Read(ref _sentMessages[channel]), Interlocked.Read(ref _sentBytes[channel]));

    /// <summary>Resolves <c>host:port</c> (IPv4 literal) once; null when it is not an endpoint.</summary>
    public IPEndPoint? Resolve(string address)
    {
        if (_endpoints.TryGetValue(address, out var endPoint))
        {
            return endPoint;
        }

        endPoint = GossipOptionsValidator.TryParseEndPoint(address, out var parsed) && IsUsable(parsed) ? parsed : null;
        if (_endpoints.Count < MaxCachedAddresses)
        {
            _endpoints.TryAdd(address, endPoint);
        }

        return endPoint;
    }

    /// <summary>The socket speaks IPv4 only (IPv6 is off), and port 0 is nobody.</summary>
    public static bool IsUsable(IPEndPoint endPoint) =>
        endPoint.AddressFamily == AddressFamily.InterNetwork && endPoint.Port != 0;

    public bool SendDatagram(string address, ReadOnlySpan<byte> plain)
    {
        if (Resolve(address) is not { } endPoint)
        {
            return false;
        }

        var wire = _sealer.Seal(plain, SealPurpose.Datagram);
        _net.SendUnconnectedMessage(wire, endPoint);
        return true;
    }

    /// <summary>Sends over the peer's gossip channel, connecting first when there is no connection.</summary>
    public bool SendReliable(string address, ReliableEnvelope envelope) =>
        Resolve(address) is { } endPoint
        && Send(endPoint, GossipChannel, WireFormat.Version, MemoryPackSerializer.Serialize(envelope), SealPurpose.Reliable, 0);

    /// <summary>Answers a gossip request on the connection it came in on.</summary>
    public void Reply(NetPeer peer, ReliableEnvelope envelope) => SendOn(peer, GossipChannel, Encode(envelope));

    /// <summary>
    /// Seals <paramref name="prefix"/> and <paramref name="body"/> for <paramref name="purpose"/>
    /// and sends them on <paramref name="channel"/> of the connection to <paramref name="endPoint"/>,
    /// or queues them until that connection is up, starting it when needed. Any thread. False when
    /// closed, or when more than <paramref name="maxPendingDataBytes"/> of data already wait for
    /// this peer (gossip keeps its latest requests instead).
    /// </summary>
    /// <remarks>
    /// Sealing and handing over happen under the link's <see cref="PeerLink.SendOrder"/>: the
    /// peer then receives this member's counters in the order they were given, however many
    /// threads send, and its replay window never sees one fall far behind.
    /// </remarks>
    public bool Send(IPEndPoint endPoint, byte channel, byte prefix, ReadOnlySpan<byte> body, SealPurpose purpose, long maxPendingDataBytes)
    {
        while (!_closed)
        {
            var link = Link(endPoint);
            LinkOffer offer;
            NetPeer? peer;
            int attempt;
            lock (link.SendOrder)
            {
                var wire = _sealer.Seal(prefix, body, purpose);
                offer = link.Offer(channel, wire, maxPendingDataBytes, Environment.TickCount64, Volatile.Read(ref _stuckAfterMs), out peer, out attempt);
                if (offer == LinkOffer.SendNow)
                {
                    SendOn(peer!, channel, wire);
                }
            }

            switch (offer)
            {
                case LinkOffer.SendNow:
                    return true;
                case LinkOffer.Queued:
                    return true;
                case LinkOffer.Connect:
                    Connect(link, attempt);
                    return true;
                case LinkOffer.Refused:
                    return false;
                default:
                    // The link failed between the lookup and the offer; a fresh one takes the message.
                    break;
            }
        }

        return false;
    }

    /// <summary>Opens and decodes a reliable payload, or says why it was refused.</summary>
    public DropReason Decode(byte[] data, out ReliableEnvelope? envelope)
    {
        envelope = null;
        var plain = _sealer.Open(data, SealPurpose.Reliable, out var reason);
        return plain is null ? reason : WireFormat.DecodePayload(plain, out envelope);
    }

    /// <summary>Opens a received datagram; the size limit applies to what was on the wire.</summary>
    public byte[]? OpenDatagram(byte[] data, out DropReason reason)
    {
        if (data.Length > _maxDatagram)
        {
            reason = DropReason.Oversize;
            return null;
        }

        return _sealer.Open(data, SealPurpose.Datagram, out reason);
    }

    private static IPEndPoint Key(IPEndPoint endPoint) => new(endPoint.Address, endPoint.Port);

    /// <summary>
    /// The link for <paramref name="endPoint"/>. The table is keyed by plain IPEndPoint copies:
    /// a NetPeer hashes differently from an equal IPEndPoint, and a caller's endpoint may change later.
    /// </summary>
    private PeerLink Link(IPEndPoint endPoint) =>
        _links.TryGetValue(endPoint, out var link) ? link : _links.GetOrAdd(Key(endPoint), static key => new PeerLink(key));

    private byte[] Encode(ReliableEnvelope envelope) =>
        _sealer.Seal(WireFormat.Version, MemoryPackSerializer.Serialize(envelope), SealPurpose.Reliable);

    private void Connect(PeerLink link, int attempt)
    {
        NetPeer? peer;
        try
        {
            peer = _net.Connect(link.Key, Volatile.Read(ref _connectToken));
        }
        catch (InvalidOperationException)
        {
            // The manager stopped: the member is being disposed, and what waits goes with it.
            return;
        }

        if (peer is null)
        {
            link.Attach(attempt, null);
            return;
        }

        peer.Tag = link;
        if (peer.ConnectionState == ConnectionState.Connected)
        {
            // Already connected, and its event has not reached the table yet: take it now.
            OnConnected(peer);
            return;
        }

        link.Attach(attempt, peer);
    }

    /// <summary>Hands one message to LiteNetLib, which copies it; fragments it when it exceeds the MTU.</summary>
    private void SendOn(NetPeer peer, byte channel, byte[] wire)
    {
        try
        {
            peer.Send(wire, channel, DeliveryMethod.ReliableOrdered);
        }
        catch (TooBigPacketException e)
        {
            // Beyond MaxFragmentsCount fragments; PeerChannel refuses such data before, so this is gossip state.
            GossipLog.TooBigForConnection(_logger, peer.ToString(), wire.Length, e.Message);
            return;
        }

        Interlocked.Increment(ref _sentMessages[channel]);
        Interlocked.Add(ref _sentBytes[channel], wire.Length);
        RequestUpdate();
    }

    /// <summary>
    /// Asks for a LiteNetLib logic update now, so that what was just queued leaves at once and not
    /// at the next 15 ms tick. Coalesced through <see cref="WakeSignal"/>: a burst of sends wakes the
    /// updater thread a few times, not once each, and every message queued before it woke goes out
    /// with the update it triggers.
    /// </summary>
    private void RequestUpdate()
    {
        if (PromptSends)
        {
            _updateWanted.Set();
        }
    }

    private void RunUpdater()
    {
        while (!_closed)
        {
            _updateWanted.Wait(Timeout.Infinite);
            if (!_closed)
            {
                _net.TriggerUpdate();
            }
        }
    }

    private void OnConnected(NetPeer peer)
    {
        while (true)
        {
            var link = Link(Key(peer));
            if (link.Connected(peer, out var mustFlush))
            {
                peer.Tag = link;
                if (mustFlush)
                {
                    Flush(link, peer);
                }

                return;
            }
        }
    }

    /// <summary>What waited goes out in order; messages queued during the flush join it.</summary>
    private void Flush(PeerLink link, NetPeer peer)
    {
        while (link.TakeQueued(peer, out var gossip, out var data))
        {
            foreach (var wire in gossip)
            {
                SendOn(peer, GossipChannel, wire);
            }

            foreach (var wire in data)
            {
                SendOn(peer, DataChannel, wire);
            }
        }
    }

    private void OnDisconnected(NetPeer peer, DisconnectInfo info)
    {
        var link = peer.Tag as PeerLink ?? (_links.TryGetValue(Key(peer), out var known) ? known : null);
        if (link is not null && link.Lost(peer, info.Reason, Environment.TickCount64))
        {
            Forget(link);
        }
    }

    private void Forget(PeerLink link)
    {
        _links.TryRemove(KeyValuePair.Create(link.Key, link));
        if (!_closed)
        {
            LinkLost?.Invoke(link.EndPoint);
        }
    }

    private void OnUnconnected(IPEndPoint from, NetPacketReader reader, UnconnectedMessageType type)
    {
        if (type == UnconnectedMessageType.BasicMessage)
        {
            _inputs.Post(new DatagramInput(from, reader.GetRemainingBytesSpan().ToArray()));
        }
    }

    private void OnReceive(NetPeer peer, NetPacketReader reader, byte channel, DeliveryMethod method)
    {
        if (channel == DataChannel)
        {
            // Straight to the data plane on this thread: data must not wait behind the gossip loop.
            DataReceived?.Invoke((peer.Tag as PeerLink)?.EndPoint ?? Key(peer), reader.GetRemainingBytesSpan());
            return;
        }

        _inputs.Post(new ReliableInput(peer, reader.GetRemainingBytesSpan().ToArray()));
    }

    private void OnConnectionRequest(ConnectionRequest request)
    {
        var token = request.Data.GetRemainingBytesSpan();
        var plain = _sealer.Open(token, SealPurpose.Connect, out _);
        if (plain is not null && plain.AsSpan().SequenceEqual(ConnectToken))
        {
            request.Accept();
            return;
        }

        Interlocked.Increment(ref _refusedConnections);
        request.Reject();
        ConnectionRefused?.Invoke(request.RemoteEndPoint);
        if (_links.TryGetValue(Key(request.RemoteEndPoint), out var link) && link.Refused())
        {
            Forget(link);
        }
    }

    /// <summary>LiteNetLib's own messages, at Debug level: what matters of them reaches the node through this transport.</summary>
    private sealed class LiteNetLog(ILogger logger) : INetLogger
    {
        public void WriteNet(NetLogLevel level, string str, params object[] args)
        {
            if (logger.IsEnabled(LogLevel.Debug))
            {
#pragma warning disable CA2254, CA1848 // LiteNetLib's format strings, rare enough not to need a cached delegate.
                logger.LogDebug("LiteNetLib {Level}: {Message}", level, args.Length == 0 ? str : string.Format(System.Globalization.CultureInfo.InvariantCulture, str, args));
#pragma warning restore CA2254, CA1848
            }
        }
    }
}
