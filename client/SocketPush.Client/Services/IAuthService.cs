namespace SocketPush.Client.Services;

/// <summary>Session authorization: a client may connect as a user only with that user's current session id.</summary>
[Service("auth", "Binds a session id to a user so that a client holding both may connect.")]
public interface IAuthService
{
    [Method("Sets the session id of a user, replacing the user's previous one.")]
    Task SetAsync(string userId, string sessionId, CancellationToken cancellationToken = default);

    [Method("Returns the userId that owns the session id, or fails with 'Authorization failed'.")]
    Task<string> CheckAsync(string sessionId, CancellationToken cancellationToken = default);

    [Method("Removes the session of a user; clients can no longer connect with it.")]
    Task RemoveAsync(string userId, CancellationToken cancellationToken = default);
}
