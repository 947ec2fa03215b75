using System.Net;
using System.Text.Json;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Edge;

namespace SocketPush.Node.Tests.History;

/// <summary>
/// Plain SSE recovery as EventSource does it: every event of a stream with history carries the positions reached as
/// its <c>id:</c>, and a reconnect that sends the last one as <c>Last-Event-ID</c> receives what it missed, then the
/// <c>streams</c> event, then live events. The reconnect is made with curl as well as HttpClient.
/// </summary>
public sealed class SseRecoveryTests : IAsyncLifetime
{
    private const string User = "sse-user";
    private const string Session = "s";
    private const string Channel = "sse/news";

    private TestNode _node = null!;

    /// <summary>The shortest keep-alive: curl, whose output is cut once the streams event is read, ends at the next write.</summary>
    public async Task InitializeAsync()
    {
        _node = await TestNode.StartAsync(c => c.Options.SseKeepAliveInterval = TimeSpan.FromSeconds(1));
        await _node.CallAsync("auth", "set", new { userId = User, sessionId = Session });
        await _node.CallAsync("channel", "subscribe", new { userId = User, channelId = Channel });
    }

    public async Task DisposeAsync() => await _node.DisposeAsync();

    private string SsePath(string? since = null) =>
        $"/sse?userId={User}&sessionId={Session}" + (since is null ? "" : $"&since={Uri.EscapeDataString(since)}");

    private async Task<HttpResponseMessage> OpenAsync(string path, string? lastEventId = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        return await _node.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    private async Task PublishAsync(string? channel, int n) =>
        await (channel is null
            ? _node.CallAsync("user", "publish", new { userId = User, message = new { n } })
            : _node.CallAsync("channel", "publish", new { channelId = channel, message = new { n } }));

    /// <summary>Checks a message event: its stream, its n, and an id whose position for that stream is the message's own.</summary>
    private static StreamPosition AssertMessage(SseEvent message, string stream, int n)
    {
        Assert.Equal("message", message.Event);
        var data = JsonDocument.Parse(message.Data).RootElement;
        Assert.Equal(stream, Positions.StreamOf(data));
        Assert.Equal(n, data.GetProperty("data").GetProperty("n").GetInt32());
        var position = Positions.Of(data);
        Assert.NotNull(message.Id);
        Assert.Equal(position, StreamCursors.ParseToken(message.Id)![stream]);
        return position;
    }

    [Fact]
    public async Task A_reconnect_with_Last_Event_ID_receives_the_missed_events_in_order_then_the_streams_event_then_live_ones()
    {
        // First connection, with since= (no positions): the streams event tells where each stream is.
        string lastId;
        StreamPosition user1, channel1;
        using (var first = await OpenAsync(SsePath(since: "")))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            using var reader = new StreamReader(await first.Content.ReadAsStreamAsync());
            var streams = await TestNode.ReadSseEventAsync(reader);
            Assert.Equal(StreamRecovery.StreamsEvent, streams.Event);
            var report = JsonDocument.Parse(streams.Data).RootElement;
            Assert.All(Positions.RecoveredOf(report).Values, recovered => Assert.Null(recovered));
            Assert.Equal(Positions.OfReport(report), StreamCursors.ParseToken(streams.Id));

            await PublishAsync(null, 1);
            await PublishAsync(Channel, 1);
            user1 = AssertMessage(await TestNode.ReadSseEventAsync(reader), "", 1);
            var last = await TestNode.ReadSseEventAsync(reader);
            channel1 = AssertMessage(last, Channel, 1);
            Assert.Equal(new Dictionary<string, StreamPosition> { [""] = user1, [Channel] = channel1 }, StreamCursors.ParseToken(last.Id));
            lastId = last.Id!;
        }

        await _node.WaitForConnectionsAsync(User, 0);
        await PublishAsync(null, 2);
        await PublishAsync(Channel, 2);
        await PublishAsync(null, 3);
        var recoveredBefore = await _node.MetricAsync("socketpush_recoveries_total{result=\"recovered\"}");

        // Reconnect with curl, as a shell client would; its output is cut after the streams event's data line.
        var curl = await ProcessRunner.RunAsync("bash", ["-c",
            $"curl -sSN -H 'Last-Event-ID: {lastId}' '{_node.ClientUrl}{SsePath()}' | sed '/\"recovered\"/q'"], timeout: TimeSpan.FromSeconds(30));
        Assert.True(curl.ExitCode == 0 && curl.StandardOutput.Contains("event: streams", StringComparison.Ordinal), curl.ToString());
        List<SseEvent> events = [];
        using (var output = new StreamReader(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(curl.StandardOutput + "\n"))))
        {
            while (events.Count == 0 || events[^1].Event != StreamRecovery.StreamsEvent)
            {
                events.Add(await TestNode.ReadSseEventAsync(output));
            }
        }

