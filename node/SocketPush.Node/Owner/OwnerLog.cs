namespace SocketPush.Node.Owner;

/// <summary>Log messages of what the owner of a key does on its own: the offline cleanup.</summary>
internal static partial class OwnerLog
{
    [LoggerMessage(EventId = 105, Level = LogLevel.Information, Message = "User {UserId} stayed offline for {Timeout}; unsubscribed from all channels")]
    public static partial void OfflineUserUnsubscribed(ILogger logger, string userId, TimeSpan timeout);

    [LoggerMessage(EventId = 106, Level = LogLevel.Warning, Message = "Could not unsubscribe offline user {UserId}")]
    public static partial void OfflineCleanupFailed(ILogger logger, Exception exception, string userId);
}
