using System.Net;
using Microsoft.Extensions.Logging;
using SocketPush.Gossip.Protocol;

namespace SocketPush.Gossip;

/// <summary>Log messages of the gossip member; event ids 1400–1499.</summary>
internal static partial class GossipLog
{
    [LoggerMessage(1400, LogLevel.Information, "Gossip member {Name} listening on {EndPoint}, advertised as {Address}")]
    public static partial void Started(ILogger logger, string name, IPEndPoint endPoint, string address);

    [LoggerMessage(1401, LogLevel.Information, "Member {Member} {Change} (incarnation {Incarnation})")]
    public static partial void MemberChanged(ILogger logger, string member, MembershipChangeKind change, uint incarnation);

    [LoggerMessage(1402, LogLevel.Debug, "Dropped a datagram from {Source}: {Reason}")]
    public static partial void DroppedDatagram(ILogger logger, string source, string reason);

    [LoggerMessage(1403, LogLevel.Warning, "Refused a connection from {Source}: its token did not authenticate")]
    public static partial void RefusedConnection(ILogger logger, IPEndPoint source);

    [LoggerMessage(1404, LogLevel.Error, "A handler of membership changes threw; the gossip loop goes on")]
    public static partial void HandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(1405, LogLevel.Information, "Leaving the cluster; announcement gossiped: {Announced}")]
    public static partial void Left(ILogger logger, bool announced);

    [LoggerMessage(1406, LogLevel.Warning, "Could not resolve gossip address {Address}")]
    public static partial void BadAddress(ILogger logger, string address);

    [LoggerMessage(1407, LogLevel.Warning, "A message of {Bytes} bytes to {Peer} needs more fragments than LiteNetLib allows; dropped: {Reason}")]
    public static partial void TooBigForConnection(ILogger logger, string peer, int bytes, string reason);

    [LoggerMessage(1408, LogLevel.Debug, "Dropped a peer message from {Source}: {Reason}")]
    public static partial void DroppedPeerMessage(ILogger logger, IPEndPoint source, DropReason reason);

    [LoggerMessage(1409, LogLevel.Debug, "Connection to {Peer} lost or refused; messages waiting for it were dropped")]
    public static partial void PeerLost(ILogger logger, IPEndPoint peer);

    [LoggerMessage(1410, LogLevel.Error, "A handler of the peer channel's {Event} event threw; the channel goes on")]
    public static partial void PeerHandlerFailed(ILogger logger, string @event, Exception exception);
}
