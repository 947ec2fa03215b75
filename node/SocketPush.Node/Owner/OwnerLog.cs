namespace SocketPush.Node.Owner;

/// <summary>Log messages of what the owner of a key does on its own: the offline cleanup, a stream's new epoch.</summary>
internal static partial class OwnerLog
{
    [LoggerMessage(EventId = 105, Level = LogLevel.Information, Message = "User {UserId} stayed offline for {Timeout}; unsubscribed from all channels")]
    public static partial void OfflineUserUnsubscribed(ILogger logger, string userId, TimeSpan timeout);

    [LoggerMessage(EventId = 106, Level = LogLevel.Warning, Message = "Could not unsubscribe offline user {UserId}")]
    public static partial void OfflineCleanupFailed(ILogger logger, Exception exception, string userId);

    [LoggerMessage(EventId = 107, Level = LogLevel.Warning, Message = "The stream of {Key} starts a new epoch: continuity could not be shown from this node's copy ({Mine}) and the other replicas' ({Others}); {Quorum} agreeing copies needed")]
    public static partial void NewEpoch(ILogger logger, string key, string mine, string others, int quorum);

}
