using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.Http.Connections.Features;
using Microsoft.AspNetCore.SignalR;
using SocketPush.Node.Admin;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Client;

/// <summary>
/// The SignalR hub at <c>/push</c>. A client authenticates with <c>userId</c> and <c>sessionId</c> in the query
/// string, or, as in socket-push, by calling <see cref="Authenticate"/> within <c>options.authenticationTimeout</c>.
/// </summary>
internal sealed class PushHub(
    ClientAuthenticator authenticator,
    ConnectionRegistry registry,
    LiveConfig config,
    NodeMetrics metrics,
    TimeProvider time,
    ILogger<PushHub> logger) : Hub
{
    // Per-connection state lives in the connection's feature collection, which exists anyway; HubCallerContext.Items
    // would allocate a dictionary for every connection.

    public override async Task OnConnectedAsync()
    {
        var query = Context.GetHttpContext()?.Request.Query;
        var userId = query?["userId"].ToString();
        var sessionId = query?["sessionId"].ToString();
        if (!string.IsNullOrEmpty(userId) || !string.IsNullOrEmpty(sessionId))
        {
            await RegisterAsync(userId, sessionId);
            return;
        }

        var context = Context;
        var timeout = config.Options.AuthenticationTimeout;
        Context.Features.Set(new AuthenticationTimer(time.CreateTimer(
            _ =>
            {
                metrics.ConnectionRejected("authentication_timeout");
                ClientLog.AuthenticationTimedOut(logger, context.ConnectionId, timeout);
                context.Abort();
            },
            null,
            timeout,
            Timeout.InfiniteTimeSpan)));
    }

    /// <summary>Authenticates a connection opened without credentials; returns the userId.</summary>
    public async Task<string> Authenticate(string userId, string sessionId)
    {
        if (Context.Features.Get<HubClientConnection>() is { } existing)
        {
            // Clients that authenticated through the query may call this to learn that the node has registered
            // them (SignalR answers the handshake before OnConnectedAsync runs); the same pair is simply confirmed.
            if (existing.UserId == userId && await authenticator.ProblemAsync(userId, sessionId, Context.ConnectionAborted) is null)
            {
                return userId;
            }

            throw new HubException("This connection is already authenticated as another user.");
        }

        await RegisterAsync(userId, sessionId);
        StopAuthenticationTimer();
        return userId;
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        StopAuthenticationTimer();
        if (Context.Features.Get<HubClientConnection>() is { } connection)
        {
            registry.Remove(connection);
            ClientLog.Disconnected(logger, connection.UserId, connection.Id);
        }

        return Task.CompletedTask;
    }

    private async Task RegisterAsync(string? userId, string? sessionId)
    {
        if (await authenticator.ProblemAsync(userId, sessionId, Context.ConnectionAborted) is { } problem)
        {
            metrics.ConnectionRejected("authorization_failed");
            ClientLog.Refused(logger, problem);
            // HubException's message reaches the client even without detailed errors.
            throw new HubException(ClientAuthenticator.Failure);
        }

        var connection = new HubClientConnection(
            PushHubLifetimeManager.ContextOf(Context), userId!, TransportOf(Context), config.Options.MaxQueuedMessagesPerConnection, metrics, time);
        Context.Features.Set(connection);
        registry.Add(connection);
        ClientLog.Connected(logger, connection.UserId, connection.Transport, connection.Id);
    }

    private void StopAuthenticationTimer()
    {
        if (Context.Features.Get<AuthenticationTimer>() is { } timer)
        {
            Context.Features.Set<AuthenticationTimer>(null);
            timer.Timer.Dispose();
        }
    }

    /// <summary>Closes a connection that has not authenticated in time.</summary>
    private sealed record AuthenticationTimer(ITimer Timer);

    private static ClientTransport TransportOf(HubCallerContext context) =>
        context.Features.Get<IHttpTransportFeature>()?.TransportType switch
        {
            HttpTransportType.ServerSentEvents => ClientTransport.ServerSentEvents,
            HttpTransportType.LongPolling => ClientTransport.LongPolling,
            _ => ClientTransport.WebSockets,
        };
}
