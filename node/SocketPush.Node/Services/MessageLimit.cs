using System.Runtime.InteropServices;
using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Services;

/// <summary>Enforces <c>options.maxMessageBytes</c> on the JSON text of a published message.</summary>
internal sealed class MessageLimit(LiveConfig config)
{
    public void Check(JsonElement message)
    {
        if (message.ValueKind == JsonValueKind.Undefined)
        {
            throw new ServiceException(ErrorCodes.InvalidArgument, "message is required.");
        }

        var size = JsonMarshal.GetRawUtf8Value(message).Length;
        var limit = config.Options.MaxMessageBytes;
        if (size > limit)
        {
            throw new ServiceException(ErrorCodes.MessageTooLarge, $"message is {size} bytes; at most {limit} are allowed (options.maxMessageBytes).");
        }
    }
}
