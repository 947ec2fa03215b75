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

    /// <summary>
    /// The session's user, from this node's copy; when it has none, from the key's other replicas before refusing: a
    /// node that just became the owner (a join) may not have received the record yet, and a client it was sent to
    /// by `moved` must not be refused for that.
    /// </summary>
    public async Task<string> CheckAsync(string sessionId, CancellationToken cancellationToken)
    {
        if (records.UserOfSession(sessionId) is { } userId)
        {
            return userId;
        }

        var view = router.View;
        foreach (var replica in view.ReplicasOf(Keys.Session(sessionId)).Where(n => n != view.LocalId))
        {
            try
            {
                if (await router.AskAsync(replica, new RecordsUserOfSession(sessionId), cancellationToken) is { Length: > 0 } found)
                {
                    return found;
                }
            }
            catch (ServiceException)
            {
                // A replica that cannot answer knows no more than one that has no copy.
            }
        }

        throw new ServiceException(ErrorCodes.AuthorizationFailed, "Authorization failed");
    }

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
