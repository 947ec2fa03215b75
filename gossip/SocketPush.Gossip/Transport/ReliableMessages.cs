using MemoryPack;
using SocketPush.Gossip.Protocol;

namespace SocketPush.Gossip.Transport;

/// <summary>Messages of the reliable channel: request id plus one body.</summary>
[MemoryPackable]
internal sealed partial class ReliableEnvelope
{
    /// <summary>Chosen by the requester; a reply carries the request's id.</summary>
    public uint RequestId { get; init; }

    public bool IsReply { get; init; }

    public PushPullMessage? PushPull { get; init; }

    /// <summary>Fallback ping: the probe's sequence number and the name the prober expects.</summary>
    public uint PingSeq { get; init; }

    public string? PingTarget { get; init; }

    /// <summary>A reply to a fallback ping: the target answered to its name.</summary>
    public bool PingAcked { get; init; }
}
