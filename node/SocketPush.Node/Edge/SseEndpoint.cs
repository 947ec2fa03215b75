using SocketPush.Client.Services;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Edge;

/// <summary><c>GET /sse?userId=&amp;sessionId=</c>: a plain Server-Sent Events stream for clients without SignalR.</summary>
internal static class SseEndpoint
{
    public static async Task HandleAsync(
        HttpContext context,
        ClientAuthenticator authenticator,
        ConnectionRegistry registry,
        LiveConfig config,
        EdgeMetrics metrics,
        OutboundQueues queues,
        OwnerRedirect redirect,
        StreamRecovery recovery,
        ILogger<SseClientConnection> logger)
    {
        var userId = context.Request.Query["userId"].ToString();
        if (redirect.OwnerUrl(userId) is { } owner)
        {
            // 307 keeps the method; EventSource follows it to the node that owns the user.
            metrics.Redirected("sse");
            context.Response.Redirect(OwnerRedirect.Target(owner, "/sse", context.Request.Query), permanent: false, preserveMethod: true);
            return;
        }

        if (registry.Full() is { } full)
        {
            // Before the session is looked up: a full node spends nothing on a client it cannot take.
            await RefuseAsync(context, logger, full);
            return;
        }

        var sessionId = context.Request.Query["sessionId"].ToString();
        if (await authenticator.ProblemAsync(userId, sessionId, context.RequestAborted) is { } problem)
        {
            metrics.ConnectionRejected("authorization_failed");
            ClientLog.Refused(logger, problem);
            await AnswerErrorAsync(context, StatusCodes.Status401Unauthorized, ErrorCodes.AuthorizationFailed, ClientAuthenticator.Failure);
            return;
        }

        // EventSource sends the last event id it saw when it reconnects; a first connection may give one in the query.
        var since = context.Request.Headers.TryGetValue("Last-Event-ID", out var lastEventId) ? lastEventId.ToString()
            : context.Request.Query.TryGetValue("since", out var query) ? query.ToString()
            : null;
        var positions = since is null ? null : StreamCursors.ParseToken(since);
        if (since is not null && positions is null)
        {
            metrics.MalformedClientMessage();
            await AnswerErrorAsync(context, StatusCodes.Status400BadRequest, ErrorCodes.InvalidArgument,
                "Last-Event-ID (or since) is not a list of stream positions (u:epoch.offset,c:channelId:epoch.offset); reconnect without it to start from now.");
            return;
        }

        var options = config.Options;
        using var connection = new SseClientConnection(context.TraceIdentifier, userId, queues, context.Abort);
        if (positions is not null)
        {
            // Held before it registers: a live message of these streams waits until what was missed went out.
            connection.Hold(StreamRecovery.StreamsToHold(positions), positions);
        }

        // Registered before the headers go out: a client that has seen the response receives every later publish.
        if (registry.TryAdd(connection) is { } refusal)
        {
            await RefuseAsync(context, logger, refusal);
            return;
        }

        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";

        ClientLog.Connected(logger, userId, connection.Transport, connection.Id);
        try
        {
            await context.Response.Body.FlushAsync(context.RequestAborted);
            // The recovery queues what was missed while the pump writes it out.
            var recovering = positions is null ? Task.CompletedTask : recovery.RecoverAsync(connection, positions, context.RequestAborted);
            await connection.PumpAsync(context.Response.BodyWriter, options.SseKeepAliveInterval, context.RequestAborted);
            await recovering;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The client went away mid-write.
        }
        finally
        {
            registry.Remove(connection);
            if (connection.AbortReason is { } reason)
            {
                ClientLog.Closed(logger, connection.Id, userId, reason);
            }
            else
            {
                ClientLog.Disconnected(logger, userId, connection.Id);
            }
        }
    }

    /// <summary>A connection limit's answer: 503 <c>unavailable</c> when the node is full, 409 <c>limit_exceeded</c> when the user is.</summary>
    private static Task RefuseAsync(HttpContext context, ILogger logger, ConnectionRefusal refusal)
    {
        ClientLog.Refused(logger, refusal.Message);
        return refusal.NodeIsFull
            ? AnswerErrorAsync(context, StatusCodes.Status503ServiceUnavailable, ErrorCodes.Unavailable, refusal.Message)
            : AnswerErrorAsync(context, StatusCodes.Status409Conflict, ErrorCodes.LimitExceeded, refusal.Message);
    }

    /// <summary>A refused stream's answer, in the API's error shape <c>{"error": "...", "code": "..."}</c>.</summary>
    private static Task AnswerErrorAsync(HttpContext context, int status, string code, string message)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new { error = message, code }, context.RequestAborted);
    }
}
