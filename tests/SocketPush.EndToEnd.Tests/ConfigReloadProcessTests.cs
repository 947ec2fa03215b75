using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;

namespace SocketPush.EndToEnd.Tests;

/// <summary>The config file of a running node process edited as an operator would: applied without a restart, refused when broken.</summary>
public sealed class ConfigReloadProcessTests
{
    private const string Before = "options:\n  maxMessageBytes: 1000\n  authenticationTimeout: 60s\n";

    [Fact]
    public async Task An_edit_applies_without_a_restart_and_a_broken_file_is_refused_with_its_line_named()
    {
        await using var node = await NodeProcess.StartAsync(new NodeProcessOptions { NodeId = "e2e-reload", Config = Before });
        using var http = new HttpClient { BaseAddress = node.AdminUrl, Timeout = TimeSpan.FromSeconds(30) };
        var message = new string('x', 500);
        Assert.Equal(HttpStatusCode.OK, await PublishAsync(http, message));
        var debugLine = "manager.status answered ok";
        Assert.DoesNotContain(debugLine, node.OutputSince(0), StringComparison.Ordinal);

        var line = node.OutputLineCount;
        await File.WriteAllTextAsync(node.ConfigPath, "options:\n  maxMessageBytes: 100\n  authenticationTimeout: 1s\nlogging:\n  level: Debug\n");
        await node.WaitForOutputAsync(l => l.Contains("Config version 2 applied", StringComparison.Ordinal), "the reload");

        // The lowered limit refuses what was accepted before; no restart happened.
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, await PublishAsync(http, message));
        Assert.DoesNotContain("SOCKETPUSH READY", node.OutputSince(line), StringComparison.Ordinal);

        // The new authentication timeout closes a connection that never authenticates; the old one would wait a minute.
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://{node.ClientUrl.Authority}/push"), CancellationToken.None);
        await socket.SendAsync(Encoding.UTF8.GetBytes("{\"protocol\":\"json\",\"version\":1}\u001e"), WebSocketMessageType.Text, true, CancellationToken.None);
        await node.WaitForOutputAsync(l => l.Contains("it did not authenticate within 00:00:01", StringComparison.Ordinal), "the connection closed at the new timeout", TimeSpan.FromSeconds(20));

        // Debug lines appear once logging.level says Debug.
        await http.PostAsJsonAsync("/api/manager/status", new { });
        await node.WaitForOutputAsync(l => l.Contains(debugLine, StringComparison.Ordinal), "a debug line");

        // A broken file: refused as a whole, named in the log, the node keeps the last good config and stays ready.
        await File.WriteAllTextAsync(node.ConfigPath, "options:\n  maxMessageBytes: 5000\n  authenticationTimeout: [\n");
        var refused = await node.WaitForOutputAsync(l => l.Contains("Config reload refused", StringComparison.Ordinal), "the refusal");
        Assert.Contains("line ", refused, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, await PublishAsync(http, message));
        using var ready = await http.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("socketpush_config_reloads_total{result=\"refused\"} 1", await http.GetStringAsync("/metrics"), StringComparison.Ordinal);
        Assert.Equal(0, await node.StopAsync());
    }

    private static async Task<HttpStatusCode> PublishAsync(HttpClient http, string message)
    {
        using var response = await http.PostAsJsonAsync("/api/user/publish", new { userId = "reload-user", message });
        return response.StatusCode;
    }
}
