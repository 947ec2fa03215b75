using System.Runtime.InteropServices;
using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Cluster.Routing;

/// <summary>
/// Checks a published message before it goes anywhere: <c>options.maxMessageBytes</c> on its JSON text, and that every
/// client can read it. JSON lets a string hold an unpaired surrogate escape (<c>"\ud800"</c>), which is not Unicode:
/// no .NET string holds it, so the MessagePack hub protocol cannot carry it. Such a message is refused
/// (400 invalid_argument) rather than sent to some clients and not others.
/// </summary>
internal sealed class MessageLimit(LiveConfig config)
{
    public void Check(JsonElement message)
    {
        if (message.ValueKind == JsonValueKind.Undefined)
        {
            throw new ServiceException(ErrorCodes.InvalidArgument, "message is required.");
        }

        var raw = JsonMarshal.GetRawUtf8Value(message);
        var limit = config.Options.MaxMessageBytes;
        if (raw.Length > limit)
        {
            throw new ServiceException(ErrorCodes.MessageTooLarge, $"message is {raw.Length} bytes; at most {limit} are allowed (options.maxMessageBytes).");
        }

        // The parser has checked that the bytes are UTF-8, so only an escape can spell a surrogate: most messages
        // have none and are not walked.
        if ((raw.IndexOf("\\ud"u8) >= 0 || raw.IndexOf("\\uD"u8) >= 0) && Unreadable(message) is { } problem)
        {
            throw new ServiceException(ErrorCodes.InvalidArgument, $"message {problem}, which not every client can read.");
        }
    }

    /// <summary>What in the value no client protocol can carry, or null. The depth is bounded by the JSON reader's (64).</summary>
    private static string? Unreadable(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in value.EnumerateObject())
                {
                    if (!Decodes(() => property.Name))
                    {
                        return "has a property name with an unpaired surrogate escape";
                    }

                    if (Unreadable(property.Value) is { } problem)
                    {
                        return problem;
                    }
                }

                return null;
            case JsonValueKind.Array:
                foreach (var item in value.EnumerateArray())
                {
                    if (Unreadable(item) is { } problem)
                    {
                        return problem;
                    }
                }

                return null;
            case JsonValueKind.String:
                return Decodes(() => value.GetString()) ? null : "has a string with an unpaired surrogate escape";
            default:
                return null;
        }
    }

    /// <summary>The reader refuses to decode an unpaired surrogate into a .NET string.</summary>
    private static bool Decodes(Func<string?> read)
    {
        try
        {
            _ = read();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
