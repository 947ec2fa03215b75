using System.Net;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;

namespace SocketPush.EndToEnd.Tests;

/// <summary>A node process's own output and /metrics keep its secrets, and its limits refuse the official client with their reason.</summary>
public sealed class SecretsAndLimitsTests
{
    private const string KeyA = "log-audit-key-a-0123456789";
    private const string KeyB = "log-audit-key-b-0123456789";
    private const string Session = "sess-SECRET-7f3a9c2b";
    private const string WrongSession = "sess-WRONG-5e1d44aa";

    [Fact]
    public async Task Session_ids_and_api_keys_appear_neither_in_the_trace_log_nor_in_metrics()
    {
        await using var node = await NodeProcess.StartAsync(new NodeProcessOptions
        {
            NodeId = "e2e-secrets",
            ExtraConfig = $"admin:\n  apiKeys: [{KeyA}, {KeyB}]\nlogging:\n  level: Trace\n",
        });
        const string User = "audit-user";
        using var api = new AdminApi(node.AdminUrl, KeyA);
        await api.CallAsync("auth", "set", new { userId = User, sessionId = Session });
        using (var check = System.Text.Json.JsonDocument.Parse(await api.GetTextAsync($"/auth/check/{Session}")))
        {
            Assert.Equal(User, check.RootElement.GetProperty("result").GetString());
        }

        using (var withB = new AdminApi(node.AdminUrl, KeyB))
        {
            await withB.CallAsync("channel", "subscribe", new { userId = User, channelId = "audit" });
        }

        // Refusals log their reasons: a key one character off, a wrong session in the query, in Authenticate and on SSE.
        using (var wrongKey = new AdminApi(node.AdminUrl, KeyA + "x"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await wrongKey.SendAsync("auth", "set", new { userId = User, sessionId = Session })).Status);
        }

        await using (var refused = new HubConnectionBuilder().WithUrl(new Uri(node.ClientUrl, $"/push?userId={User}&sessionId={WrongSession}")).Build())
        {
            await Assert.ThrowsAnyAsync<Exception>(() => refused.StartAsync());
        }

        using (var http = new HttpClient { BaseAddress = node.ClientUrl })
        using (var sse = await http.GetAsync(new Uri($"/sse?userId={User}&sessionId={WrongSession}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, sse.StatusCode);
        }

        var hub = new HubConnectionBuilder().WithUrl(new Uri(node.ClientUrl, "/push"), o => o.Transports = HttpTransportType.WebSockets).Build();
        await using (hub)
        {
            var delivered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            hub.On<object>("message", _ => delivered.TrySetResult());
            await hub.StartAsync();
            await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync<string>("Authenticate", User, WrongSession));
            Assert.Equal(User, await hub.InvokeAsync<string>("Authenticate", User, Session));
            Assert.Equal(1, (await api.CallAsync("channel", "publish", new { channelId = "audit", message = new { text = "hello" } })).GetInt32());
            await delivered.Task.WaitAsync(Eventually.DefaultTimeout);
        }

        // The disconnect is the last line of the story: once it is out, everything before it is too.
        await node.WaitForOutputAsync(l => l.Contains($"User {User} disconnected", StringComparison.Ordinal), "the hub client's disconnect");
        var log = node.OutputSince(0);
        var metrics = await api.GetTextAsync("/metrics");
        // The log really was verbose: debug lines of the calls and the connection are there.
        Assert.Contains("auth.set answered ok", log, StringComparison.Ordinal);
        Assert.Contains($"User {User} connected over", log, StringComparison.Ordinal);
        Assert.Contains("wrong API key", log, StringComparison.Ordinal);
        foreach (var secret in new[] { Session, WrongSession, KeyA, KeyB, "log-audit-key" })
        {
            Assert.DoesNotContain(secret, log, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, metrics, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_official_client_beyond_maxConnectionsPerUser_fails_to_start_with_the_limit_named()
    {
        await using var node = await NodeProcess.StartAsync(new NodeProcessOptions
        {
            NodeId = "e2e-per-user",
            ExtraConfig = "options:\n  maxConnectionsPerUser: 1\n",
        });
        using var api = new AdminApi(node.AdminUrl);
        await api.CallAsync("auth", "set", new { userId = "one", sessionId = "s-one" });
        var url = new Uri(node.ClientUrl, "/push?userId=one&sessionId=s-one");
        await using var first = new HubConnectionBuilder().WithUrl(url).Build();
        await first.StartAsync();

        await using var second = new HubConnectionBuilder().WithUrl(url).Build();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => second.StartAsync());

        Assert.Contains("options.maxConnectionsPerUser (1)", error.Message, StringComparison.Ordinal);
        Assert.Equal(HubConnectionState.Connected, first.State);
        Assert.Equal(1, (await api.CallAsync("user", "publish", new { userId = "one", message = 1 })).GetInt32());
        var metrics = await api.GetTextAsync("/metrics");
        Assert.Contains("socketpush_connections_rejected_total{reason=\"max_connections_per_user\"} 1", metrics, StringComparison.Ordinal);
    }
}
