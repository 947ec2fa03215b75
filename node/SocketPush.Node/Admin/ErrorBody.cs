using SocketPush.Client.Services;

namespace SocketPush.Node.Admin;

/// <summary>The body of every error answer: <c>{"error": "...", "code": "..."}</c>.</summary>
internal sealed record ErrorBody(string Error, string Code)
{
    public static int StatusOf(string code) => code switch
    {
        ErrorCodes.UnknownService or ErrorCodes.UnknownMethod => StatusCodes.Status404NotFound,
        ErrorCodes.InvalidArgument or ErrorCodes.MalformedJson => StatusCodes.Status400BadRequest,
        ErrorCodes.MessageTooLarge => StatusCodes.Status413PayloadTooLarge,
        ErrorCodes.LimitExceeded => StatusCodes.Status409Conflict,
        ErrorCodes.RateLimited => StatusCodes.Status429TooManyRequests,
        ErrorCodes.Unauthorized => StatusCodes.Status401Unauthorized,
        ErrorCodes.AuthorizationFailed or ErrorCodes.Forbidden => StatusCodes.Status403Forbidden,
        ErrorCodes.Unavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status500InternalServerError,
    };

    public static Task WriteAsync(HttpContext context, string code, string message)
    {
        context.Response.StatusCode = StatusOf(code);
        return context.Response.WriteAsJsonAsync(new ErrorBody(message, code), context.RequestAborted);
    }
}
