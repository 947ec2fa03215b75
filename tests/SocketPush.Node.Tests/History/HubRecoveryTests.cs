using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Configuration;
using SocketPush.Node.Edge;

namespace SocketPush.Node.Tests.History;

/// <summary>
/// Recovery over the official .NET SignalR client against a real node: a client that authenticates with
/// <c>Recover(userId, sessionId, since)</c> rather than in its URL receives, after a reconnect, what its streams
/// missed, in order and once, and then live messages with the next offsets.
/// </summary>
public sealed class HubRecoveryTests : IAsyncLifetime
{
    private const string Session = "s";

    private TestNode _node = null!;

    /// <summary>A connection's send queue holds this many: a recovery of more must pace itself.</summary>
    private const int QueueBound = 64;

    /// <summary>Streams keep more than any test here publishes, so every recovery is complete.</summary>
    public async Task InitializeAsync() => _node = await TestNode.StartAsync(c =>
    {
        c.History.Channels = [new HistoryRule { Match = "*", Size = 100_000 }];
        c.History.Users = [new HistoryRule { Match = "*", Size = 100_000 }];
        c.Options.MaxQueuedMessagesPerConnection = QueueBound;
    });

    public async Task DisposeAsync() => await _node.DisposeAsync();

    /// <summary>A user with a session, subscribed to <paramref name="channel"/>.</summary>
    private async Task SetUpAsync(string user, string channel)
    {
        await _node.CallAsync("auth", "set", new { userId = user, sessionId = Session });
        await _node.CallAsync("channel", "subscribe", new { userId = user, channelId = channel });
    }

    private Task<int> PublishAsync(string user, string? channel, int n) => channel is null
        ? _node.CallAsync("user", "publish", new { userId = user, message = new { n } }).ContinueWith(t => t.Result.GetInt32(), TaskScheduler.Default)
        : _node.CallAsync("channel", "publish", new { channelId = channel, message = new { n } }).ContinueWith(t => t.Result.GetInt32(), TaskScheduler.Default);

    /// <summary>
    /// Reads <paramref name="count"/> messages, each of which must be the next offset of its stream in the stream's
    /// epoch after <paramref name="positions"/> (which it moves on), and returns their <c>n</c>s per stream. With
    /// <paramref name="startAnywhere"/>, the first message of a stream without a position starts it.
    /// </summary>
    internal static async Task<Dictionary<string, List<int>>> ReadNextAsync(
        ChannelReader<JsonElement> inbox, Dictionary<string, StreamPosition> positions, int count, bool startAnywhere = false)
    {
        var ns = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var message = await TestNode.NextAsync(inbox);
            var stream = Positions.StreamOf(message);
            var position = Positions.Of(message);
            if (positions.TryGetValue(stream, out var last))
            {
                Assert.True(position == last with { Offset = last.Offset + 1 }, $"stream '{stream}' at {last} received {position}: {message}");
            }
            else
            {
                Assert.True(startAnywhere, $"a message of stream '{stream}', which has no position: {message}");
            }

            positions[stream] = position;
            (ns.TryGetValue(stream, out var list) ? list : ns[stream] = []).Add(message.GetProperty("data").GetProperty("n").GetInt32());
        }

