using MemoryPack;

namespace SocketPush.Node.Cluster.Peers;

/// <summary>
/// One request or answer of the peer data plane. On the wire: the wire version byte
/// (<see cref="ClusterSettings.WireVersion"/>), checked before anything is read, then this envelope in MemoryPack.
/// A request carries its typed <see cref="PeerRequest"/>; an answer carries the result in MemoryPack (read by the
/// caller, who knows the request's result type) or an error.
/// </summary>
[MemoryPackable]
internal sealed partial class PeerEnvelope
{
    /// <summary>Chosen by the caller; an answer carries its request's id.</summary>
    public long Id { get; init; }

    /// <summary>The sending node's id.</summary>
    public string From { get; init; } = "";

    /// <summary>How many nodes forwarded this call before; bounds forwarding while rings disagree.</summary>
    public byte Hops { get; init; }

    /// <summary>The call; null in an answer.</summary>
    public PeerRequest? Request { get; init; }

    /// <summary>A successful answer's result, in MemoryPack.</summary>
    public byte[] Result { get; init; } = [];

    /// <summary>A failed call's error code (the API's codes), or null on success.</summary>
    public string? ErrorCode { get; init; }

    public string? ErrorMessage { get; init; }

    [MemoryPackIgnore]
    public bool IsAnswer => Request is null;

    /// <summary>
    /// The wire form. Strings go as UTF-8, said explicitly so that the wire does not follow a change of the library's
    /// default (a reader takes UTF-8 and UTF-16 alike).
    /// </summary>
    public byte[] Encode()
    {
        var body = MemoryPackSerializer.Serialize(this, MemoryPackSerializerOptions.Utf8);
        var wire = new byte[body.Length + 1];
        wire[0] = ClusterSettings.WireVersion;
        body.CopyTo(wire, 1);
        return wire;
    }

    /// <summary>Reads an envelope, or returns null with the reason: never throws on what a peer sent.</summary>
    public static PeerEnvelope? TryDecode(ReadOnlySpan<byte> wire, out string? problem)
    {
        problem = null;
        if (wire.Length < 2)
        {
            problem = "too short";
            return null;
        }

        if (wire[0] != ClusterSettings.WireVersion)
        {
            problem = $"unknown wire version {wire[0]} (this node reads {ClusterSettings.WireVersion})";
            return null;
        }

        try
        {
            if (MemoryPackSerializer.Deserialize<PeerEnvelope>(wire[1..]) is not { } envelope)
            {
                problem = "empty message";
                return null;
            }

            return envelope;
        }
        catch (Exception e) when (e is MemoryPackSerializationException or ArgumentException or IndexOutOfRangeException or InvalidOperationException or OverflowException or NullReferenceException)
        {
            // A corrupt length or union tag surfaces as one of these, depending on where it sits; a null where the
            // type has none (a string id of a request) as the last.
            problem = e.Message;
            return null;
        }
    }
}
