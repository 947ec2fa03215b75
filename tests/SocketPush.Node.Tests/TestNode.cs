using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SocketPush.Node.Configuration;
using SocketPush.Node.Hosting;

namespace SocketPush.Node.Tests;

/// <summary>A real node on loopback ports the OS picked, plus helpers to call it as a backend and a client would.</summary>
internal sealed class TestNode : IAsyncDisposable
{
    private TestNode(NodeHost host)
    {
        Host = host;
        Admin = new HttpClient { BaseAddress = new Uri(host.Identity.AdminUrl) };
        Client = new HttpClient { BaseAddress = new Uri(host.Identity.ClientUrl), Timeout = Timeout.InfiniteTimeSpan };
    }

    public NodeHost Host { get; }

    public HttpClient Admin { get; }

    public HttpClient Client { get; }

    public string ClientUrl => Host.Identity.ClientUrl;

    public static async Task<TestNode> StartAsync(Action<NodeConfig>? configure = null, TimeProvider? time = null)
    {
        var config = new NodeConfig();
        config.Node.ClientPort = 0;
        config.Admin.Port = 0;
        config.Node.ClusterPort = 0;
        configure?.Invoke(config);
        Assert.Empty(ConfigValidator.Validate(config));
        var host = await NodeHost.StartAsync(config, time, logging: l => l.SetMinimumLevel(LogLevel.Warning));
        return new TestNode(host);
    }

    public T Service<T>()
        where T : notnull => Host.Services.GetRequiredService<T>();

    /// <summary>Calls <c>POST /api/{service}/{method}</c> and returns the result, failing the test on an error answer.</summary>
    public async Task<JsonElement> CallAsync(string service, string method, object parameters)
    {
        var (ok, body) = await TryCallAsync(service, method, parameters);
        Assert.True(ok, $"{service}.{method} answered {body}");
        return body.GetProperty("result");
    }

    /// <summary>Calls <c>POST /api/{service}/{method}</c>; the body is <c>{"result"}</c> on success, <c>{"error", "code"}</c> otherwise.</summary>
    public async Task<(bool Ok, JsonElement Body)> TryCallAsync(string service, string method, object parameters)
    {
        using var response = await Admin.PostAsJsonAsync($"/api/{service}/{method}", parameters);
        return (response.IsSuccessStatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    public HubConnection Hub(string userId, string sessionId, Microsoft.AspNetCore.Http.Connections.HttpTransportType transport, bool messagePack = false)
    {
        var builder = new HubConnectionBuilder()
            .WithUrl($"{ClientUrl}/push?userId={Uri.EscapeDataString(userId)}&sessionId={Uri.EscapeDataString(sessionId)}", transport);
        if (messagePack)
        {
            builder.AddMessagePackProtocol();
        }

        return builder.Build();
    }

    /// <summary>
    /// SignalR completes the client's start before the hub's OnConnectedAsync has run, so a test that publishes
    /// right after connecting first waits until the node has registered the connections.
    /// </summary>
    public Task WaitForConnectionsAsync(string userId, int count) =>
        Eventually.TrueAsync(
            () => Service<SocketPush.Node.Client.ConnectionRegistry>().ConnectionsOf(userId).Length == count,
            $"user {userId} has {count} connection(s) on the node");

    public async ValueTask DisposeAsync()
    {
        Admin.Dispose();
        Client.Dispose();
        await Host.DisposeAsync();
    }
}
