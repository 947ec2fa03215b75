using System.Text.Json;

namespace SocketPush.Client.Services;

/// <summary>Messages to one user, on every connection the user has open.</summary>
[Service("user", "Publishes to users and manages their connections.")]
public interface IUserService
{
    [Method("Sends a JSON message to every connection of the user; returns how many connections it reached (0 if offline, or if publishId was published already). With history, the message is kept in the user's stream; a publishId (your own, for retries) is appended once.")]
    Task<int> PublishAsync(string userId, JsonElement message, string? publishId = null, CancellationToken cancellationToken = default);

    [Method("Disconnects all connections of the user and unsubscribes the user from every channel.")]
    Task RemoveAsync(string userId, CancellationToken cancellationToken = default);

    [Method("Returns the client URL of the node that serves the user.")]
    Task<string> GetFrontendServerAsync(string userId, CancellationToken cancellationToken = default);

    [Method("Returns the userIds that have at least one connection open.")]
    Task<IReadOnlyList<string>> ListAllAsync(CancellationToken cancellationToken = default);

    [Method("Returns the user's stream: {epoch, offset, complete, messages: [{offset, id, publishedAt, data}]}, the messages after since (epoch.offset; complete false when history no longer holds them or the epoch changed), or the latest ones without since; at most limit (100 by default, up to 1000).")]
    Task<JsonElement> HistoryAsync(string userId, string? since = null, int? limit = null, CancellationToken cancellationToken = default);
}
