using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace SocketPush.EndToEnd.Tests;

/// <summary>The socket-push demo of issue 2, walked on the two pages of a real node in headless Chromium.</summary>
[Collection(NodeCollection.Name)]
public sealed partial class DemoPagesTests(NodeFixture fixture, ITestOutputHelper output) : PageTest(fixture, output)
{
    [Fact]
    public async Task TheFourDemoStepsWorkOnThePagesInTwoTabs()
    {
        // Step 2: the management interface, auth.set through its form.
        var admin = await OpenAdminAsync();
        var setResult = await CallInAdminAsync(admin, "auth.set", ("userId", "1"), ("sessionId", "test"));
        await Expect(setResult).ToHaveAttributeAsync("data-state", "ok");
        await Expect(setResult).ToContainTextAsync("200");

        // Step 3: the client page, twice (two tabs of the same user).
        IPage[] tabs = [await OpenClientAsync(), await OpenClientAsync()];
        foreach (var tab in tabs)
        {
            await ConnectAsync(tab, "1", "test");
        }

        foreach (var tab in tabs)
        {
            await Expect(tab.GetByTestId("status")).ToHaveTextAsync(ConnectedAsUser1());
            await Expect(tab.GetByTestId("status")).ToHaveAttributeAsync("data-state", "connected");
        }

        // Step 4: user.publish with a JSON message reaches both tabs.
        const string userMessage = """{"text": "hello from the admin page", "n": 1, "tags": ["a", "b"]}""";
        var publishResult = await CallInAdminAsync(admin, "user.publish", ("userId", "1"), ("message", userMessage));
        await Expect(publishResult).ToHaveAttributeAsync("data-state", "ok");
        await Expect(publishResult).ToContainTextAsync("\"result\": 2");
        foreach (var tab in tabs)
        {
            var newest = tab.GetByTestId("message").First;
            await Expect(newest).ToHaveAttributeAsync("data-kind", "user");
            AssertSameJson(userMessage, await newest.GetByTestId("message-data").TextContentAsync());
            await Expect(newest.GetByTestId("message-time")).ToHaveTextAsync(ClockTime());
        }

        // ... and channel.subscribe then channel.publish.
        var subscribeResult = await CallInAdminAsync(admin, "channel.subscribe", ("userId", "1"), ("channelId", "news"));
        await Expect(subscribeResult).ToHaveAttributeAsync("data-state", "ok");
        const string channelMessage = """{"headline": "SocketPush works", "at": "2025-01-01T00:00:00Z"}""";
        var channelResult = await CallInAdminAsync(admin, "channel.publish", ("channelId", "news"), ("message", channelMessage));
        await Expect(channelResult).ToHaveAttributeAsync("data-state", "ok");
        await Expect(channelResult).ToContainTextAsync("\"result\": 2");
        foreach (var tab in tabs)
        {
            var messages = tab.GetByTestId("message");
            await Expect(messages).ToHaveCountAsync(2);
            // Newest first: the channel message above the user message.
            await Expect(messages.Nth(0)).ToHaveAttributeAsync("data-kind", "channel");
            await Expect(messages.Nth(0)).ToHaveAttributeAsync("data-channel-id", "news");
            await Expect(messages.Nth(0).GetByTestId("message-channel")).ToHaveTextAsync("channel news");
            AssertSameJson(channelMessage, await messages.Nth(0).GetByTestId("message-data").TextContentAsync());
            await Expect(messages.Nth(1)).ToHaveAttributeAsync("data-kind", "user");
            await Expect(tab.GetByTestId("message-count")).ToHaveTextAsync("2");
        }

        await ScreenshotAsync(tabs[1], "client-two-messages");
        await ScreenshotAsync(admin, "admin-after-publish");

        // A third tab with a wrong session is refused, and says so.
        var intruder = await OpenClientAsync();
        await ConnectAsync(intruder, "1", "not-the-session");
        await Expect(intruder.GetByTestId("status")).ToHaveAttributeAsync("data-state", "error");
        await Expect(intruder.GetByTestId("status")).ToContainTextAsync("Authorization failed");
        await Expect(intruder.GetByTestId("connect")).ToBeEnabledAsync();
        await ScreenshotAsync(intruder, "client-wrong-session");

        // The refused tab does not count: the next publish still reaches exactly the two tabs.
        var secondPublish = await CallInAdminAsync(admin, "user.publish", ("userId", "1"), ("message", "\"second\""));
        await Expect(secondPublish).ToContainTextAsync("\"result\": 2");
        foreach (var tab in tabs)
        {
            await Expect(tab.GetByTestId("message")).ToHaveCountAsync(3);
            await Expect(tab.GetByTestId("message").First.GetByTestId("message-data")).ToHaveTextAsync("\"second\"");
        }

        await Expect(intruder.GetByTestId("message")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task DisconnectStopsDeliveryToThatTab()
    {
        await Fixture.Api.CallAsync("auth", "set", new { userId = "leaver", sessionId = "s-leaver" });
        var tab = await OpenClientAsync();
        await ConnectAsync(tab, "leaver", "s-leaver");
        await Expect(tab.GetByTestId("status")).ToHaveAttributeAsync("data-state", "connected");
        // "Connected" is shown only once the node has registered the connection.
        Assert.Contains("leaver", await ConnectedUsersAsync());

        await tab.GetByTestId("disconnect").ClickAsync();
        await Expect(tab.GetByTestId("status")).ToHaveAttributeAsync("data-state", "disconnected");
        await Expect(tab.GetByTestId("status")).ToHaveTextAsync("Disconnected");
        await Expect(tab.GetByTestId("connect")).ToBeEnabledAsync();

        // The node learns of the close on its own schedule; then nothing reaches the tab any more.
        await Eventually.TrueAsync(async () => !(await ConnectedUsersAsync()).Contains("leaver"), "the node dropped the connection");
        var reached = await Fixture.Api.CallAsync("user", "publish", new { userId = "leaver", message = "after" });
        Assert.Equal(0, reached.GetInt32());
        await Expect(tab.GetByTestId("message")).ToHaveCountAsync(0);
    }

    private async Task<List<string>> ConnectedUsersAsync() =>
        [.. (await Fixture.Api.CallAsync("user", "listAll", new { })).EnumerateArray().Select(u => u.GetString()!)];

    [GeneratedRegex(@"^Connected as user 1 \(")]
    private static partial Regex ConnectedAsUser1();

    [GeneratedRegex(@"^\d\d:\d\d:\d\d\.\d\d\d$")]
    private static partial Regex ClockTime();
}
