using static Microsoft.Playwright.Assertions;

namespace SocketPush.EndToEnd.Tests;

/// <summary>The transport selector of the client page really picks the SignalR transport, and each one delivers.</summary>
[Collection(NodeCollection.Name)]
public sealed class ClientPageTransportTests(NodeFixture fixture, ITestOutputHelper output) : PageTest(fixture, output)
{
    [Theory]
    [InlineData("webSockets", "WebSockets")]
    [InlineData("serverSentEvents", "Server-Sent Events")]
    [InlineData("longPolling", "long polling")]
    public async Task EachTransportConnectsAndReceives(string transport, string shownName)
    {
        var userId = $"transport-{transport}";
        await Fixture.Api.CallAsync("auth", "set", new { userId, sessionId = "s-transport" });
        var tab = await OpenClientAsync();
        var seen = new Lock();
        var webSockets = new List<string>();
        var eventStreams = new List<string>();
        var polls = new List<string>();
        tab.WebSocket += (_, socket) => Record(seen, webSockets, socket.Url);
        tab.Request += (_, request) =>
        {
            var url = new Uri(request.Url);
            if (request.Method != "GET" || url.Scheme != Uri.UriSchemeHttp || !url.AbsolutePath.StartsWith("/push", StringComparison.Ordinal))
            {
                return;
            }

            var accept = request.Headers.GetValueOrDefault("accept", "");
            Record(seen, accept.Contains("text/event-stream", StringComparison.Ordinal) ? eventStreams : polls, request.Url);
        };

        await ConnectAsync(tab, userId, "s-transport", transport);
        await Expect(tab.GetByTestId("status")).ToHaveAttributeAsync("data-state", "connected");
        await Expect(tab.GetByTestId("status")).ToHaveTextAsync($"Connected as user {userId} (transport: {shownName})");

        var reached = await Fixture.Api.CallAsync("user", "publish", new { userId, message = new { over = transport } });
        Assert.Equal(1, reached.GetInt32());
        var newest = tab.GetByTestId("message").First;
        await Expect(newest).ToHaveAttributeAsync("data-kind", "user");
        AssertSameJson($$"""{"over": "{{transport}}"}""", await newest.GetByTestId("message-data").TextContentAsync());

        lock (seen)
        {
            Assert.Equal(transport == "webSockets", webSockets.Count > 0);
            Assert.Equal(transport == "serverSentEvents", eventStreams.Count > 0);
            Assert.Equal(transport == "longPolling", polls.Count > 0);
        }
    }

    private static void Record(Lock seen, List<string> list, string url)
    {
        lock (seen)
        {
            list.Add(url);
        }
    }
}
