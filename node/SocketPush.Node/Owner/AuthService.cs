using SocketPush.Client.Services;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Cluster.Routing;

namespace SocketPush.Node.Owner;

/// <summary>
/// auth on the owner of the key it is called for: <c>u:{userId}</c> for set and remove, <c>s:{sessionId}</c> for
/// check. A session write also updates the session records, which other nodes may own. Ids are validated by the
/// routing layer before the call gets here.
/// </summary>
internal sealed class AuthService(OwnerRecords records, ClusterRouter router)
{
    public async Task SetAsync(string userId, string sessionId, CancellationToken cancellationToken)
    {
        var set = records.SetSession(userId, sessionId);
        var formerUser = await router.AskOwnerAsync(Keys.Session(sessionId), new RecordsBindSession(sessionId, userId), cancellationToken);
        if (set.Value is { } previous && previous != sessionId)
        {
            await router.AskOwnerAsync(Keys.Session(previous), new RecordsUnbindSession(previous, userId), cancellationToken);
        }

        // A session id belongs to one user: handing it to another user takes it from the first.
        if (formerUser.Length > 0)
        {
            await router.AskOwnerAsync(Keys.User(formerUser), new RecordsClearSession(formerUser, sessionId), cancellationToken);
        }

        await set.Replicated;
    }

    public string Check(string sessionId) =>
        records.UserOfSession(sessionId) ?? throw new ServiceException(ErrorCodes.AuthorizationFailed, "Authorization failed");

    public async Task RemoveAsync(string userId, CancellationToken cancellationToken)
    {
        var removed = records.SetSession(userId, null);
        if (removed.Value is { } previous)
        {
            await router.AskOwnerAsync(Keys.Session(previous), new RecordsUnbindSession(previous, userId), cancellationToken);
        }

        await removed.Replicated;
    }
}
