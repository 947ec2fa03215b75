using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using static Microsoft.Playwright.Assertions;

namespace SocketPush.EndToEnd.Tests;

/// <summary>
/// A page of another origin uses the hub with the official JavaScript client on each transport: negotiate with
/// credentials, the transport's own requests (long polling's DELETE included) all pass the browser's CORS checks.
/// </summary>
[Collection(NodeCollection.Name)]
public sealed class CrossOriginHubTests(NodeFixture fixture, ITestOutputHelper output) : PageTest(fixture, output)
{
    [Theory]
    [InlineData("WebSockets")]
    [InlineData("ServerSentEvents")]
    [InlineData("LongPolling")]
    public async Task A_page_of_another_origin_connects_receives_and_stops(string transport)
    {
        var userId = $"cross-{transport}";
        await Fixture.Api.CallAsync("auth", "set", new { userId, sessionId = "s-cross" });
        var node = Fixture.Node.ClientUrl.ToString().TrimEnd('/');
        // The page's own site: another port is another origin. (A page the browser did not fetch from a loopback
        // address may not reach one at all, so the test serves it for real.)
        await using var site = await LoopbackSite.StartAsync(app => app.MapGet("/", () => Results.Content(Page(node, transport, userId), "text/html")));

        var tab = await OpenAsync(site.Url);
        await Expect(tab.Locator("#status")).ToHaveTextAsync($"Connected as {userId}");
        Assert.Equal(1, (await Fixture.Api.CallAsync("user", "publish", new { userId, message = new { over = transport } })).GetInt32());
        await Expect(tab.Locator("#messages li")).ToHaveTextAsync([$"{{\"over\":\"{transport}\"}}"]);

        if (transport == "LongPolling")
        {
            // Its DELETE is a request a page of another origin may only send when the preflight allows the method.
            var delete = await tab.RunAndWaitForResponseAsync(
                () => tab.EvaluateAsync("() => window.hub.stop()"),
                response => response.Request.Method == "DELETE",
                new() { Timeout = 10_000 });
            // 404 when the close message the client sent first has ended the session already (SignalR's answer too).
            Assert.True(delete.Status is 202 or 404, $"DELETE answered {delete.Status}");
        }
        else
        {
            await tab.EvaluateAsync("() => window.hub.stop()");
        }

        await Eventually.TrueAsync(
            async () => !(await Fixture.Api.CallAsync("user", "listAll", new { })).EnumerateArray().Any(u => u.GetString() == userId),
            $"{userId} is no longer connected");
    }

    private static string Page(string node, string transport, string userId) => $$"""
        <!doctype html>
        <meta charset="utf-8">
        <p id="status">connecting</p>
        <ul id="messages"></ul>
        <script src="{{node}}/lib/signalr.min.js"></script>
        <script>
          const status = document.getElementById('status');
          window.hub = new signalR.HubConnectionBuilder()
            .withUrl('{{node}}/push', { transport: signalR.HttpTransportType.{{transport}} })
            .build();
          hub.on('message', m => {
            const item = document.createElement('li');
            item.textContent = JSON.stringify(m.data);
            document.getElementById('messages').append(item);
          });
          hub.start()
            .then(() => hub.invoke('Authenticate', '{{userId}}', 's-cross'))
            .then(user => status.textContent = 'Connected as ' + user, error => status.textContent = 'Failed: ' + error.message);
        </script>
        """;
}
