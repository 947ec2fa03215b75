using MemoryPack;

namespace SocketPush.Node.Cluster.Peers;

/// <summary>
/// One request or response of the peer data plane. On the wire: a version byte, checked before anything is read,
/// then this message in MemoryPack. Arguments and results are the API's own JSON, so a forwarded call is served
/// by the same binding as an HTTP call.
/// </summary>
[MemoryPackable]
internal sealed partial class PeerMessage
{
    public const byte Version = 1;

    /// <summary>Chosen by the caller; a response carries its request's id.</summary>
    public long Id { get; init; }

    public bool IsResponse { get; init; }

    /// <summary>The calling node's id.</summary>
    public string From { get; init; } = "";

    /// <summary>How many nodes forwarded this call before; bounds forwarding while rings disagree.</summary>
    public byte Hops { get; init; }

    public string? Service { get; init; }

    public string? Method { get; init; }

    /// <summary>A request's arguments or a response's result, as UTF-8 JSON; empty for none.</summary>
    public byte[] Body { get; init; } = [];

    /// <summary>A failed call's error code (the API's codes), or null on success.</summary>
    public string? ErrorCode { get; init; }

    public string? ErrorMessage { get; init; }

    public byte[] Encode()
    {
        var body = MemoryPackSerializer.Serialize(this);
        var wire = new byte[body.Length + 1];
        wire[0] = Version;
        body.CopyTo(wire, 1);
        return wire;
    }

    /// <summary>Reads a message, or returns null with the reason: never throws on what a peer sent.</summary>
    public static PeerMessage? TryDecode(ReadOnlySpan<byte> wire, out string? problem)
    {
        problem = null;
        if (wire.Length < 2)
        {
            problem = "too short";
            return null;
        }

        if (wire[0] != Version)
        {
            problem = $"unknown version {wire[0]}";
            return null;
        }

        try
        {
            var message = MemoryPackSerializer.Deserialize<PeerMessage>(wire[1..]);
            if (message is null || (!message.IsResponse && (message.Service is null || message.Method is null)))
            {
                problem = "incomplete message";
                return null;
            }

            return message;
        }
        catch (Exception e) when (e is MemoryPackSerializationException or ArgumentException or IndexOutOfRangeException or InvalidOperationException or OverflowException)
        {
            // A corrupt length or union tag surfaces as one of these, depending on where it sits.
            problem = e.Message;
            return null;
        }
    }
}
