using System.Net;
using System.Threading.Channels;
using LiteNetLib;
using MemoryPack;
using SocketPush.Gossip.Protocol;

namespace SocketPush.Gossip.Transport;

/// <summary>Something the LiteNetLib thread saw, handed to the member's loop.</summary>
internal abstract record TransportInput;

internal sealed record DatagramInput(IPEndPoint From, byte[] Data) : TransportInput;

internal sealed record ReliableInput(NetPeer Peer, byte[] Data) : TransportInput;

internal sealed record PeerConnectedInput(NetPeer Peer) : TransportInput;

internal sealed record PeerDisconnectedInput(NetPeer Peer) : TransportInput;

/// <summary>
/// One LiteNetLib <see cref="NetManager"/>: SWIM datagrams as unconnected messages, and one
/// ReliableOrdered connection per peer for push-pull and fallback pings. Receiving happens on
/// LiteNetLib's thread, which only copies bytes into the loop's channel; everything else runs on
/// the loop, so the protocol state has a single writer and no locks.
/// </summary>
internal sealed class LiteNetTransport : IDisposable
{
    private static readonly byte[] ConnectToken = [WireFormat.Version, (byte)'S', (byte)'P', (byte)'G'];

    private readonly NetManager _net;
    private readonly DatagramSealer _sealer;
    private readonly ChannelWriter<object> _inputs;
    private readonly int _maxDatagram;
    private readonly Dictionary<string, IPEndPoint?> _endpoints = new(StringComparer.Ordinal);
    private readonly Dictionary<IPEndPoint, NetPeer> _peers = [];
    private readonly Dictionary<IPEndPoint, List<byte[]>> _waiting = [];
    private readonly byte[] _connectToken;
    private long _refusedConnections;

    public LiteNetTransport(DatagramSealer sealer, ChannelWriter<object> inputs, int maxDatagram)
    {
        _sealer = sealer;
        _inputs = inputs;
        _maxDatagram = maxDatagram;
        _connectToken = sealer.Seal(ConnectToken, SealPurpose.Connect);
        var listener = new EventBasedNetListener();
        listener.NetworkReceiveUnconnectedEvent += OnUnconnected;
        listener.NetworkReceiveEvent += OnReceive;
        listener.ConnectionRequestEvent += OnConnectionRequest;
        listener.PeerConnectedEvent += peer => _inputs.TryWrite(new PeerConnectedInput(peer));
        listener.PeerDisconnectedEvent += (peer, _) => _inputs.TryWrite(new PeerDisconnectedInput(peer));
        _net = new NetManager(listener)
        {
            UnconnectedMessagesEnabled = true,
            UnsyncedEvents = true,
            AutoRecycle = true,
            IPv6Enabled = false,
            DisconnectTimeout = 5000,
        };
    }

    /// <summary>Connections refused because their token did not authenticate (counted on LiteNetLib's thread).</summary>
    public long RefusedConnections => Interlocked.Read(ref _refusedConnections);

    public int LocalPort => _net.LocalPort;

    public Action<IPEndPoint>? ConnectionRefused { get; set; }

    public void Start(IPAddress bind, int port)
    {
        if (!_net.Start(bind, IPAddress.IPv6Any, port))
        {
            throw new InvalidOperationException($"Could not bind the gossip socket to {bind}:{port}.");
        }
    }

    public void Stop() => _net.Stop();

    public void Dispose() => _net.Stop();

    /// <summary>Resolves <c>host:port</c> once; null when it is not an endpoint.</summary>
    public IPEndPoint? Resolve(string address)
    {
        if (!_endpoints.TryGetValue(address, out var endPoint))
        {
            endPoint = GossipOptionsValidator.TryParseEndPoint(address, out var parsed) ? parsed : null;
            _endpoints[address] = endPoint;
        }

        return endPoint;
    }

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

    /// <summary>Sends over the peer's reliable connection, connecting first when there is none.</summary>
    public bool SendReliable(string address, ReliableEnvelope envelope)
    {
        if (Resolve(address) is not { } endPoint)
        {
            return false;
        }

        var wire = Encode(envelope);
        if (_peers.TryGetValue(endPoint, out var peer))
        {
            if (peer.ConnectionState == ConnectionState.Connected)
            {
                peer.Send(wire, DeliveryMethod.ReliableOrdered);
                return true;
            }

            // A refused or timed-out attempt leaves a dead peer behind: forget it and connect again.
            if (peer.ConnectionState != ConnectionState.Outgoing)
            {
                _peers.Remove(endPoint);
            }
        }

        if (!_waiting.TryGetValue(endPoint, out var queue))
        {
            queue = [];
            _waiting[endPoint] = queue;
        }

        // A peer that never answers must not pile up state: keep only the latest few requests.
        if (queue.Count >= 16)
        {
            queue.RemoveAt(0);
        }

        queue.Add(wire);
        if (!_peers.ContainsKey(endPoint))
        {
            var connecting = _net.Connect(endPoint, _connectToken);
            if (connecting is not null)
            {
                _peers[endPoint] = connecting;
            }
        }

        return true;
    }

    public void Reply(NetPeer peer, ReliableEnvelope envelope) => peer.Send(Encode(envelope), DeliveryMethod.ReliableOrdered);

    /// <summary>Loop side of a new connection: what waited for it goes out now.</summary>
    public void OnConnected(NetPeer peer)
    {
        _peers[peer] = peer;
        if (_waiting.Remove(peer, out var queue))
        {
            foreach (var wire in queue)
            {
                peer.Send(wire, DeliveryMethod.ReliableOrdered);
            }
        }
    }

    public void OnDisconnected(NetPeer peer)
    {
        if (_peers.TryGetValue(peer, out var known) && known.ConnectionState is not (ConnectionState.Connected or ConnectionState.Outgoing))
        {
            _peers.Remove(peer);
            _waiting.Remove(peer);
        }
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

    private byte[] Encode(ReliableEnvelope envelope)
    {
        var body = MemoryPackSerializer.Serialize(envelope);
        var plain = new byte[body.Length + 1];
        plain[0] = WireFormat.Version;
        body.CopyTo(plain, 1);
        return _sealer.Seal(plain, SealPurpose.Reliable);
    }

    private void OnUnconnected(IPEndPoint from, NetPacketReader reader, UnconnectedMessageType type)
    {
        if (type == UnconnectedMessageType.BasicMessage)
        {
            _inputs.TryWrite(new DatagramInput(from, reader.GetRemainingBytesSpan().ToArray()));
        }
    }

    private void OnReceive(NetPeer peer, NetPacketReader reader, byte channel, DeliveryMethod method) =>
        _inputs.TryWrite(new ReliableInput(peer, reader.GetRemainingBytesSpan().ToArray()));

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
    }
}
