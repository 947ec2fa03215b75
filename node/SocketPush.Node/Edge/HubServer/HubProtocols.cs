using System.Buffers;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace SocketPush.Node.Edge.HubServer;

/// <summary>The two hub protocols the official SignalR clients speak.</summary>
internal enum HubFormat
{
    Json,
    MessagePack,
}

/// <summary>
/// SignalR's own protocol classes, used for parsing and for the messages that are not hot (completions, close,
/// ping); the <c>message</c> event is serialized once per published message in <see cref="PushMessage"/>.
/// </summary>
internal static class HubProtocols
{
    public static readonly JsonHubProtocol Json = new();
    public static readonly MessagePackHubProtocol MessagePack = new();

    /// <summary>The hub method a client authenticates with.</summary>
    public const string AuthenticateMethod = "Authenticate";

    /// <summary>The hub method a client authenticates with and recovers its streams from the positions it saw (<c>since</c>).</summary>
    public const string RecoverMethod = "Recover";

    private static readonly byte[] JsonPing = Serialize(HubFormat.Json, PingMessage.Instance);
    private static readonly byte[] MessagePackPing = Serialize(HubFormat.MessagePack, PingMessage.Instance);

    public static IHubProtocol Of(HubFormat format) => format == HubFormat.Json ? Json : MessagePack;

    /// <summary>The format a handshake asks for, or null with the reason the server refuses it.</summary>
    public static HubFormat? Find(HandshakeRequestMessage request, bool binaryAllowed, out string? problem)
    {
        problem = null;
        HubFormat? format = request.Protocol switch
        {
            "json" => HubFormat.Json,
            "messagepack" => HubFormat.MessagePack,
            _ => null,
        };
        if (format is null)
        {
            problem = $"The protocol '{request.Protocol}' is not supported; use 'json' or 'messagepack'.";
        }
        else if (!Of(format.Value).IsVersionSupported(request.Version))
        {
            problem = $"The server does not support version {request.Version} of the '{request.Protocol}' protocol.";
            format = null;
        }
        else if (format == HubFormat.MessagePack && !binaryAllowed)
        {
            problem = "The 'messagepack' protocol needs a binary transport (WebSockets or long polling).";
            format = null;
        }

        return format;
    }

    public static byte[] Serialize(HubFormat format, HubMessage message) => Of(format).GetMessageBytes(message).ToArray();

    public static byte[] Ping(HubFormat format) => format == HubFormat.Json ? JsonPing : MessagePackPing;

    public static byte[] HandshakeResponse(string? error)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        HandshakeProtocol.WriteResponseMessage(error is null ? HandshakeResponseMessage.Empty : new HandshakeResponseMessage(error), buffer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Tells the protocols what the hub's one method takes; any other name is a binding failure.</summary>
    public sealed class Binder : IInvocationBinder
    {
        public static readonly Binder Instance = new();

        private static readonly Type[] AuthenticateParameters = [typeof(string), typeof(string)];
        private static readonly Type[] RecoverParameters = [typeof(string), typeof(string), typeof(string)];

        public IReadOnlyList<Type> GetParameterTypes(string methodName) => methodName switch
        {
            AuthenticateMethod => AuthenticateParameters,
            RecoverMethod => RecoverParameters,
            _ => throw new HubException($"Unknown hub method '{methodName}'"),
        };

        // Clients only send results when the server invokes with a result, which this server never does.
        public Type GetReturnType(string invocationId) => typeof(object);

        public Type GetStreamItemType(string streamId) => throw new HubException("Streaming is not supported.");
    }
}
