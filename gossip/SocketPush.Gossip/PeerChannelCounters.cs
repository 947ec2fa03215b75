namespace SocketPush.Gossip;

/// <summary>Totals of the data plane (<see cref="PeerChannel"/>) since the member started, for metrics.</summary>
public readonly record struct PeerChannelCounters
{
    /// <summary>Messages handed to a peer's connection (sent at once, or when the connection came up).</summary>
    public long MessagesSent { get; init; }

    /// <summary>Messages that opened and were raised on <see cref="PeerChannel.Received"/>.</summary>
    public long MessagesReceived { get; init; }

    /// <summary>Bytes of the sent messages as handed to LiteNetLib: payload, version byte and, with a secret, sealing.</summary>
    public long BytesSent { get; init; }

    /// <summary>Bytes of the received messages, counted the same way.</summary>
    public long BytesReceived { get; init; }

    /// <summary>Messages that failed authentication, or were plain where sealing is required, or sealed where it is not.</summary>
    public long DroppedUnauthenticated { get; init; }

    /// <summary>Messages that authenticated but were seen before (a replay), counted apart from <see cref="DroppedUnauthenticated"/>.</summary>
    public long DroppedReplayed { get; init; }

    /// <summary>Messages that opened but were not a data-plane message (empty, or another wire version).</summary>
    public long DroppedMalformed { get; init; }

    /// <summary>Calls of <see cref="PeerChannel.Send(string, ReadOnlySpan{byte})"/> that returned false.</summary>
    public long SendRefused { get; init; }
}
