using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace SocketPush.EndToEnd.Tests;

/// <summary>
/// The client page shows each message's stream position and recovers, with hub method Recover, what was published
/// while it was away: after its connection dropped (SignalR's automatic reconnect), and after Disconnect and Connect.
/// The page is opened through a <see cref="TcpRelay"/> to its node, which the test cuts as a network would drop.
/// </summary>
[Collection(NodeCollection.Name)]
public sealed partial class ClientPageRecoveryTests(NodeFixture fixture, ITestOutputHelper output) : PageTest(fixture, output)
{
    [Fact]
    public async Task AfterTheConnectionDroppedThePageRecoversWhatWasPublishedMeanwhileOnceAndInOrder()
    {
        const string userId = "recover-drop";
        const string channelId = "recover-drop-news";
        var api = Fixture.Api;
        await api.CallAsync("auth", "set", new { userId, sessionId = "s-recover-drop" });
        await api.CallAsync("channel", "subscribe", new { userId, channelId });
        await using var relay = TcpRelay.Start(Fixture.Node.ClientUrl.Port);
        var tab = await OpenAsync(relay.Url);
        await ConnectAsync(tab, userId, "s-recover-drop");
        await Expect(tab.GetByTestId("status")).ToHaveAttributeAsync("data-state", "connected");
        // A first connection has no positions yet: the report only names them.
        await Expect(tab.GetByTestId("recovery")).ToHaveAttributeAsync("data-state", "positions");
        await Expect(tab.GetByTestId("recovery")).ToContainTextAsync($"{channelId} at ");

        await PublishAsync(api, userId, null, "u1", reached: 1);
        await PublishAsync(api, userId, channelId, "c1", reached: 1);
        await Expect(tab.GetByTestId("message")).ToHaveCountAsync(2);
        var channelEpoch = AssertPosition(await ShownAsync(tab), channelId, "c1", 1);

        relay.Cut();
        await Expect(tab.GetByTestId("status")).ToHaveAttributeAsync("data-state", "reconnecting");
        await Eventually.TrueAsync(async () => !(await ConnectedUsersAsync(api)).Contains(userId), "the node dropped the page's connection");
        foreach (var text in new[] { "c2", "c3", "c4" })
        {
            await PublishAsync(api, userId, channelId, text, reached: 0);
        }

        await PublishAsync(api, userId, null, "u2", reached: 0);
        relay.Restore();

        await Expect(tab.GetByTestId("status")).ToHaveAttributeAsync("data-state", "connected");
        await Expect(tab.GetByTestId("recovery")).ToHaveAttributeAsync("data-state", "recovered");
        await Expect(tab.GetByTestId("recovery")).ToHaveTextAsync(
            $"Recovered 1 missed message(s) on your user stream; Recovered 3 missed message(s) on {channelId}.");
        await Expect(LogEntries(tab, "reconnected")).ToHaveCountAsync(1);
        await Expect(tab.GetByTestId("message")).ToHaveCountAsync(6);
        var shown = await ShownAsync(tab);
        Assert.Equal(["c1", "c2", "c3", "c4"], shown.Where(m => m.ChannelId == channelId).Select(m => m.Data));
        Assert.Equal([1L, 2, 3, 4], shown.Where(m => m.ChannelId == channelId).Select(m => m.Offset));
        Assert.All(shown.Where(m => m.ChannelId == channelId), m => Assert.Equal(channelEpoch, m.Epoch));
        Assert.Equal(["u1", "u2"], shown.Where(m => m.Kind == "user").Select(m => m.Data));
        Assert.Equal([1L, 2], shown.Where(m => m.Kind == "user").Select(m => m.Offset));

        // Live again: the next message comes once, at the next offset.
        await PublishAsync(api, userId, channelId, "c5", reached: 1);
        await Expect(tab.GetByTestId("message")).ToHaveCountAsync(7);
        AssertPosition(await ShownAsync(tab), channelId, "c5", 5);
        await ScreenshotAsync(tab, "client-recovered");
    }

    [Fact]
    public async Task DisconnectThenConnectRecoversFromTheLastPositionsAndAnotherUserStartsWithoutThem()
    {
        const string userId = "recover-buttons";
        const string channelId = "recover-buttons-news";
        var api = Fixture.Api;
        await api.CallAsync("auth", "set", new { userId, sessionId = "s-recover-buttons" });
        await api.CallAsync("channel", "subscribe", new { userId, channelId });
        var tab = await OpenClientAsync();
        await ConnectAsync(tab, userId, "s-recover-buttons");
        await Expect(tab.GetByTestId("status")).ToHaveAttributeAsync("data-state", "connected");
        await PublishAsync(api, userId, channelId, "before", reached: 1);
        await Expect(tab.GetByTestId("message")).ToHaveCountAsync(1);

        await tab.GetByTestId("disconnect").ClickAsync();
        await Expect(tab.GetByTestId("status")).ToHaveAttributeAsync("data-state", "disconnected");
        await Eventually.TrueAsync(async () => !(await ConnectedUsersAsync(api)).Contains(userId), "the node dropped the page's connection");
        await PublishAsync(api, userId, channelId, "away 1", reached: 0);
        await PublishAsync(api, userId, channelId, "away 2", reached: 0);
        await tab.GetByTestId("connect").ClickAsync();

        await Expect(tab.GetByTestId("status")).ToHaveAttributeAsync("data-state", "connected");
        await Expect(tab.GetByTestId("recovery")).ToHaveTextAsync($"Nothing missed on your user stream; Recovered 2 missed message(s) on {channelId}.");
        await Expect(tab.GetByTestId("message")).ToHaveCountAsync(3);
        Assert.Equal(["before", "away 1", "away 2"], (await ShownAsync(tab)).Select(m => m.Data));

        // The positions belong to the user: connected as another, the page asks for that user's positions afresh.
        await api.CallAsync("auth", "set", new { userId = "recover-buttons-2", sessionId = "s-recover-buttons-2" });
        await tab.GetByTestId("disconnect").ClickAsync();
        await ConnectAsync(tab, "recover-buttons-2", "s-recover-buttons-2");
        await Expect(tab.GetByTestId("status")).ToHaveAttributeAsync("data-state", "connected");
        await Expect(tab.GetByTestId("recovery")).ToHaveAttributeAsync("data-state", "positions");
    }

