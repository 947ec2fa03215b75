using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR.Client;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Configuration;
using SocketPush.Node.Tests.HubServer;

namespace SocketPush.Node.Tests.History;

/// <summary>
/// A client away longer than its streams' history keeps (beyond a rule's size, or its age) is told so per stream
/// (<c>recovered: false</c>, with the stream's position now), receives none of the messages it missed and none twice,
/// and goes on with live messages from that position.
/// </summary>
public sealed class IncompleteRecoveryTests
{
    private const string Session = "s";
    private const string Incomplete = "socketpush_recoveries_total{result=\"incomplete\"}";

    private static void KeepFew(NodeConfig config, int size, TimeSpan age)
    {
        config.History.Channels = [new HistoryRule { Match = "*", Size = size, Age = age }];
        config.History.Users = [new HistoryRule { Match = "*", Size = size, Age = age }];
    }

    private static async Task PublishAsync(TestNode node, string user, string? channel, int n) =>
        await (channel is null
            ? node.CallAsync("user", "publish", new { userId = user, message = new { n } })
            : node.CallAsync("channel", "publish", new { channelId = channel, message = new { n } }));

    /// <summary>
    /// Connects with <c>Recover</c> and no positions, receives one live message per stream, disconnects, and returns
    /// the positions the client reached.
    /// </summary>
    private static async Task<Dictionary<string, StreamPosition>> VisitAsync(TestNode node, Func<HubConnection> hub, string user, string channel)
    {
        await node.CallAsync("auth", "set", new { userId = user, sessionId = Session });
        await node.CallAsync("channel", "subscribe", new { userId = user, channelId = channel });
        await using var first = hub();
        var inbox = TestNode.Inbox(first);
        await first.StartAsync();
        var positions = Positions.OfReport(await first.InvokeAsync<JsonElement>("Recover", user, Session, ""));
        await PublishAsync(node, user, null, 1);
        await PublishAsync(node, user, channel, 1);
        await HubRecoveryTests.ReadNextAsync(inbox, positions, 2);
        await first.StopAsync();
        await node.WaitForConnectionsAsync(user, 0);
        return positions;
    }

    /// <summary>Recovers from <paramref name="positions"/>: every stream must say recovered false, at its position now.</summary>
    private static async Task<(ChannelReader<JsonElement> Inbox, Dictionary<string, StreamPosition> Positions)> RecoverIncompleteAsync(
        HubConnection hub, string user, Dictionary<string, StreamPosition> positions, Dictionary<string, StreamPosition> expected)
    {
        var inbox = TestNode.Inbox(hub);
        await hub.StartAsync();
        var report = await hub.InvokeAsync<JsonElement>("Recover", user, Session, Positions.Token(positions));

        Assert.All(Positions.RecoveredOf(report).Values, recovered => Assert.False(recovered));
        Assert.Equal(expected, Positions.OfReport(report));
        return (inbox, Positions.OfReport(report));
    }

    [Fact]
    public async Task Away_for_more_messages_than_a_stream_keeps_the_client_is_told_recovered_false_and_goes_on_live()
    {
        await using var node = await TestNode.StartAsync(c => KeepFew(c, 2, TimeSpan.FromMinutes(2)));
        const string user = "away-size";
        const string channel = "away/size";
        Func<HubConnection> hub = () => node.Hub(null, null, Microsoft.AspNetCore.Http.Connections.HttpTransportType.WebSockets);
        var positions = await VisitAsync(node, hub, user, channel);
        for (var n = 2; n <= 6; n++)
        {
            await PublishAsync(node, user, null, n);
            await PublishAsync(node, user, channel, n);
        }

        var incompleteBefore = await node.MetricAsync(Incomplete);
        await using var second = hub();
        var expected = positions.ToDictionary(p => p.Key, p => p.Value with { Offset = p.Value.Offset + 5 });
        var (inbox, now) = await RecoverIncompleteAsync(second, user, positions, expected);
        Assert.Equal(incompleteBefore + 2, await node.MetricAsync(Incomplete));

        // None of the missed messages (history still holds the last 2) arrives; live ones follow the reported position.
        await PublishAsync(node, user, channel, 7);
        await PublishAsync(node, user, null, 7);
        var live = await HubRecoveryTests.ReadNextAsync(inbox, now, 2);
        Assert.Equal([7], live[""]);
        Assert.Equal([7], live[channel]);
    }

    [Fact]
    public async Task Away_for_longer_than_a_stream_keeps_its_messages_the_client_is_told_recovered_false_and_goes_on_live()
    {
        await using var node = await FakeClockNode.StartAsync(c => KeepFew(c, 100, TimeSpan.FromSeconds(10)));
        const string user = "away-age";
        const string channel = "away/age";
        var positions = await VisitAsync(node.Node, () => node.Hub(null, null), user, channel);
        await PublishAsync(node.Node, user, null, 2);
        await PublishAsync(node.Node, user, channel, 2);
        // Read halfway, which touches the streams: at 11 s their messages are past the age, but the streams are not
        // idle long enough to be forgotten (which would start a new epoch).
        node.Time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(2, (await node.CallAsync("user", "history", new { userId = user })).GetProperty("messages").GetArrayLength());
        Assert.Equal(2, (await node.CallAsync("channel", "history", new { channelId = channel })).GetProperty("messages").GetArrayLength());
        node.Time.Advance(TimeSpan.FromSeconds(6));

        var incompleteBefore = await node.MetricAsync(Incomplete);
        await using var second = node.Hub(null, null);
        var expected = positions.ToDictionary(p => p.Key, p => p.Value with { Offset = p.Value.Offset + 1 });
        var (inbox, now) = await RecoverIncompleteAsync(second, user, positions, expected);
        Assert.Equal(incompleteBefore + 2, await node.MetricAsync(Incomplete));

        await PublishAsync(node.Node, user, null, 3);
        await PublishAsync(node.Node, user, channel, 3);
        var live = await HubRecoveryTests.ReadNextAsync(inbox, now, 2);
        Assert.Equal([3], live[""]);
        Assert.Equal([3], live[channel]);
    }
}
