using System.Text.Json;
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

    /// <summary>Writes the answer with its length, so a client still sending a body it was refused for can read it whole.</summary>
    public static Task WriteAsync(HttpContext context, string code, string message)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new ErrorBody(message, code), ApiJson.Options);
        context.Response.StatusCode = StatusOf(code);
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.ContentLength = body.Length;
        return context.Response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }
}
