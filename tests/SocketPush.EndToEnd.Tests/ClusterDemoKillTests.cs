using System.Diagnostics;
using System.Text.RegularExpressions;
using SocketPush.ConsistentHashing;
using static Microsoft.Playwright.Assertions;

namespace SocketPush.EndToEnd.Tests;

/// <summary>
/// "Kill a node" of examples/cluster/README.md on a cluster of its own: <c>kill.sh</c> kills the owner of the demo
/// page's user with SIGKILL; the page reconnects through its node to the new owner and receives what the two nodes
/// left publish; the management page of a survivor shows the member dead and the keys at the two copies possible;
/// started again with the same id, the node rejoins and takes its share (and the page) back.
/// </summary>
[Collection(KilledNodeClusterCollection.Name)]
public sealed class ClusterDemoKillTests(ClusterFixture fixture, ITestOutputHelper output) : ClusterBrowserTest(fixture, output)
{
    /// <summary>Gossip declares a killed node dead after its suspicion timeout (seconds); slack for two busy cores.</summary>
    private static readonly TimeSpan FailureDetected = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task TheOwnerOfThePagesUserIsKilledThePageReconnectsToTheNewOwnerAndTheKeysAreBackToTwoCopies()
    {
        var n2 = Fixture.Node("n2");
        var (userId, owner) = await UserNotOwnedByAsync(n2, "crash");
        var other = Fixture.Nodes.Single(n => n != n2 && n != owner);
        var survivors = new[] { n2, other };
        var virtualNodes = new HashRingOptions { VirtualNodesPerNode = (await n2.Api.StatusAsync()).VirtualNodes };
        var newOwner = Fixture.Node(HashRing.Create(survivors.Select(n => n.Id), virtualNodes).Owner($"u:{userId}"));

        await n2.Api.CallAsync("auth", "set", new { userId, sessionId = "s-crash" });
        await other.Api.CallAsync("channel", "subscribe", new { userId, channelId = "crash-news" });
        // The three records (u:, s:, c:) on all three nodes before the kill: a write answers at W = 2 copies.
        await Eventually.PassesAsync(() => EveryMemberHoldsTheUsersRecordsAsync(n2, 3), "every node holds the user, its session and its channel");

        var admin = await OpenAdminAsync(other.AdminUrl);
        var ownerRow = admin.Locator($"[data-testid=member][data-node-id={owner.Id}]");
        await Expect(ownerRow).ToHaveAttributeAsync("data-state", "alive");
        await Expect(admin.GetByTestId("replication")).ToHaveTextAsync("Replication: 3 copies wanted / 3 possible, 0 keys below 3 copies, 0 copies owed.");

        var tab = await OpenAsync(n2.ClientUrl);
        await ConnectAsync(tab, userId, "s-crash");
        await Expect(tab.GetByTestId("status")).ToHaveAttributeAsync("data-state", "connected");
        await Expect(LogEntries(tab, "connected")).ToHaveTextAsync(new Regex($"Connected to {Regex.Escape(owner.Origin)}$"));
        await Eventually.PassesAsync(async () => Assert.Equal(1, await owner.Api.ConnectionsAsync()), $"{owner.Id} holds the page's connection");
        var messages = tab.GetByTestId("message");

        var killed = Stopwatch.StartNew();
        await Fixture.KillNodeAsync(owner.Id);

        // Published while the page's node is dead: the user publish waits for the failure detector to name a new
        // owner of the user (no 503), and both messages reach the page when it recovers on the new owner.
        var whileDead = Task.WhenAll(
            other.Api.SendAsync("user", "publish", new { userId, message = new { during = "kill" } }),
            n2.Api.SendAsync("channel", "publish", new { channelId = "crash-news", message = new { channel = "during kill" } }));

        // The page lost its node and starts over at n2, which sends it to the new owner once gossip has declared
        // the killed node dead (until then n2 still names the killed node).
        await Expect(LogEntries(tab, "reconnecting")).ToHaveTextAsync(new Regex($"Connection to {Regex.Escape(owner.Origin)} lost; reconnecting through {Regex.Escape(n2.Origin)}$"));
        await Expect(LogEntries(tab, "reconnected")).ToHaveTextAsync(
            new Regex($"Reconnected to {Regex.Escape(newOwner.Origin)}$"),
            new() { Timeout = (float)FailureDetected.TotalMilliseconds });
        Output.WriteLine($"The page reconnected {killed.Elapsed.TotalSeconds:0.0} s after the kill.");
        await Expect(tab.GetByTestId("status")).ToHaveAttributeAsync("data-state", "connected");
        Assert.Equal(newOwner.Origin, await FrontendServerAsync(other, userId));
        await Eventually.PassesAsync(async () => Assert.Equal(1, await newOwner.Api.ConnectionsAsync()), $"{newOwner.Id} holds the page's connection");
        var answers = await whileDead;
        Assert.All(answers, answer => Assert.True(answer.Ok, $"{(int)answer.Status} {answer.Body}"));
        await Expect(messages).ToHaveCountAsync(2);
        await Expect(tab.GetByTestId("recovery")).ToContainTextAsync("Recovered");
        var recovered = await messages.Locator("[data-testid=message-data]").AllTextContentsAsync();
        Assert.Contains(recovered, text => text.Contains("\"during\"", StringComparison.Ordinal));
        Assert.Contains(recovered, text => text.Contains("during kill", StringComparison.Ordinal));
        Output.WriteLine($"The page shows the 2 messages published while its node was dead {killed.Elapsed.TotalSeconds:0.0} s after the kill.");

        // Publishes made on the two nodes left reach it: the session and the subscription survived the owner.
        Assert.Equal(1, (await other.Api.CallAsync("user", "publish", new { userId, message = new { after = "kill" } })).GetInt32());
        await Expect(messages).ToHaveCountAsync(3);
        AssertSameJson("""{"after": "kill"}""", await messages.First.GetByTestId("message-data").TextContentAsync());
        Assert.Equal(1, (await n2.Api.CallAsync("channel", "publish", new { channelId = "crash-news", message = new { channel = "after kill" } })).GetInt32());
        await Expect(messages).ToHaveCountAsync(4);
        await Expect(messages.First).ToHaveAttributeAsync("data-channel-id", "crash-news");
        await ScreenshotAsync(tab, "cluster-client-after-kill");

        // The survivor's management page: the killed member marked dead, no records, the keys at 2 of 3 copies.
        await Expect(ownerRow).ToHaveAttributeAsync("data-state", "dead", new() { Timeout = (float)FailureDetected.TotalMilliseconds });
        await Expect(ownerRow.GetByTestId("member-state")).ToHaveTextAsync("dead");
        await Expect(ownerRow.GetByTestId("member-state")).ToHaveClassAsync(new Regex(@"\bstate-dead\b"));
        await Expect(ownerRow.GetByTestId("member-owned")).ToHaveTextAsync("—");
        await Expect(admin.Locator("[data-testid=member][data-state=alive]")).ToHaveCountAsync(2);
        await Expect(admin.GetByTestId("replication")).ToHaveTextAsync("Replication: 3 copies wanted / 2 possible, 0 keys below 3 copies, 0 copies owed.");
        await Expect(admin.GetByTestId("replication")).ToHaveAttributeAsync("data-state", "degraded");
        await ScreenshotAsync(admin, "cluster-admin-after-kill");

        // manager.status on both survivors: nothing below the copies possible, nothing owed, both hold every record.
        foreach (var survivor in survivors)
        {
            await Eventually.PassesAsync(
                async () =>
                {
                    var status = await survivor.Api.StatusAsync();
                    Assert.Equal("dead", status.States[owner.Id]);
                    Assert.True(status.RecordsOf(owner.Id) is null, $"the dead member has records: {status}");
                    Assert.Equal(2, status.CopiesPossible);
                    Assert.Equal(0, status.KeysUnderReplicated);
                    Assert.Equal(0, status.MissingCopies);
                    await EveryMemberHoldsTheUsersRecordsAsync(survivor, 2);
                },
                $"{survivor.Id} reports no key below 2 copies and holds every record",
                FailureDetected);
        }

        Output.WriteLine($"Both survivors report the keys at 2 copies {killed.Elapsed.TotalSeconds:0.0} s after the kill.");

        // Started again with the same id: it rejoins (a new incarnation), gets its records back and its users' pages.
        var restarted = await Fixture.StartAgainAsync(owner.Id);
        await Expect(ownerRow).ToHaveAttributeAsync("data-state", "alive", new() { Timeout = (float)FailureDetected.TotalMilliseconds });
        await Expect(admin.GetByTestId("replication")).ToHaveTextAsync(
            "Replication: 3 copies wanted / 3 possible, 0 keys below 3 copies, 0 copies owed.",
            new() { Timeout = (float)FailureDetected.TotalMilliseconds });
        await Eventually.PassesAsync(() => EveryMemberHoldsTheUsersRecordsAsync(other, 3), $"{owner.Id} holds the user's records again", FailureDetected);
        Assert.Equal(restarted.Origin, await FrontendServerAsync(n2, userId));
        await Expect(LogEntries(tab, "moved")).ToHaveTextAsync(
            new Regex($"moved: user {userId} now belongs to node {owner.Id} at {Regex.Escape(restarted.Origin)}; reconnecting there$"),
            new() { Timeout = (float)FailureDetected.TotalMilliseconds });
        await Expect(LogEntries(tab, "connected").First).ToHaveTextAsync(new Regex($"Connected to {Regex.Escape(restarted.Origin)}$"));
        // The page joins the node's connections once its Recover is answered, after "Connected" is logged.
        await Eventually.PassesAsync(async () => Assert.Equal(1, await restarted.Api.ConnectionsAsync()), $"{restarted.Id} holds the page's connection");
        Assert.Equal(1, (await n2.Api.CallAsync("user", "publish", new { userId, message = new { after = "restart" } })).GetInt32());
        await Expect(messages).ToHaveCountAsync(5);
        AssertSameJson("""{"after": "restart"}""", await messages.First.GetByTestId("message-data").TextContentAsync());

        // Killed again while the page is on it by `moved`: the page starts over at its own node rather than waiting
        // for the node `moved` named, and lands on the owner of the two left.
        await Fixture.KillNodeAsync(owner.Id);
        await Expect(LogEntries(tab, "reconnecting").First).ToHaveTextAsync(
            new Regex($"Connection to {Regex.Escape(restarted.Origin)} lost; starting over through {Regex.Escape(n2.Origin)}$"));
        await Expect(LogEntries(tab, "connected").First).ToHaveTextAsync(
            new Regex($"Connected to {Regex.Escape(newOwner.Origin)}$"),
            new() { Timeout = (float)FailureDetected.TotalMilliseconds });
        await Eventually.PassesAsync(async () => Assert.Equal(1, await newOwner.Api.ConnectionsAsync()), $"{newOwner.Id} holds the page's connection again");
        Assert.Equal(1, (await other.Api.CallAsync("user", "publish", new { userId, message = new { after = "second kill" } })).GetInt32());
        await Expect(messages).ToHaveCountAsync(6);
    }

    /// <summary>
    /// <paramref name="asked"/> lists <paramref name="count"/> members holding records, each exactly the test's user,
    /// session and channel (the only records of this cluster).
    /// </summary>
    private static async Task EveryMemberHoldsTheUsersRecordsAsync(ClusterNode asked, int count)
    {
        var status = await asked.Api.StatusAsync();
        var held = status.States.Keys.Select(id => (Id: id, Records: status.RecordsOf(id))).Where(m => m.Records is not null).ToList();
        Assert.True(held.Count == count, $"{asked.Id} lists {held.Count} members with records, not {count}: {status}");
        foreach (var (id, records) in held)
        {
            Assert.True(records is { Users: 1, Sessions: 1, Channels: 1 }, $"{id} holds {records}, not 1 user, 1 session and 1 channel");
        }
    }
}
