using SocketPush.Client.Services;

namespace SocketPush.Node.Services;

/// <summary>auth: sessions kept by this node.</summary>
internal sealed class AuthService(PushState state) : IAuthService
{
    public Task SetAsync(string userId, string sessionId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        Ids.Validate(nameof(sessionId), sessionId);
        state.SetSession(userId, sessionId);
        return Task.CompletedTask;
    }

    public Task<string> CheckAsync(string sessionId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(sessionId), sessionId);
        return state.UserOfSession(sessionId) is { } userId
            ? Task.FromResult(userId)
            : throw new ServiceException(ErrorCodes.AuthorizationFailed, "Authorization failed");
    }

    public Task RemoveAsync(string userId, CancellationToken cancellationToken = default)
    {
        Ids.Validate(nameof(userId), userId);
        state.RemoveSession(userId);
        return Task.CompletedTask;
    }
}
