using SocketPush.Client.Services;
using SocketPush.Node.Cluster;
using SocketPush.Node.Owner.Records;
using SocketPush.Node.Cluster.Routing;

namespace SocketPush.Node.Owner;

/// <summary>
/// auth on the owner of the key it is called for: <c>u:{userId}</c> for set and remove, <c>s:{sessionId}</c> for
/// check. A session write also updates the session records, which other nodes may own. Ids are validated by the
/// routing layer before the call gets here.
/// </summary>
internal sealed class AuthService(RecordStore store, ClusterRouter router, Replication replication) : IAuthService
{
    public async Task SetAsync(string userId, string sessionId, CancellationToken cancellationToken = default)
    {
        var previous = store.SetSession(userId, sessionId);
        var copied = replication.ReplicateAsync(Keys.User(userId), cancellationToken);
        var formerUser = await router.ForKey<IRecordService>(Keys.Session(sessionId)).BindSessionAsync(sessionId, userId, cancellationToken);
        if (previous is not null && previous != sessionId)
        {
            await router.ForKey<IRecordService>(Keys.Session(previous)).UnbindSessionAsync(previous, userId, cancellationToken);
        }

        // A session id belongs to one user: handing it to another user takes it from the first.
        if (formerUser.Length > 0)
        {
            await router.ForKey<IRecordService>(Keys.User(formerUser)).ClearSessionAsync(formerUser, sessionId, cancellationToken);
        }

        await copied;
    }

    public Task<string> CheckAsync(string sessionId, CancellationToken cancellationToken = default) =>
        store.UserOfSession(sessionId) is { } userId
            ? Task.FromResult(userId)
            : throw new ServiceException(ErrorCodes.AuthorizationFailed, "Authorization failed");

    public async Task RemoveAsync(string userId, CancellationToken cancellationToken = default)
    {
        var previous = store.SetSession(userId, null);
        var copied = replication.ReplicateAsync(Keys.User(userId), cancellationToken);
        if (previous is not null)
        {
            await router.ForKey<IRecordService>(Keys.Session(previous)).UnbindSessionAsync(previous, userId, cancellationToken);
        }

        await copied;
    }
}
