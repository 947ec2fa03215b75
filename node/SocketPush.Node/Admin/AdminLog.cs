namespace SocketPush.Node.Admin;

/// <summary>Log messages of the admin port.</summary>
internal static partial class AdminLog
{
    [LoggerMessage(EventId = 200, Level = LogLevel.Error, Message = "{Service}.{Method} failed unexpectedly")]
    public static partial void CallFailed(ILogger logger, Exception exception, string service, string method);

    [LoggerMessage(EventId = 201, Level = LogLevel.Warning, Message = "Refused a management call from {Remote}: {Reason}")]
    public static partial void KeyRefused(ILogger logger, string? remote, string reason);

    [LoggerMessage(EventId = 202, Level = LogLevel.Debug, Message = "{Service}.{Method} answered {Code}")]
    public static partial void Called(ILogger logger, string service, string method, string code);
}
