namespace SocketPush.Node.Edge;

/// <summary>Log messages of the client port: connections, authentication, slow consumers.</summary>
internal static partial class ClientLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Debug, Message = "User {UserId} connected over {Transport} ({ConnectionId})")]
    public static partial void Connected(ILogger logger, string userId, ClientTransport transport, string connectionId);

    [LoggerMessage(EventId = 101, Level = LogLevel.Debug, Message = "User {UserId} disconnected ({ConnectionId})")]
    public static partial void Disconnected(ILogger logger, string userId, string connectionId);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Refused a client connection: {Reason}")]
    public static partial void Refused(ILogger logger, string reason);

    [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "Closed connection {ConnectionId}: it did not authenticate within {Timeout}")]
    public static partial void AuthenticationTimedOut(ILogger logger, string connectionId, TimeSpan timeout);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "Closed connection {ConnectionId} of user {UserId}: {Reason}")]
    public static partial void Closed(ILogger logger, string connectionId, string userId, string reason);


    [LoggerMessage(EventId = 108, Level = LogLevel.Information, Message = "Closed connection {ConnectionId}: unreadable client message ({Problem})")]
    public static partial void MalformedHubMessage(ILogger logger, string connectionId, string problem);

    [LoggerMessage(EventId = 109, Level = LogLevel.Information, Message = "Closed connection {ConnectionId}: the client sent nothing for {Timeout}")]
    public static partial void ClientTimedOut(ILogger logger, string connectionId, TimeSpan timeout);

    [LoggerMessage(EventId = 110, Level = LogLevel.Information, Message = "Refused a WebSocket upgrade: {Problem}")]
    public static partial void UpgradeRefused(ILogger logger, string problem);

    [LoggerMessage(EventId = 111, Level = LogLevel.Information, Message = "Closed connection {ConnectionId}: WebSocket frame refused ({Problem})")]
    public static partial void MalformedFrame(ILogger logger, string connectionId, HubServer.FrameProblem problem);

    // The id it had while the cluster moved clients, kept for those who search logs by id.
    [LoggerMessage(EventId = 408, Level = LogLevel.Information, Message = "Asking {Count} connection(s) to move to their user's new owner")]
    public static partial void MovingClients(ILogger logger, int count);

    [LoggerMessage(EventId = 112, Level = LogLevel.Information, Message = "Could not recover the {Stream} of user {UserId}: {Reason}")]
    public static partial void RecoveryFailed(ILogger logger, string userId, string stream, string reason);
}
