using System.Text.Json;
using SocketPush.Node.Cluster.Delivery;

namespace SocketPush.Node.Tests.History;

/// <summary>
/// What a client knows of its streams, as a client keeps it: the position of each stream (the user's own under "",
/// channels by id) read from the messages it received and from the <c>streams</c> report, and the token of those
/// positions that <c>Recover</c> and Last-Event-ID take.
/// </summary>
internal static class Positions
{
    /// <summary>The stream of a received message (hub argument or SSE data): its channelId, or "" for the user's own.</summary>
    public static string StreamOf(JsonElement message) =>
        message.TryGetProperty("channelId", out var channel) && channel.ValueKind == JsonValueKind.String ? channel.GetString()! : "";

    /// <summary>The position a received message carries; fails when it has none.</summary>
    public static StreamPosition Of(JsonElement message) =>
        new(message.GetProperty("epoch").GetString()!, message.GetProperty("offset").GetInt64());

    /// <summary>The positions of a <c>streams</c> report: <c>{user: {epoch, offset, recovered?}, channels: {id: {...}}}</c>.</summary>
    public static Dictionary<string, StreamPosition> OfReport(JsonElement report)
    {
        var positions = new Dictionary<string, StreamPosition>(StringComparer.Ordinal);
        if (report.TryGetProperty("user", out var user))
        {
            positions[""] = Of(user);
        }

        foreach (var channel in report.GetProperty("channels").EnumerateObject())
        {
            positions[channel.Name] = Of(channel.Value);
        }

        return positions;
    }

    /// <summary>What a report says of each stream's recovery: true, false, or null when it does not say (no position was given).</summary>
    public static Dictionary<string, bool?> RecoveredOf(JsonElement report)
    {
        static bool? Recovered(JsonElement item) => item.TryGetProperty("recovered", out var value) ? value.GetBoolean() : null;
        var recovered = new Dictionary<string, bool?>(StringComparer.Ordinal);
        if (report.TryGetProperty("user", out var user))
        {
            recovered[""] = Recovered(user);
        }

        foreach (var channel in report.GetProperty("channels").EnumerateObject())
        {
            recovered[channel.Name] = Recovered(channel.Value);
        }

        return recovered;
    }

    /// <summary>The token of positions: <c>u:epoch.offset,c:channelId:epoch.offset</c>.</summary>
    public static string Token(IEnumerable<KeyValuePair<string, StreamPosition>> positions) =>
        string.Join(",", positions.Select(p => p.Key.Length == 0 ? $"u:{p.Value}" : $"c:{p.Key}:{p.Value}"));
}
