using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.FileProviders;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using SocketPush.ConsistentHashing;
using static Microsoft.Playwright.Assertions;

namespace SocketPush.EndToEnd.Tests;

/// <summary>
/// The cluster demo of the README on the local cluster of examples/cluster: a page of one node ends on the node
/// that owns its user, publishes made on any node reach it, the management page shows the members, and a page
/// whose user a joining node takes over follows <c>moved</c>, as do the pages of examples/browser.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed partial class ClusterDemoTests(ClusterFixture fixture, ITestOutputHelper output) : ClusterBrowserTest(fixture, output)
{
    [Fact]
    public async Task ThePageOfN2EndsOnTheOwnerOfItsUserAndReceivesPublishesMadeOnOtherNodes()
    {
        var (n1, n2, n3) = (Fixture.Node("n1"), Fixture.Node("n2"), Fixture.Node("n3"));
        var (userId, owner) = await UserNotOwnedByAsync(n2, "demo");
        await n1.Api.CallAsync("auth", "set", new { userId, sessionId = "s-demo" });
        await n3.Api.CallAsync("channel", "subscribe", new { userId, channelId = "cluster-news" });

        var tab = await OpenAsync(n2.ClientUrl);
        await ConnectAsync(tab, userId, "s-demo");
        await Expect(tab.GetByTestId("status")).ToHaveAttributeAsync("data-state", "connected");
        // n2 sent the page to the owner (negotiate's redirect), and the page says so.
        await Expect(LogEntries(tab, "redirect")).ToHaveTextAsync(new Regex($"{Regex.Escape(n2.Origin)} sent the connection to the node of the user: {Regex.Escape(owner.Origin)}$"));
        await Expect(LogEntries(tab, "connected")).ToHaveTextAsync(new Regex($"Connected to {Regex.Escape(owner.Origin)}$"));
        await Eventually.PassesAsync(
            async () =>
            {
                foreach (var node in Fixture.Nodes)
                {
                    Assert.Equal(node == owner ? 1 : 0, await node.Api.ConnectionsAsync());
                }
            },
            $"{owner.Id} holds the page's connection and no other node holds one");

        Assert.Equal(1, (await n3.Api.CallAsync("user", "publish", new { userId, message = new { from = "n3" } })).GetInt32());
        var messages = tab.GetByTestId("message");
        await Expect(messages).ToHaveCountAsync(1);
        await Expect(messages.First).ToHaveAttributeAsync("data-kind", "user");
        AssertSameJson("""{"from": "n3"}""", await messages.First.GetByTestId("message-data").TextContentAsync());

        Assert.Equal(1, (await n1.Api.CallAsync("channel", "publish", new { channelId = "cluster-news", message = new { from = "n1" } })).GetInt32());
        await Expect(messages).ToHaveCountAsync(2);
        await Expect(messages.First).ToHaveAttributeAsync("data-channel-id", "cluster-news");
        AssertSameJson("""{"from": "n1"}""", await messages.First.GetByTestId("message-data").TextContentAsync());
        await ScreenshotAsync(tab, "cluster-client-on-owner");
    }

    [Fact]
    public async Task TheAdminPageOfN1ShowsTheMembersAliveWithTheirUrlsSharesAndTheRecordsItHolds()
    {
        var n1 = Fixture.Node("n1");
        var admin = await OpenAdminAsync(n1.AdminUrl);

        await Expect(admin.Locator("[data-testid=member][data-state=alive]")).ToHaveCountAsync(3);
        await Expect(admin.GetByTestId("cluster-status")).ToHaveAttributeAsync("data-state", "ready");
        var status = await n1.Api.CallAsync("manager", "status", new { });
        var shownShares = 0.0;
        foreach (var node in Fixture.Nodes)
        {
            var member = status.GetProperty("members").EnumerateArray().Single(m => m.GetProperty("nodeId").GetString() == node.Id);
            var row = admin.Locator($"[data-testid=member][data-node-id={node.Id}]");
            await Expect(row.GetByTestId("member-node-id")).ToHaveTextAsync(node == n1 ? "n1 (this node)" : node.Id);
            await Expect(row.GetByTestId("member-state")).ToHaveTextAsync("alive");
            await Expect(row.GetByTestId("member-incarnation")).ToHaveTextAsync(member.GetProperty("incarnation").GetUInt32().ToString(CultureInfo.InvariantCulture));
            await Expect(row.GetByTestId("member-client-url")).ToHaveTextAsync(node.Origin);
            await Expect(row.GetByTestId("member-client-url")).ToHaveAttributeAsync("href", node.Origin);
            await Expect(row.GetByTestId("member-admin-url")).ToHaveTextAsync(node.AdminUrl.GetLeftPart(UriPartial.Authority));
            await Expect(row.GetByTestId("member-wire-version")).ToHaveTextAsync(member.GetProperty("wireVersion").GetInt32().ToString(CultureInfo.InvariantCulture));
            var shown = await row.GetByTestId("member-ring-share").TextContentAsync() ?? "";
            var share = double.Parse(ShareText().Match(shown).Groups["percent"].Value, CultureInfo.InvariantCulture);
            Assert.InRange(share, (member.GetProperty("ringShare").GetDouble() * 100) - 0.051, (member.GetProperty("ringShare").GetDouble() * 100) + 0.051);
            shownShares += share;
            await Expect(row.GetByTestId("member-state")).ToHaveClassAsync(new Regex(@"\bstate-alive\b"));
        }

        Assert.InRange(shownShares, 99.8, 100.2);
        // What each member holds, as it tells n1; a copy of an earlier test's write may still have been on its way,
        // so until a refresh of the page and a call of the test see the same counts.
        await Eventually.PassesAsync(
            async () =>
            {
                var now = await n1.Api.CallAsync("manager", "status", new { });
                foreach (var member in now.GetProperty("members").EnumerateArray())
                {
                    var row = admin.Locator($"[data-testid=member][data-node-id={member.GetProperty("nodeId").GetString()}]");
                    var records = member.GetProperty("records");
                    Assert.Equal(Count(records, "owned"), await row.GetByTestId("member-owned").TextContentAsync());
                    Assert.Equal(Count(records, "copies"), await row.GetByTestId("member-copies").TextContentAsync());
                    Assert.Equal($"{Count(records, "users")} / {Count(records, "sessions")} / {Count(records, "channels")}", await row.GetByTestId("member-held").TextContentAsync());
                }
            },
            "the page shows the records every member holds, as manager.status says");
        await Expect(admin.GetByTestId("replication")).ToHaveTextAsync("Replication: 3 copies wanted / 3 possible, 0 keys below 3 copies, 0 copies owed.");
        await Expect(admin.GetByTestId("replication")).ToHaveAttributeAsync("data-state", "ok");

        // The page refreshes on its own: a user n1 owns more is counted without a reload.
        var users = status.GetProperty("records").GetProperty("users").GetInt32();
        await Expect(admin.GetByTestId("records-users")).ToHaveTextAsync(users.ToString(CultureInfo.InvariantCulture));
        var (userId, _) = await UserOwnedByAsync(n1, "admin-view");
        await n1.Api.CallAsync("auth", "set", new { userId, sessionId = "s-admin-view" });
        await Expect(admin.GetByTestId("records-users")).ToHaveTextAsync((users + 1).ToString(CultureInfo.InvariantCulture));
        await Expect(admin.GetByTestId("records-sessions")).Not.ToHaveTextAsync("0");
        await ScreenshotAsync(admin, "cluster-admin");
    }

    [Fact]
    public async Task AFourthNodeJoinsEveryNodeAgreesAndThePagesWhoseUserMovedFollowIt()
    {
        var (n1, n2, n3) = (Fixture.Node("n1"), Fixture.Node("n2"), Fixture.Node("n3"));
        // A user that n1 or n3 owns now and n4 will own: the ring every node computes, from the members' ids.
        var virtualNodes = new HashRingOptions { VirtualNodesPerNode = (await n1.Api.CallAsync("manager", "status", new { })).GetProperty("virtualNodes").GetInt32() };
        var before = HashRing.Create(new[] { "n1", "n2", "n3" }, virtualNodes);
        var after = HashRing.Create(new[] { "n1", "n2", "n3", "n4" }, virtualNodes);
        var userId = Enumerable.Range(0, 1000).Select(i => $"mover-{i}").First(u => before.Owner($"u:{u}") != "n2" && after.Owner($"u:{u}") == "n4");
        var formerOwner = Fixture.Node(before.Owner($"u:{userId}"));
        Assert.Equal(formerOwner.Origin, await FrontendServerAsync(n3, userId));

        await n1.Api.CallAsync("auth", "set", new { userId, sessionId = "s-mover" });
        var tab = await OpenAsync(n2.ClientUrl);
        await ConnectAsync(tab, userId, "s-mover");
        await Expect(tab.GetByTestId("status")).ToHaveAttributeAsync("data-state", "connected");
        await Expect(LogEntries(tab, "connected")).ToHaveTextAsync(new Regex($"Connected to {Regex.Escape(formerOwner.Origin)}$"));

        // The pages of examples/browser, from a site of their own, pointed at n2 like the client page.
        await using var site = await LoopbackSite.StartAsync(app =>
            app.UseStaticFiles(new StaticFileOptions { FileProvider = new PhysicalFileProvider(Repository.Path("examples/browser")) }));
        var examples = new List<IPage>();
        foreach (var page in new[] { "signalr.html", "eventsource.html" })
        {
            var example = await OpenAsync(new Uri(site.Url, $"{page}?server={Uri.EscapeDataString(n2.Origin)}&userId={userId}&sessionId=s-mover"));
            await Expect(example.Locator("#status")).ToHaveTextAsync($"Connected as user {userId}");
            examples.Add(example);
        }

        // signalr.html authenticates after connecting, so n2 serves it and names the owner with `moved` at once.
        await Expect(ExampleLog(examples[0], $"moved: user {userId} belongs to node {formerOwner.Id} at {formerOwner.Origin}")).ToHaveCountAsync(1);
        await Eventually.PassesAsync(async () => Assert.Equal(3, await formerOwner.Api.ConnectionsAsync()), $"{formerOwner.Id} holds the three pages' connections");

        ClusterNode? n4 = null;
        try
        {
            n4 = await Fixture.AddNodeAsync();
            Assert.Equal("n4", n4.Id);
            await Eventually.PassesAsync(AllAgreeAsync, "all four nodes list four alive members with the same ring shares", TimeSpan.FromSeconds(30));
            Assert.Equal(n4.Origin, await FrontendServerAsync(n1, userId));

            // The former owner sent `moved` {url, nodeId}; the page connected to n4 as the same user.
            await Expect(LogEntries(tab, "moved")).ToHaveTextAsync(new Regex($"moved: user {userId} now belongs to node n4 at {Regex.Escape(n4.Origin)}; reconnecting there$"));
            await Expect(LogEntries(tab, "connected").First).ToHaveTextAsync(new Regex($"Connected to {Regex.Escape(n4.Origin)}$"));
            await Expect(tab.GetByTestId("status")).ToHaveAttributeAsync("data-state", "connected");
            foreach (var example in examples)
            {
                await Expect(ExampleLog(example, $"moved: user {userId} belongs to node n4 at {n4.Origin}")).ToHaveCountAsync(1);
                await Expect(example.Locator("#log li").Last).ToHaveTextAsync(new Regex($"Connecting to {Regex.Escape(n4.Origin)}$"));
                await Expect(example.Locator("#status")).ToHaveTextAsync($"Connected as user {userId}");
            }

            await Eventually.PassesAsync(async () => Assert.Equal(3, await n4.Api.ConnectionsAsync()), "n4 holds the three pages' connections");

            Assert.Equal(3, (await n3.Api.CallAsync("user", "publish", new { userId, message = new { after = "join" } })).GetInt32());
            var newest = tab.GetByTestId("message").First;
            await Expect(newest).ToHaveAttributeAsync("data-kind", "user");
            AssertSameJson("""{"after": "join"}""", await newest.GetByTestId("message-data").TextContentAsync());
            foreach (var example in examples)
            {
                await Expect(example.Locator("#messages li")).ToHaveTextAsync(["to me: {\"after\":\"join\"}"]);
            }

            var admin = await OpenAdminAsync(n4.AdminUrl);
            await Expect(admin.Locator("[data-testid=member][data-state=alive]")).ToHaveCountAsync(4);
            await ScreenshotAsync(tab, "cluster-client-moved");
        }
        finally
        {
            // The other tests expect the three nodes the fixture started.
            if (n4 is not null)
            {
                await Fixture.StopNodeAsync(n4.Id);
                await Eventually.PassesAsync(AllAgreeAsync, "n1, n2 and n3 list three alive members again", TimeSpan.FromSeconds(30));
            }
        }
    }

    /// <summary>Every node lists every node of the fixture alive, agrees on the ring, and computes the same shares.</summary>
    private async Task AllAgreeAsync()
    {
        var nodes = Fixture.Nodes;
        var views = await Task.WhenAll(nodes.Select(n => n.Api.CallAsync("manager", "status", new { })));
        var expected = nodes.Select(n => n.Id).Order(StringComparer.Ordinal).ToList();
        Dictionary<string, double>? firstShares = null;
        foreach (var view in views)
        {
            var alive = view.GetProperty("members").EnumerateArray().Where(m => m.GetProperty("state").GetString() == "alive").ToList();
            Assert.Equal(expected, alive.Select(m => m.GetProperty("nodeId").GetString()!).Order(StringComparer.Ordinal));
            Assert.True(view.GetProperty("ringAgreed").GetBoolean(), view.ToString());
            var shares = alive.ToDictionary(m => m.GetProperty("nodeId").GetString()!, m => m.GetProperty("ringShare").GetDouble());
            firstShares ??= shares;
            Assert.Equal(firstShares, shares);
        }
    }

    private static string Count(System.Text.Json.JsonElement records, string name) =>
        records.GetProperty(name).GetInt32().ToString(CultureInfo.InvariantCulture);

    private static ILocator ExampleLog(IPage example, string text) => example.Locator("#log li", new() { HasText = text });

    [GeneratedRegex(@"^(?<percent>\d+\.\d) %$")]
    private static partial Regex ShareText();
}