        return ns;
    }

    [Theory]
    [InlineData(HttpTransportType.WebSockets)]
    [InlineData(HttpTransportType.ServerSentEvents)]
    [InlineData(HttpTransportType.LongPolling)]
    public async Task A_new_connection_recovers_what_the_last_one_missed_in_order_and_once_then_goes_on_live(HttpTransportType transport)
    {
        var user = $"rec-{transport}";
        var channel = $"news/{transport}";
        await SetUpAsync(user, channel);
        // Published before any client: a Recover without positions starts after it.
        Assert.Equal(0, await PublishAsync(user, null, 0));

        await using var first = _node.Hub(null, null, transport);
        var inbox = TestNode.Inbox(first);
        var reports = TestNode.Inbox(first, RecoveryEvent);
        await first.StartAsync();
        var report = await first.InvokeAsync<JsonElement>("Recover", user, Session, "");

        var positions = Positions.OfReport(report);
        Assert.Equal(["", channel], positions.Keys.Order(StringComparer.Ordinal));
        Assert.All(Positions.RecoveredOf(report).Values, recovered => Assert.Null(recovered));
        Assert.Equal(1, positions[""].Offset);
        Assert.Equal(0, positions[channel].Offset);
        Assert.True(JsonElement.DeepEquals(report, await TestNode.NextAsync(reports)), "the streams event is the report Recover answered");

        for (var n = 1; n <= 2; n++)
        {
            Assert.Equal(1, await PublishAsync(user, null, n));
            Assert.Equal(1, await PublishAsync(user, channel, n));
        }

        var live = await ReadNextAsync(inbox, positions, 4);
        Assert.Equal([1, 2], live[""]);
        Assert.Equal([1, 2], live[channel]);
        var token = Positions.Token(positions);
        await first.StopAsync();
        await _node.WaitForConnectionsAsync(user, 0);

        const int Missed = 5;
        for (var n = 3; n < 3 + Missed; n++)
        {
            Assert.Equal(0, await PublishAsync(user, null, n));
            Assert.Equal(0, await PublishAsync(user, channel, n));
        }

        var recoveredBefore = await _node.MetricAsync("socketpush_recoveries_total{result=\"recovered\"}");
        var messagesBefore = await _node.MetricAsync("socketpush_messages_recovered_total");
        await using var second = _node.Hub(null, null, transport);
        var inbox2 = TestNode.Inbox(second);
        var reports2 = TestNode.Inbox(second, RecoveryEvent);
        await second.StartAsync();
        var recovery = await second.InvokeAsync<JsonElement>("Recover", user, Session, token);

        Assert.All(Positions.RecoveredOf(recovery).Values, recovered => Assert.True(recovered));
        Assert.Equal(positions[""] with { Offset = positions[""].Offset + Missed }, Positions.OfReport(recovery)[""]);
        Assert.Equal(positions[channel] with { Offset = positions[channel].Offset + Missed }, Positions.OfReport(recovery)[channel]);
        Assert.True(JsonElement.DeepEquals(recovery, await TestNode.NextAsync(reports2)), "the streams event is the report Recover answered");

        // Published after Recover answered: each stream's live messages follow its recovered ones.
        Assert.Equal(1, await PublishAsync(user, channel, 100));
        Assert.Equal(1, await PublishAsync(user, null, 100));
        var received = await ReadNextAsync(inbox2, positions, 2 * (Missed + 1));
        Assert.Equal([3, 4, 5, 6, 7, 100], received[""]);
        Assert.Equal([3, 4, 5, 6, 7, 100], received[channel]);
        Assert.Equal(recoveredBefore + 2, await _node.MetricAsync("socketpush_recoveries_total{result=\"recovered\"}"));
        Assert.Equal(messagesBefore + (2 * Missed), await _node.MetricAsync("socketpush_messages_recovered_total"));

        // Nothing came twice: the next message is the next publish.
        Assert.Equal(1, await PublishAsync(user, null, 101));
        Assert.Equal([101], (await ReadNextAsync(inbox2, positions, 1))[""]);
    }

    /// <summary>
    /// A client away for more messages than its send queue holds recovers them all: the recovery sends them in parts
    /// as the transport takes them, instead of closing the connection as a slow consumer. Server-Sent Events and long
    /// polling queue every message, so there the bound is met for sure.
    /// </summary>
    [Theory]
    [InlineData(HttpTransportType.WebSockets)]
    [InlineData(HttpTransportType.ServerSentEvents)]
    [InlineData(HttpTransportType.LongPolling)]
    public async Task A_recovery_larger_than_the_send_queue_reaches_a_client_that_reads_in_order_without_closing_it(HttpTransportType transport)
    {
        var user = $"large-{transport}";
        var channel = $"large/{transport}";
        await SetUpAsync(user, channel);
        Dictionary<string, StreamPosition> positions;
        await using (var first = _node.Hub(null, null, transport))
        {
            await first.StartAsync();
            positions = Positions.OfReport(await first.InvokeAsync<JsonElement>("Recover", user, Session, ""));
        }

        await _node.WaitForConnectionsAsync(user, 0);
        const int Missed = 5 * QueueBound;
        for (var n = 1; n <= Missed; n++)
        {
            Assert.Equal(0, await PublishAsync(user, channel, n));
        }

        var slowBefore = await _node.MetricAsync("socketpush_slow_consumers_closed_total");
        await using var second = _node.Hub(null, null, transport);
        var inbox = TestNode.Inbox(second);
        await second.StartAsync();
        var report = await second.InvokeAsync<JsonElement>("Recover", user, Session, Positions.Token(positions));

        Assert.True(Positions.RecoveredOf(report)[channel], report.ToString());
        Assert.Equal(Enumerable.Range(1, Missed), (await ReadNextAsync(inbox, positions, Missed))[channel]);
        Assert.Equal(1, await PublishAsync(user, channel, Missed + 1));
        Assert.Equal([Missed + 1], (await ReadNextAsync(inbox, positions, 1))[channel]);
        Assert.Equal(slowBefore, await _node.MetricAsync("socketpush_slow_consumers_closed_total"));
        Assert.Equal(HubConnectionState.Connected, second.State);
    }

    [Fact]
    public async Task After_the_server_drops_the_transport_the_official_clients_automatic_reconnect_recovers_with_Recover()
    {
        const string user = "auto-reconnect";
        const string channel = "auto/news";
        await SetUpAsync(user, channel);
        await using var hub = _node.Hub(null, null, HttpTransportType.WebSockets,
            configure: b => b.WithAutomaticReconnect([TimeSpan.Zero, TimeSpan.Zero, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1)]));
        var inbox = TestNode.Inbox(hub);
        var reconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tokenToRecover = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var recovery = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        hub.Reconnected += connectionId =>
        {
            reconnected.TrySetResult();
            // A reconnected transport is not authenticated (the URL carries no credentials): the client recovers,
            // once the test has published what it misses. Not awaited here: Reconnected runs inside the reconnect.
            _ = Task.Run(async () =>
            {
                try
                {
                    recovery.TrySetResult(await hub.InvokeAsync<JsonElement>("Recover", user, Session, await tokenToRecover.Task));
                }
#pragma warning disable CA1031 // Whatever failed fails the test through the awaited result.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    recovery.TrySetException(e);
                }
            });
            return Task.CompletedTask;
        };
        await hub.StartAsync();
        var positions = Positions.OfReport(await hub.InvokeAsync<JsonElement>("Recover", user, Session, ""));
        Assert.Equal(1, await PublishAsync(user, channel, 1));
        Assert.Equal(1, await PublishAsync(user, null, 1));
        await ReadNextAsync(inbox, positions, 2);

        // The node closes the transport as it does when it stops: the client may reconnect.
        var session = Assert.Single(_node.Service<ConnectionRegistry>().ConnectionsOf(user));
        session.Abort("test: the transport drops", allowReconnect: true);
        await reconnected.Task.WaitAsync(Eventually.DefaultTimeout);
        Assert.Equal(HubConnectionState.Connected, hub.State);
        for (var n = 2; n <= 4; n++)
        {
            Assert.Equal(0, await PublishAsync(user, channel, n));
            Assert.Equal(0, await PublishAsync(user, null, n));
        }

        tokenToRecover.SetResult(Positions.Token(positions));
        var report = await recovery.Task.WaitAsync(Eventually.DefaultTimeout);
        Assert.All(Positions.RecoveredOf(report).Values, recovered => Assert.True(recovered));
        Assert.Equal(1, await PublishAsync(user, null, 5));
        Assert.Equal(1, await PublishAsync(user, channel, 5));
        var received = await ReadNextAsync(inbox, positions, 8);
        Assert.Equal([2, 3, 4, 5], received[""]);
        Assert.Equal([2, 3, 4, 5], received[channel]);
    }

    /// <summary>
    /// A client recovers again and again while another task publishes to its user and its channel without pause:
    /// across every connection, each stream arrives with every offset once and in order, the recovered messages and
    /// the live ones alike. The first connection recovers without positions, so its channel is held only once the
    /// node knows the user's subscriptions.
    /// </summary>
    [Fact]
    public async Task While_messages_are_published_without_pause_every_recovery_joins_the_live_stream_without_a_gap_or_a_duplicate()
    {
        const string user = "busy";
        const string channel = "busy/news";
        await SetUpAsync(user, channel);
        using var stop = new CancellationTokenSource();
        var published = new int[2];
        async Task PublishAllTheTimeAsync(int stream)
        {
            while (!stop.IsCancellationRequested)
            {
                await PublishAsync(user, stream == 0 ? null : channel, Interlocked.Increment(ref published[stream]));
            }
        }

        var publishers = new[] { Task.Run(() => PublishAllTheTimeAsync(0)), Task.Run(() => PublishAllTheTimeAsync(1)) };
        var positions = new Dictionary<string, StreamPosition>(StringComparer.Ordinal);
        var ns = new Dictionary<string, List<int>>(StringComparer.Ordinal) { [""] = [], [channel] = [] };
        int Published() => Volatile.Read(ref published[0]) + Volatile.Read(ref published[1]);
        var recoveredBefore = await _node.MetricAsync("socketpush_messages_recovered_total");
        var publishedDuringRecovery = 0;
        const int Rounds = 10;
        for (var round = 0; round < Rounds; round++)
        {
            await using var hub = _node.Hub(null, null, HttpTransportType.WebSockets);
            var inbox = TestNode.Inbox(hub);
            await hub.StartAsync();
            var before = Published();
            var report = await hub.InvokeAsync<JsonElement>("Recover", user, Session, Positions.Token(positions));
            publishedDuringRecovery += Published() > before ? 1 : 0;
            foreach (var (stream, recovered) in Positions.RecoveredOf(report))
            {
                Assert.True(round == 0 ? recovered is null : recovered == true, $"round {round}: stream '{stream}' recovered: {recovered}");
            }

            // Messages keep coming: the recovered ones, then live ones, every stream at its next offset each time.
            // Without positions (the first round) the client starts where its first message of each stream is.
            foreach (var (stream, list) in await ReadNextAsync(inbox, positions, 40, startAnywhere: round == 0))
            {
                ns[stream].AddRange(list);
            }

            while (positions.Count < 2)
            {
                foreach (var (stream, list) in await ReadNextAsync(inbox, positions, 1, startAnywhere: true))
                {
                    ns[stream].AddRange(list);
                }
            }

            await hub.StopAsync();
            // Away while a few more are published, which the next connection recovers.
            var away = Published();
            await Eventually.TrueAsync(() => Published() >= away + 10, "10 more messages are published");
        }

        await stop.CancelAsync();
        await Task.WhenAll(publishers);
        // What the test claims happened: messages were recovered, and published while a recovery ran.
        Assert.True(await _node.MetricAsync("socketpush_messages_recovered_total") > recoveredBefore, "no message was recovered");
        Assert.True(publishedDuringRecovery > 0, "no message was published while a recovery ran");
        foreach (var (stream, list) in ns)
        {
            // The n of each publish is its place in the stream: consecutive offsets carry consecutive publishes.
            Assert.Equal(Enumerable.Range(list[0], list.Count), list);
        }
    }

    private const string RecoveryEvent = StreamRecovery.StreamsEvent;
}