    [Fact]
    public async Task AwayLongerThanTheHistoryKeepsThePageSaysTheRecoveryIsIncomplete()
    {
        await using var node = await NodeProcess.StartAsync(new NodeProcessOptions { NodeId = "e2e-tiny-history", ExtraConfig = HistoryConfigs.TwoMessages });
        try
        {
            using var api = new AdminApi(node.AdminUrl);
            const string userId = "recover-late";
            const string channelId = "recover-late-news";
            await api.CallAsync("auth", "set", new { userId, sessionId = "s-recover-late" });
            await api.CallAsync("channel", "subscribe", new { userId, channelId });
            await using var relay = TcpRelay.Start(node.ClientUrl.Port);
            var tab = await OpenAsync(relay.Url);
            await ConnectAsync(tab, userId, "s-recover-late");
            await Expect(tab.GetByTestId("status")).ToHaveAttributeAsync("data-state", "connected");
            await PublishAsync(api, userId, channelId, "seen", reached: 1);
            await Expect(tab.GetByTestId("message")).ToHaveCountAsync(1);

            relay.Cut();
            await Expect(tab.GetByTestId("status")).ToHaveAttributeAsync("data-state", "reconnecting");
            await Eventually.TrueAsync(async () => !(await ConnectedUsersAsync(api)).Contains(userId), "the node dropped the page's connection");
            for (var i = 1; i <= 5; i++)
            {
                await PublishAsync(api, userId, channelId, $"lost {i}", reached: 0);
            }

            relay.Restore();

            await Expect(tab.GetByTestId("status")).ToHaveAttributeAsync("data-state", "connected");
            await Expect(tab.GetByTestId("recovery")).ToHaveAttributeAsync("data-state", "incomplete");
            await Expect(tab.GetByTestId("recovery")).ToHaveTextAsync(
                $"Nothing missed on your user stream; Recovery incomplete for {channelId}: history no longer holds what you missed.");
            // Nothing of what the history no longer held is shown; the page goes on from the stream's position.
            await PublishAsync(api, userId, channelId, "after", reached: 1);
            await Expect(tab.GetByTestId("message")).ToHaveCountAsync(2);
            var shown = await ShownAsync(tab);
            Assert.Equal(["seen", "after"], shown.Select(m => m.Data));
            Assert.Equal([1L, 7], shown.Select(m => m.Offset));
            await ScreenshotAsync(tab, "client-recovery-incomplete");
        }
        finally
        {
            Output.WriteLine("--- e2e-tiny-history output ---");
            Output.WriteLine(node.OutputSince(0));
        }
    }


    private static async Task PublishAsync(AdminApi api, string userId, string? channelId, string text, int reached)
    {
        var result = channelId is null
            ? await api.CallAsync("user", "publish", new { userId, message = text })
            : await api.CallAsync("channel", "publish", new { channelId, message = text });
        Assert.Equal(reached, result.GetInt32());
    }

    private static async Task<List<string>> ConnectedUsersAsync(AdminApi api) =>
        [.. (await api.CallAsync("user", "listAll", new { })).EnumerateArray().Select(u => u.GetString()!)];

    private static ILocator LogEntries(IPage tab, string kind) => tab.Locator($"[data-testid=log-entry][data-event={kind}]");

    /// <summary>The messages the page lists, oldest first.</summary>
    private static async Task<List<Shown>> ShownAsync(IPage tab)
    {
        var shown = new List<Shown>();
        var items = tab.GetByTestId("message");
        for (var i = await items.CountAsync() - 1; i >= 0; i--)
        {
            var item = items.Nth(i);
            var position = await item.GetByTestId("message-position").TextContentAsync() ?? "";
            Assert.Equal(position, await item.GetAttributeAsync("data-position"));
            var match = Position().Match(position);
            Assert.True(match.Success, $"the page shows the position '{position}'");
            shown.Add(new Shown(
                (await item.GetAttributeAsync("data-kind"))!,
                await item.GetAttributeAsync("data-channel-id") is { Length: > 0 } channel ? channel : null,
                JsonSerializer.Deserialize<string>((await item.GetByTestId("message-data").TextContentAsync())!)!,
                match.Groups["epoch"].Value,
                long.Parse(match.Groups["offset"].Value, System.Globalization.CultureInfo.InvariantCulture)));
        }

        return shown;
    }

    /// <summary>Asserts the newest message of <paramref name="channelId"/> and returns its epoch.</summary>
    private static string AssertPosition(List<Shown> shown, string channelId, string data, long offset)
    {
        var newest = shown.Last(m => m.ChannelId == channelId);
        Assert.Equal(data, newest.Data);
        Assert.Equal(offset, newest.Offset);
        return newest.Epoch;
    }

    private sealed record Shown(string Kind, string? ChannelId, string Data, string Epoch, long Offset);

    [GeneratedRegex("^(?<epoch>[a-z0-9]+):(?<offset>[0-9]+)$")]
    private static partial Regex Position();
}
