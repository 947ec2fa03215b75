using System.Text.Json;

namespace SocketPush.Client.Services;

/// <summary>Messages to one user, on every connection the user has open.</summary>
[Service("user", "Publishes to users and manages their connections.")]
public interface IUserService
{
    [Method("Sends a JSON message to every connection of the user; returns how many connections it reached (0 if offline).")]
    Task<int> PublishAsync(string userId, JsonElement message, CancellationToken cancellationToken = default);

    [Method("Disconnects all connections of the user and unsubscribes the user from every channel.")]
    Task RemoveAsync(string userId, CancellationToken cancellationToken = default);

    [Method("Returns the client URL of the node that serves the user.")]
    Task<string> GetFrontendServerAsync(string userId, CancellationToken cancellationToken = default);

    [Method("Returns the userIds that have at least one connection open.")]
    Task<IReadOnlyList<string>> ListAllAsync(CancellationToken cancellationToken = default);
}
