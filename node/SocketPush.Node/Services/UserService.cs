using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Node.Admin;
using SocketPush.Node.Client;

namespace SocketPush.Node.Services;

/// <summary>user: delivery to the connections a user holds on this node.</summary>
internal sealed class UserService(
    PushState state,
    ConnectionRegistry registry,
    MessageDelivery delivery,
    MessageLimit limit,
    NodeIdentity identity,
    NodeMetrics metrics,
    TimeProvider time) : IUserService
{
    public Task<int> PublishAsync(string userId, JsonElement message, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        limit.Check(message);
        metrics.Published("user");
        return Task.FromResult(registry.IsOnline(userId)
            ? delivery.ToUser(new PushMessage("user", null, message, time.GetTimestamp()), userId)
            : 0);
    }

    public Task RemoveAsync(string userId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        foreach (var connection in registry.ConnectionsOf(userId))
        {
            connection.Abort("user.remove", allowReconnect: false);
        }

        state.UnsubscribeAll(userId);
        return Task.CompletedTask;
    }

    public Task<string> GetFrontendServerAsync(string userId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        return Task.FromResult(identity.ClientUrl);
    }

    public Task<IReadOnlyList<string>> ListAllAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(registry.Users());
}
