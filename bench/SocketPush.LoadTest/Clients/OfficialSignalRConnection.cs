using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;

namespace SocketPush.LoadTest.Clients;

/// <summary>The official .NET SignalR client (HubConnection), over whichever transport is asked for.</summary>
internal sealed class OfficialSignalRConnection : BenchConnection
{
    private readonly HubConnection _connection;
    private bool _seen;

    public OfficialSignalRConnection(Uri hubUrl, HttpTransportType transport, LoopbackNetwork network, int index, DeliveryCounters counters)
        : base(counters)
    {
        _connection = new HubConnectionBuilder()
            .WithUrl(hubUrl, transport, options =>
            {
                options.SkipNegotiation = transport == HttpTransportType.WebSockets;
                options.HttpMessageHandlerFactory = _ => network.SharedHandler(index);
                options.WebSocketFactory = async (context, cancellationToken) =>
                {
                    var socket = new ClientWebSocket();
                    socket.Options.KeepAliveInterval = TimeSpan.Zero;
                    await socket.ConnectAsync(context.Uri, network.Invoker(index), cancellationToken);
                    return socket;
                };
            })
            .Build();
        _connection.On<JsonElement>("message", OnMessage);
        _connection.Closed += error =>
        {
            Failure ??= "closed: " + (error?.Message ?? "by server");
            return Task.CompletedTask;
        };
    }

    public override Task ConnectAsync(CancellationToken cancellationToken) => _connection.StartAsync(cancellationToken);

    public override ValueTask DisposeAsync() => _connection.DisposeAsync();

    private void OnMessage(JsonElement message)
    {
        var now = Stopwatch.GetTimestamp();
        if (message.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object
            && data.TryGetProperty("t", out var t) && t.TryGetInt64(out var sent))
        {
            Counters.OnTimestamp(sent, now, ref _seen);
        }
    }
}
