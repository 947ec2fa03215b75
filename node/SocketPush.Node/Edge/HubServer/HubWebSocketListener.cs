using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace SocketPush.Node.Edge.HubServer;

/// <summary>
/// Kestrel connection middleware on the client port. It looks at a connection's first request: a WebSocket upgrade
/// to <c>/push</c> (negotiated, with its token as <c>id</c>, or not) becomes a <see cref="WebSocketHubSession"/> on the
/// raw connection; anything else (pages, negotiate, SSE, long polling) goes on to the HTTP server untouched.
/// </summary>
internal sealed class HubWebSocketListener(IServiceProvider services)
{
    /// <summary>A client that has not sent its whole request head by then is handed to HTTP, which times it out.</summary>
    private static readonly TimeSpan HeadTimeout = TimeSpan.FromSeconds(10);

    private HubSessions? _sessions;

    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        // Resolved on first use: the listener is made while Kestrel is configured, before the services exist.
        var sessions = _sessions ??= services.GetRequiredService<HubSessions>();
        var socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket;
        if (socket is not null && sessions.Options.SocketSendBufferBytes is > 0 and var sendBuffer)
        {
            // Every transport's connection, TLS or not: it bounds what a client that stops reading holds in the kernel.
            try
            {
                socket.SendBufferSize = sendBuffer;
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException)
            {
                // Gone already; the read below ends at once.
            }
        }

        if (socket is null || connection.Features.Get<ITlsHandshakeFeature>() is not null)
        {
            // Frames are written straight to the socket, which needs a plain TCP connection.
            await next(connection);
            return;
        }

        var (verdict, request) = await ReadHeadAsync(connection.Transport.Input, sessions.Time, connection.ConnectionClosed);
        if (verdict != UpgradeVerdict.Hub)
        {
            await next(connection);
            return;
        }

        if (Refusal(sessions, request!) is { } refusal)
        {
            await connection.Transport.Output.WriteAsync(HubUpgradeRequest.ErrorResponse(refusal.Status, refusal.Phrase, refusal.Message));
            return;
        }

        var session = new WebSocketHubSession(connection, socket, sessions, request!["userId"], request["sessionId"]);
        await session.RunAsync(request.AcceptResponse());
    }

    private static async Task<(UpgradeVerdict, HubUpgradeRequest?)> ReadHeadAsync(PipeReader input, TimeProvider time, CancellationToken closed)
    {
        using var deadline = new CancellationTokenSource(HeadTimeout, time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(closed, deadline.Token);
        while (true)
        {
            ReadResult read;
            try
            {
                read = await input.ReadAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                return (UpgradeVerdict.NotForHub, null);
            }

            var buffer = read.Buffer;
            var verdict = HubUpgradeRequest.TryParse(buffer, out var request, out var headLength);
            if (verdict == UpgradeVerdict.NeedMoreData && !read.IsCompleted)
            {
                input.AdvanceTo(buffer.Start, buffer.End);
                continue;
            }

            if (verdict == UpgradeVerdict.Hub)
            {
                input.AdvanceTo(buffer.GetPosition(headLength));
                return (verdict, request);
            }

            // Nothing consumed or examined: the HTTP server reads the same bytes from the start.
            input.AdvanceTo(buffer.Start);
            return (UpgradeVerdict.NotForHub, null);
        }
    }

    private static UpgradeRefusal? Refusal(HubSessions sessions, HubUpgradeRequest request)
    {
        if (request.Problem() is { } problem)
        {
            var refusal = request.Version != "13"
                ? new UpgradeRefusal(426, "Upgrade Required", "bad_upgrade", problem)
                : new UpgradeRefusal(400, "Bad Request", "bad_upgrade", problem);
            sessions.Refused(refusal);
            return refusal;
        }

        // Clients that negotiated name their token; those that skipped negotiate have none, and need none.
        return sessions.CheckUpgrade(request.Origin, request.Query.ContainsKey("id") ? request["id"] : null);
    }
}
