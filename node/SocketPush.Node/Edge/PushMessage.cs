using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Protocol;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Edge.HubServer;

namespace SocketPush.Node.Edge;

/// <summary>
/// One published message on its way to connections. Each wire form is built once per message, not once per
/// connection: the SSE line as UTF-8 bytes, and the hub argument as plain CLR values that both the JSON and
/// the MessagePack hub protocols can write.
/// </summary>
internal sealed class PushMessage
{
    private byte[]? _sseFrame;
    private byte[]? _jsonHubBytes;
    private byte[]? _messagePackHubBytes;
    private byte[]? _jsonWebSocketFrame;
    private byte[]? _messagePackWebSocketFrame;

    public PushMessage(string kind, string? channelId, JsonElement data, long publishedTimestamp, StreamPosition? position = null)
    {
        Kind = kind;
        ChannelId = channelId;
        Position = position;
        // A clone outlives the request whose JSON document the element may point into.
        Data = data.Clone();
        PublishedTimestamp = publishedTimestamp;
    }

    /// <summary>A publication in this edge's form; its data is cloned, so it outlives the request it came with.</summary>
    public PushMessage(Publication publication)
        : this(publication.Kind == PublicationKind.User ? "user" : "channel", publication.ChannelId, publication.Data, publication.PublishedTimestamp, publication.Position)
    {
    }

    /// <summary>
    /// Asks the client to reconnect to the node that now owns its user: the hub event <c>moved</c> (SSE event
    /// <c>moved</c>) with <c>{url, nodeId}</c>. It travels every transport's path, so it queues behind what was sent before.
    /// </summary>
    public static PushMessage Moved(string clientUrl, string nodeId, long timestamp) =>
        Event(MovedKind, JsonSerializer.SerializeToElement(new { url = clientUrl, nodeId }), timestamp);

    public const string MovedKind = "moved";

    /// <summary>An event of the server's own (<c>moved</c>, <c>streams</c>): the hub event (SSE event) of that name with the data as its argument.</summary>
    public static PushMessage Event(string name, JsonElement data, long timestamp) => new(name, null, data, timestamp) { IsServerEvent = true };

    /// <summary><c>user</c>, <c>channel</c>, or the name of a server event.</summary>
    public string Kind { get; }

    /// <summary>A server event rather than a published message: its data is the whole argument.</summary>
    public bool IsServerEvent { get; private init; }

    private string EventName => IsServerEvent ? Kind : HubEvent;

    public string? ChannelId { get; }

    /// <summary>The message's place in its stream (the user's, or <see cref="ChannelId"/>'s) when the stream keeps history.</summary>
    public StreamPosition? Position { get; }

    public JsonElement Data { get; }

    /// <summary>When the publish was accepted, from <see cref="TimeProvider.GetTimestamp"/>.</summary>
    public long PublishedTimestamp { get; }

    /// <summary>The complete SSE event: <c>event: message</c> and one <c>data:</c> line of JSON.</summary>
    public byte[] SseFrame => _sseFrame ??= BuildSseFrame();

    /// <summary>The complete WebSocket frame of the <c>message</c> invocation in one hub protocol.</summary>
    public byte[] WebSocketFrame(HubFormat format) => format == HubFormat.Json
        ? _jsonWebSocketFrame ??= WebSocketFrames.Build(WebSocketOpcode.Text, HubBytes(format))
        : _messagePackWebSocketFrame ??= WebSocketFrames.Build(WebSocketOpcode.Binary, HubBytes(format));

    /// <summary>The <c>message</c> invocation in one hub protocol, framed for the hub protocol but not for a transport.</summary>
    public byte[] HubBytes(HubFormat format) => format == HubFormat.Json
        ? _jsonHubBytes ??= BuildJsonInvocation()
        : _messagePackHubBytes ??= HubProtocols.Serialize(HubFormat.MessagePack, new InvocationMessage(EventName, [BuildHubArgument()]));

    /// <summary>The hub event every message arrives as.</summary>
    public const string HubEvent = "message";

    private byte[] BuildSseFrame()
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        buffer.Write("event: "u8);
        buffer.Write(System.Text.Encoding.UTF8.GetBytes(EventName));
        buffer.Write("\ndata: "u8);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteEnvelope(writer);
        }

        buffer.Write("\n\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The JSON hub protocol's invocation of <c>message</c>, with its record separator.</summary>
    private byte[] BuildJsonInvocation()
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("type"u8, HubProtocolConstants.InvocationMessageType);
            writer.WriteString("target"u8, EventName);
            writer.WriteStartArray("arguments"u8);
            WriteEnvelope(writer);
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        buffer.Write([RecordSeparator]);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Ends every message of the JSON hub protocol.</summary>
    private const byte RecordSeparator = 0x1e;

    private void WriteEnvelope(Utf8JsonWriter writer)
    {
        if (IsServerEvent)
        {
            Data.WriteTo(writer);
            return;
        }

        writer.WriteStartObject();
        writer.WriteString("kind"u8, Kind);
        if (ChannelId is not null)
        {
            writer.WriteString("channelId"u8, ChannelId);
        }

        if (Position is { } position)
        {
            writer.WriteString("epoch"u8, position.Epoch);
            writer.WriteNumber("offset"u8, position.Offset);
        }

        writer.WritePropertyName("data"u8);
        // The data is valid JSON already (it was parsed on the way in), so it is copied, not re-encoded.
        writer.WriteRawValue(JsonMarshal.GetRawUtf8Value(Data), skipInputValidation: true);
        writer.WriteEndObject();
    }

    private object? BuildHubArgument()
    {
        if (IsServerEvent)
        {
            return ToPlainValue(Data);
        }

        var argument = new Dictionary<string, object?>(5, StringComparer.Ordinal) { ["kind"] = Kind };
        if (ChannelId is not null)
        {
            argument["channelId"] = ChannelId;
        }

        if (Position is { } position)
        {
            argument["epoch"] = position.Epoch;
            argument["offset"] = position.Offset;
        }

        argument["data"] = ToPlainValue(Data);
        return argument;
    }

    /// <summary>JSON as dictionaries, arrays and primitives, which every hub protocol can serialize.</summary>
    internal static object? ToPlainValue(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => ToPlainObject(element),
        JsonValueKind.Array => element.EnumerateArray().Select(ToPlainValue).ToArray(),
        JsonValueKind.String => element.GetString(),
        // Boxed apart: a plain conditional would widen every integer to double.
        JsonValueKind.Number => element.TryGetInt64(out var integer) ? (object)integer : element.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    private static Dictionary<string, object?> ToPlainObject(JsonElement element)
    {
        var map = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject())
        {
            // JSON allows a name twice; the last value wins, as in JSON.parse.
            map[property.Name] = ToPlainValue(property.Value);
        }

        return map;
    }
}
