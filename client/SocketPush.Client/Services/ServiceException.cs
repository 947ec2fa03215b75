namespace SocketPush.Client.Services;

/// <summary>An error of the management API: a stable code and a message for people.</summary>
public class ServiceException : Exception
{
    public ServiceException()
        : this(ErrorCodes.Internal, "An error occurred.")
    {
    }

    public ServiceException(string message)
        : this(ErrorCodes.Internal, message)
    {
    }

    public ServiceException(string message, Exception innerException)
        : base(message, innerException)
    {
        Code = ErrorCodes.Internal;
    }

    public ServiceException(string code, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
    }

    /// <summary>One of <see cref="ErrorCodes"/>.</summary>
    public string Code { get; }
}

/// <summary>The error codes the API answers with, in <c>{"error": "...", "code": "..."}</c>.</summary>
public static class ErrorCodes
{
    /// <summary>No service of that name (404).</summary>
    public const string UnknownService = "unknown_service";

    /// <summary>The service has no method of that name (404).</summary>
    public const string UnknownMethod = "unknown_method";

    /// <summary>A parameter is missing or invalid (400).</summary>
    public const string InvalidArgument = "invalid_argument";

    /// <summary>The body or a JSON parameter does not parse (400).</summary>
    public const string MalformedJson = "malformed_json";

    /// <summary>The message is larger than <c>options.maxMessageBytes</c> (413).</summary>
    public const string MessageTooLarge = "message_too_large";

    /// <summary>The session id is unknown or belongs to another user (403 over HTTP).</summary>
    public const string AuthorizationFailed = "authorization_failed";

    /// <summary>The admin API key is missing (401).</summary>
    public const string Unauthorized = "unauthorized";

    /// <summary>The admin API key is wrong (403).</summary>
    public const string Forbidden = "forbidden";

    /// <summary>
    /// A limit of the node was reached (409): <c>options.maxSubscriptionsPerUser</c> for channel.subscribe; also the
    /// answer of a client connection beyond <c>options.maxConnectionsPerUser</c>. The message names the limit.
    /// </summary>
    public const string LimitExceeded = "limit_exceeded";

    /// <summary>The API key (or, on a node without keys, the address) made more calls than <c>admin.requestsPerSecond</c> (429); retry after Retry-After seconds.</summary>
    public const string RateLimited = "rate_limited";

    /// <summary>The node that owns the data could not be reached in time, or this node is full (503).</summary>
    public const string Unavailable = "unavailable";

    /// <summary>An unexpected failure on the server (500); the message says no more than that.</summary>
    public const string Internal = "internal";
}
