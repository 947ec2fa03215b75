using Microsoft.AspNetCore.Http.Connections;

namespace SocketPush.LoadTest.Clients;

/// <summary>Transports the harness speaks, by the names used on the command line and in results.</summary>
internal static class Transports
{
    public const string WebSocket = "websocket";
    public const string ServerSentEvents = "sse";
    public const string LongPolling = "longpolling";
    public const string PlainSse = "plain-sse";
}

internal static class ConnectionFactory
{
    public static BenchConnection Create(ConnectionSpec spec, string signalRClient, LoopbackNetwork network, int index, DeliveryCounters counters)
    {
        var baseUri = new Uri(spec.ClientUrl.TrimEnd('/') + "/");
        var user = Uri.EscapeDataString(spec.UserId);
        var session = Uri.EscapeDataString(spec.SessionId);
        switch (spec.System)
        {
            case Systems.SystemNames.SocketPush:
            case Systems.SystemNames.SocketPushCluster:
                var hub = new Uri(baseUri, $"push?userId={user}&sessionId={session}");
                return spec.Transport switch
                {
                    Transports.WebSocket when signalRClient == "raw" =>
                        new RawSignalRConnection(ToWebSocket(hub), network.Invoker(index), counters),
                    Transports.WebSocket =>
                        new OfficialSignalRConnection(hub, HttpTransportType.WebSockets, network, index, counters),
                    Transports.ServerSentEvents =>
                        new OfficialSignalRConnection(hub, HttpTransportType.ServerSentEvents, network, index, counters),
                    Transports.LongPolling =>
                        new OfficialSignalRConnection(hub, HttpTransportType.LongPolling, network, index, counters),
                    Transports.PlainSse =>
                        new PlainSseConnection(new Uri(baseUri, $"sse?userId={user}&sessionId={session}"), network.Invoker(index), counters),
                    _ => throw new ArgumentException($"SocketPush has no transport '{spec.Transport}'"),
                };
            case Systems.SystemNames.SocketIo:
                var query = $"socket.io/?EIO=4&transport=websocket&userId={user}";
                if (spec.Channel is not null)
                {
                    query += "&channel=" + Uri.EscapeDataString(spec.Channel);
                }

                return new SocketIoConnection(ToWebSocket(new Uri(baseUri, query)), network.Invoker(index), counters);
            case Systems.SystemNames.Nchan:
                // One subscriber connection per user: the fan-out channel, or the user's own channel.
                var channel = spec.Channel ?? Systems.NchanSystem.UserChannel(spec.UserId);
                return new NchanConnection(ToWebSocket(new Uri(baseUri, "sub/" + Uri.EscapeDataString(channel))), network.Invoker(index), counters);
            default:
                throw new ArgumentException($"unknown system '{spec.System}'");
        }
    }

    /// <summary>
    /// A SocketPush client over WebSockets that recovers the channel's stream (<see cref="RecoveringConnection"/>): it connects
    /// with its user id alone in the URL and authenticates with Recover, first at <see cref="ConnectionSpec.ClientUrl"/>, after a
    /// disconnect at <paramref name="reconnectUrl"/>.
    /// </summary>
    public static BenchConnection CreateRecovering(ConnectionSpec spec, string reconnectUrl, LoopbackNetwork network, int index, DeliveryCounters counters, int maxSequence)
    {
        Uri Hub(string clientUrl) => ToWebSocket(new Uri(new Uri(clientUrl.TrimEnd('/') + "/"), "push?userId=" + Uri.EscapeDataString(spec.UserId)));
        return new RecoveringConnection(
            Hub(spec.ClientUrl), Hub(reconnectUrl), spec.UserId, spec.SessionId,
            spec.Channel ?? throw new ArgumentException("a recovering client needs the channel"), network.Invoker(index), counters, maxSequence);
    }

    private static Uri ToWebSocket(Uri http) =>
        new UriBuilder(http) { Scheme = http.Scheme == Uri.UriSchemeHttps ? "wss" : "ws" }.Uri;
}