        Assert.Equal(4, events.Count);
        var userEvents = events.Where(e => e.Event == "message" && Positions.StreamOf(JsonDocument.Parse(e.Data).RootElement) == "").ToList();
        var channelEvent = Assert.Single(events, e => e.Event == "message" && Positions.StreamOf(JsonDocument.Parse(e.Data).RootElement) == Channel);
        Assert.Equal(2, userEvents.Count);
        Assert.Equal(user1 with { Offset = 2 }, AssertMessage(userEvents[0], "", 2));
        Assert.Equal(user1 with { Offset = 3 }, AssertMessage(userEvents[1], "", 3));
        Assert.Equal(channel1 with { Offset = 2 }, AssertMessage(channelEvent, Channel, 2));
        var recoveredReport = JsonDocument.Parse(events[^1].Data).RootElement;
        Assert.All(Positions.RecoveredOf(recoveredReport).Values, recovered => Assert.True(recovered));
        var reached = new Dictionary<string, StreamPosition> { [""] = user1 with { Offset = 3 }, [Channel] = channel1 with { Offset = 2 } };
        Assert.Equal(reached, Positions.OfReport(recoveredReport));
        Assert.Equal(reached, StreamCursors.ParseToken(events[^1].Id));
        await Eventually.TrueAsync(
            async () => await _node.MetricAsync("socketpush_recoveries_total{result=\"recovered\"}") == recoveredBefore + 2,
            "both streams are counted as recovered");

        // Reconnect again from the streams event's id: nothing was missed, and live events go on at the next offsets.
        await _node.WaitForConnectionsAsync(User, 0);
        using var third = await OpenAsync(SsePath(), events[^1].Id);
        using var thirdReader = new StreamReader(await third.Content.ReadAsStreamAsync());
        var nothingMissed = await TestNode.ReadSseEventAsync(thirdReader);
        Assert.Equal(StreamRecovery.StreamsEvent, nothingMissed.Event);
        Assert.Equal(reached, Positions.OfReport(JsonDocument.Parse(nothingMissed.Data).RootElement));
        await PublishAsync(Channel, 3);
        await PublishAsync(null, 4);
        Assert.Equal(channel1 with { Offset = 3 }, AssertMessage(await TestNode.ReadSseEventAsync(thirdReader), Channel, 3));
        Assert.Equal(user1 with { Offset = 4 }, AssertMessage(await TestNode.ReadSseEventAsync(thirdReader), "", 4));
    }

    [Theory]
    [InlineData("garbage", false)]
    [InlineData("u:e.1,", false)]
    [InlineData("u:E.1", true)]
    public async Task A_malformed_Last_Event_ID_or_since_gets_400_invalid_argument(string token, bool inQuery)
    {
        using var response = inQuery ? await OpenAsync(SsePath(token)) : await OpenAsync(SsePath(), token);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("invalid_argument", body.GetProperty("code").GetString());
        Assert.Contains("Last-Event-ID", body.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Empty(_node.Service<ConnectionRegistry>().ConnectionsOf(User));
    }

    [Fact]
    public async Task Curl_with_a_malformed_Last_Event_ID_gets_400_invalid_argument()
    {
        var curl = await ProcessRunner.RunAsync("curl",
            ["-sS", "-H", "Last-Event-ID: not-a-position", "-w", "\n%{http_code}", $"{_node.ClientUrl}{SsePath()}"], timeout: TimeSpan.FromSeconds(30));

        Assert.True(curl.ExitCode == 0, curl.ToString());
        var lines = curl.StandardOutput.TrimEnd().Split('\n');
        Assert.Equal("400", lines[^1]);
        Assert.Equal("invalid_argument", JsonDocument.Parse(lines[0]).RootElement.GetProperty("code").GetString());
    }
}
