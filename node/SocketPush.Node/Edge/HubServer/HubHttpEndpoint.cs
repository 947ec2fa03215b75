using System.Buffers;
using System.Text;
using Microsoft.AspNetCore.Http.Connections;

namespace SocketPush.Node.Edge.HubServer;

/// <summary>
/// The HTTP side of the hub at <c>/push</c>, as SignalR's clients expect it: <c>POST /push/negotiate</c>, and with the
/// negotiated token as <c>id</c>, <c>GET</c> for the Server-Sent Events stream or a long poll, <c>POST</c> for what the
/// client sends, <c>DELETE</c> to end a long-polling session. WebSockets get here only when
/// <see cref="HubWebSocketListener"/> could not take them off the connection first.
/// </summary>
internal sealed class HubHttpEndpoint(HubConnectionTokens tokens, HubSessions sessions, OwnerRedirect redirect)
{
    /// <summary>The newest negotiate protocol version this server speaks; 1 added the secret connection token.</summary>
    private const int NegotiateVersion = 1;

    private static readonly List<AvailableTransport> Transports =
    [
        new() { Transport = nameof(HttpTransportType.WebSockets), TransferFormats = ["Text", "Binary"] },
        new() { Transport = nameof(HttpTransportType.ServerSentEvents), TransferFormats = ["Text"] },
        new() { Transport = nameof(HttpTransportType.LongPolling), TransferFormats = ["Text", "Binary"] },
    ];

    /// <summary>
    /// <c>POST /push/negotiate</c>: a connection id and token for this node; a client
    /// whose user another node owns is sent there instead, with SignalR's <c>{url, accessToken}</c> answer.
    /// </summary>
    public async Task NegotiateAsync(HttpContext context)
    {
        var query = context.Request.Query;
        // Two nodes whose rings disagree for a moment (a member just died or left) would send a client back and
        // forth until the client's redirect limit; after MaxRedirects it is served where it is (and told `moved`).
        var redirects = int.TryParse(query[RedirectsParameter], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var count) ? count : 0;
        var owner = redirects >= MaxRedirects ? null : redirect.OwnerUrl(query["userId"]);
        if (owner is null && sessions.Registry.Full() is { } full)
        {
            await TextAsync(context, StatusCodes.Status503ServiceUnavailable, full.Message);
            return;
        }

        var response = owner is not null
            ? Redirect(owner, query, redirects + 1)
            : Negotiate(query["negotiateVersion"].ToString());
        if (response is null)
        {
            await TextAsync(context, StatusCodes.Status503ServiceUnavailable, "Too many connections are being negotiated; try again shortly.");
            return;
        }

        var body = new ArrayBufferWriter<byte>(256);
        NegotiateProtocol.WriteResponse(response, body);
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.WrittenCount;
        await context.Response.Body.WriteAsync(body.WrittenMemory, context.RequestAborted);
    }

    /// <summary>The query parameter a redirect adds: how many nodes sent the client on so far.</summary>
    internal const string RedirectsParameter = "redirects";

    /// <summary>Redirects after which a negotiate is answered where it arrives.</summary>
    internal const int MaxRedirects = 2;

