using System.Text.Json;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.Http.Connections.Client;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using SocketPush.Node.Edge;
using SocketPush.Node.Edge.HubServer;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Tests.HubServer;

/// <summary>
/// A real node on loopback ports the OS picked whose clock is a <see cref="FakeTimeProvider"/>: the hub's once-a-second
/// tick (timeouts, keep-alive pings) runs only when a test advances the clock, so nothing is sent unasked.
/// </summary>
internal sealed class FakeClockNode : IAsyncDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private FakeClockNode(TestNode node, FakeTimeProvider time)
    {
        Node = node;
        Time = time;
    }

    public TestNode Node { get; }

    public FakeTimeProvider Time { get; }

    /// <summary>The clock's time when the node started; its hub timer ticks every whole second after it.</summary>
    public DateTimeOffset Started { get; } = Start;

    public HttpClient Admin => Node.Admin;

    public HttpClient Client => Node.Client;

    public string ClientUrl => Node.ClientUrl;

    public int ClientPort => new Uri(ClientUrl).Port;

    public HubSessions Sessions => Node.Service<HubSessions>();

    public ConnectionRegistry Registry => Node.Service<ConnectionRegistry>();

    public static async Task<FakeClockNode> StartAsync(Action<NodeConfig>? configure = null)
    {
        var time = new FakeTimeProvider(Start);
        return new FakeClockNode(await TestNode.StartAsync(configure, time), time);
    }

    public Task<JsonElement> CallAsync(string service, string method, object parameters) => Node.CallAsync(service, method, parameters);

    /// <inheritdoc cref="TestNode.MetricAsync"/>
    public Task<double> MetricAsync(string sample) => Node.MetricAsync(sample);

    /// <summary>Waits until a metric sample reaches a value; counters only grow, so this also catches a double count afterwards.</summary>
    public Task MetricReachesAsync(string sample, double value) =>
        Eventually.TrueAsync(async () => await MetricAsync(sample) >= value, $"{sample} reaches {value}");

    /// <summary>The official client on the WebSocket transport without negotiate, which is what the node's own hub code serves.</summary>
    public HubConnection Hub(string? userId, string? sessionId, bool messagePack = false, Action<HttpConnectionOptions>? options = null)
    {
        var query = userId is null ? "" : $"?userId={Uri.EscapeDataString(userId)}&sessionId={Uri.EscapeDataString(sessionId ?? "")}";
        var builder = new HubConnectionBuilder().WithUrl($"{ClientUrl}/push{query}", o =>
        {
            o.Transports = HttpTransportType.WebSockets;
            o.SkipNegotiation = true;
            options?.Invoke(o);
        });
        if (messagePack)
        {
            builder.AddMessagePackProtocol();
        }

        return builder.Build();
    }

    /// <summary>The user's connections, once the node holds exactly <paramref name="count"/>.</summary>
    public async Task<ClientConnection[]> ConnectionsAsync(string userId, int count)
    {
        await Eventually.TrueAsync(() => Registry.ConnectionsOf(userId).Length == count, $"user {userId} has {count} connection(s)");
        return [.. Registry.ConnectionsOf(userId)];
    }

    public ValueTask DisposeAsync() => Node.DisposeAsync();
}
