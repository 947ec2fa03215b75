using MemoryPack;
using SocketPush.Gossip.Protocol;

namespace SocketPush.Gossip;

/// <summary>Metadata on the wire: version byte, then MemoryPack; opaque to the protocol core.</summary>
internal static class MetadataCodec
{
    public static byte[] Encode(MemberMetadata metadata)
    {
        var wire = new MetadataWire
        {
            NodeId = metadata.NodeId,
            ClientUrl = metadata.ClientUrl,
            AdminUrl = metadata.AdminUrl,
            Version = metadata.Version,
        };
        var body = MemoryPackSerializer.Serialize(wire);
        var bytes = new byte[body.Length + 1];
        bytes[0] = WireFormat.Version;
        body.CopyTo(bytes, 1);
        return bytes;
    }

    public static MemberMetadata? TryDecode(byte[] bytes)
    {
        if (WireFormat.DecodePayload<MetadataWire>(bytes, out var wire) != DropReason.None || wire is null)
        {
            return null;
        }

        return new MemberMetadata(wire.NodeId ?? "", wire.ClientUrl ?? "", wire.AdminUrl ?? "", wire.Version ?? "");
    }
}

[MemoryPackable]
internal sealed partial class MetadataWire
{
    public string? NodeId { get; init; }

    public string? ClientUrl { get; init; }

    public string? AdminUrl { get; init; }

    public string? Version { get; init; }
}