    /// <summary>
    /// SignalR's redirect to the node that owns the user; the official clients negotiate again there. The access token is
    /// only there because the clients require one with a redirect: the owner checks the session, not the token.
    /// </summary>
    private NegotiationResponse Redirect(string ownerUrl, IQueryCollection query, int redirects)
    {
        sessions.Metrics.Redirected("negotiate");
        var target = OwnerRedirect.Target(ownerUrl, "/push", query, "negotiateVersion", RedirectsParameter);
        return new NegotiationResponse
        {
            Url = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{target}{(target.Contains('?', StringComparison.Ordinal) ? '&' : '?')}{RedirectsParameter}={redirects}"),
            AccessToken = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)),
        };
    }

    /// <summary>The negotiate answer for the version a client asked for (none: version 0), or null when no token is left.</summary>
    internal NegotiationResponse? Negotiate(string requestedVersion)
    {
        var version = 0;
        // SignalR answers a bad version with 200 and an error, which the clients report as the reason.
        if (requestedVersion.Length > 0 && !int.TryParse(requestedVersion, out version))
        {
            return new NegotiationResponse { Error = "The client requested a non-integer protocol version." };
        }

        if (version < 0)
        {
            return new NegotiationResponse { Error = $"The client requested version '{version}', but the server does not support this version." };
        }

        if (tokens.Issue() is not var (connectionId, token))
        {
            return null;
        }

        version = Math.Min(version, NegotiateVersion);
        return new NegotiationResponse
        {
            Version = version,
            // Version 0 clients name the connection by its id, so the id is the secret there.
            ConnectionId = version == 0 ? token : connectionId,
            ConnectionToken = version == 0 ? null : token,
            AvailableTransports = Transports,
        };
    }

    /// <summary><c>GET /push?id=</c>: the Server-Sent Events stream, or a long poll.</summary>
    public async Task GetAsync(HttpContext context)
    {
        var request = context.Request;
        if (context.WebSockets.IsWebSocketRequest)
        {
            await UpgradeAsync(context);
            return;
        }

        if (TokenOf(context) is not { } token)
        {
            await TextAsync(context, StatusCodes.Status400BadRequest, "Connection ID required");
            return;
        }

        var sse = request.GetTypedHeaders().Accept.Any(a => a.MediaType.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase));
        if (sse)
        {
            await StreamAsync(context, token);
        }
        else
        {
            context.Response.Headers.CacheControl = "no-cache, no-store";
            context.Response.Headers.Pragma = "no-cache";
            context.Response.Headers.Expires = "Thu, 01 Jan 1970 00:00:00 GMT";
            await PollAsync(context, token);
        }
    }

    /// <summary><c>POST /push?id=</c>: hub messages from an SSE or long-polling client.</summary>
    public async Task PostAsync(HttpContext context)
    {
        if (await SessionAsync(context) is not { } session)
        {
            return;
        }

        if (session.Ended)
        {
            await TextAsync(context, StatusCodes.Status404NotFound, "The connection has closed.");
            return;
        }

        PostOutcome outcome;
        try
        {
            outcome = await session.ReceiveBodyAsync(context.Request, context.RequestAborted);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or BadHttpRequestException)
        {
            // The client went away mid-body, or sent more than the server reads in one request.
            await TextAsync(context, StatusCodes.Status400BadRequest, "The request body could not be read.");
            return;
        }

        switch (outcome)
        {
            case PostOutcome.Malformed:
                await TextAsync(context, StatusCodes.Status400BadRequest, session.ProtocolError!);
                break;
            case PostOutcome.Busy:
                await TextAsync(context, StatusCodes.Status409Conflict, "Another POST of this connection is still being read.");
                break;
            default:
                context.Response.ContentType = "text/plain";
                context.Response.ContentLength = 0;
                break;
        }
    }

    /// <summary><c>DELETE /push?id=</c>: a long-polling client stops.</summary>
    public async Task DeleteAsync(HttpContext context)
    {
        if (await SessionAsync(context) is not { } session)
        {
            return;
        }

        if (session is not LongPollingHubSession)
        {
            await TextAsync(context, StatusCodes.Status400BadRequest, "Cannot terminate this connection using the DELETE endpoint.");
            return;
        }

        tokens.Remove(session);
        session.Discard();
        await TextAsync(context, StatusCodes.Status202Accepted, "");
    }

    /// <summary>A WebSocket upgrade that was not its connection's first request, which the listener does not see.</summary>
    private async Task UpgradeAsync(HttpContext context)
    {
        var origin = context.Request.Headers.Origin is { Count: > 0 } header ? header.ToString() : null;
        if (sessions.CheckUpgrade(origin, TokenOf(context)) is { } refusal)
        {
            await TextAsync(context, refusal.Status, refusal.Message);
            return;
        }

        var query = context.Request.Query;
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        await new UpgradedWebSocketHubSession(context.Connection.Id, socket, sessions, query["userId"], query["sessionId"]).RunAsync(context.RequestAborted);
    }

    private async Task StreamAsync(HttpContext context, string token)
    {
        var query = context.Request.Query;
        if (await OpenAsync(context, token, id => new SseHubSession(id, token, sessions, query["userId"], query["sessionId"], context)) is not SseHubSession session)
        {
            return;
        }

        try
        {
            await session.RunAsync();
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The client went away.
        }
        finally
        {
            tokens.Remove(session);
            session.Discard();
        }
    }

    private async Task PollAsync(HttpContext context, string token)
    {
        switch (tokens.Find(token))
        {
            case LongPollingHubSession polling:
                try
                {
                    if (!await polling.PollAsync(context))
                    {
                        tokens.Remove(polling);
                    }
                }
                catch (Exception e) when (e is IOException or OperationCanceledException)
                {
                    // The client went away mid-answer; the client timeout ends the session if it does not poll again.
                }

                return;
            case not null:
                await TextAsync(context, StatusCodes.Status400BadRequest, "Cannot change transports mid-connection");
                return;
        }

        var query = context.Request.Query;
        if (await OpenAsync(context, token, id => new LongPollingHubSession(id, token, sessions, query["userId"], query["sessionId"])) is not null)
        {
            await LongPollingHubSession.AnswerFirstPollAsync(context.Response);
        }
    }

    /// <summary>Starts a session in the place of its negotiated token, or answers why not (unknown, in use, another transport).</summary>
    private async Task<HttpHubSession?> OpenAsync(HttpContext context, string token, Func<string, HttpHubSession> create)
    {
        if (tokens.TryOpen(token, create) is { } session)
        {
            sessions.Track(session);
            return session;
        }

        var (status, text) = tokens.Find(token) switch
        {
            null => (StatusCodes.Status404NotFound, "No Connection with that ID"),
            SseHubSession => (StatusCodes.Status409Conflict, "The connection's stream is already open."),
            _ => (StatusCodes.Status400BadRequest, "Cannot change transports mid-connection"),
        };
        await TextAsync(context, status, text);
        return null;
    }

    private async Task<HttpHubSession?> SessionAsync(HttpContext context)
    {
        if (TokenOf(context) is not { } token)
        {
            await TextAsync(context, StatusCodes.Status400BadRequest, "Connection ID required");
            return null;
        }

        if (tokens.Find(token) is not { } session)
        {
            await TextAsync(context, StatusCodes.Status404NotFound, "No Connection with that ID");
            return null;
        }

        return session;
    }

    private static string? TokenOf(HttpContext context) => context.Request.Query["id"].ToString() is { Length: > 0 } id ? id : null;

    private static Task TextAsync(HttpContext context, int status, string text)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain";
        context.Response.ContentLength = Encoding.UTF8.GetByteCount(text);
        return context.Response.WriteAsync(text, context.RequestAborted);
    }
}
