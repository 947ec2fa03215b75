using System.Text.Json;
using SocketPush.Node.Edge;
using SocketPush.Node.Edge.HubServer;

namespace SocketPush.Node.Tests.HubServer;

/// <summary>A client that stops reading fills its socket, then its queue, and is closed; the others go on.</summary>
public sealed class SlowConsumerTests
{
    private const string SlowConsumers = "socketpush_slow_consumers_closed_total";

    /// <summary>Every way a client can connect; each one's messages wait in the same outbound queue.</summary>
    public static TheoryData<string, string> Transports => new()
    {
        { "websockets", nameof(WebSocketHubSession) },
        { "websockets-through-http", nameof(UpgradedWebSocketHubSession) },
        { "server-sent-events", nameof(SseHubSession) },
        { "long-polling", nameof(LongPollingHubSession) },
        { "plain-sse", nameof(SseClientConnection) },
    };

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_client_that_never_reads_is_closed_once_while_a_reading_client_on_the_channel_gets_every_message(string transport, string served)
    {
        await using var node = await FakeClockNode.StartAsync(c => c.Options.MaxQueuedMessagesPerConnection = 32);
        await node.CallAsync("auth", "set", new { userId = "slow", sessionId = "s1" });
        await node.CallAsync("auth", "set", new { userId = "fast", sessionId = "s2" });
        await using var slow = await OpenStalledAsync(node, transport, "userId=slow&sessionId=s1");
        await using var fast = await RawSocketClient.OpenHubAsync(node.ClientPort, "?userId=fast&sessionId=s2");
        Assert.Equal(served, (await node.ConnectionsAsync("slow", 1))[0].GetType().Name);
        await node.ConnectionsAsync("fast", 1);
        await node.CallAsync("channel", "subscribe", new { userId = "slow", channelId = "big" });
        await node.CallAsync("channel", "subscribe", new { userId = "fast", channelId = "big" });
        var before = await node.MetricAsync(SlowConsumers);

        var received = new List<int>();
        var published = 0;
        var reading = Task.Run(async () =>
        {
            while (true)
            {
                var frame = await fast.ReadFrameAsync();
                using var invocation = JsonDocument.Parse(frame.Text.TrimEnd('\u001e'));
                var seq = invocation.RootElement.GetProperty("arguments")[0].GetProperty("data").GetProperty("seq").GetInt32();
                lock (received)
                {
                    received.Add(seq);
                }

                if (seq < 0)
                {
                    return;
                }
            }
        });

        // 60 KB messages until the node gives up on the slow client (a few MB of socket buffers, then 32 queued;
        // 32 alone for a long-polling client that does not poll), then a few more that only the fast client should get.
        var pad = new string('x', 60_000);
        var closedAt = -1;
        for (var seq = 0; seq < 2_000 && (closedAt < 0 || seq < closedAt + 5); seq++)
        {
            var reached = (await node.CallAsync("channel", "publish", new { channelId = "big", message = new { seq, pad } })).GetInt32();
            published++;
            if (closedAt < 0 && node.Registry.ConnectionsOf("slow").Length == 0)
            {
                closedAt = seq;
            }

            Assert.True(reached is 1 or 2, $"publish {seq} reached {reached} connections");
        }

        Assert.True(closedAt >= 0, $"the slow client was still open after {published} messages of 60 KB");
        await node.CallAsync("channel", "publish", new { channelId = "big", message = new { seq = -1 } });
        await reading.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(Enumerable.Range(0, published).Append(-1), received);
        Assert.Equal(before + 1, await node.MetricAsync(SlowConsumers));
        Assert.True(await slow.EndedAsync(), "the slow client's connection was not ended");
        Assert.Single(node.Registry.ConnectionsOf("fast"));
        Assert.Equal(1, (await node.CallAsync("channel", "publish", new { channelId = "big", message = new { seq = 0 } })).GetInt32());
    }

    [Fact]
    public async Task With_a_send_buffer_cap_a_client_that_never_reads_is_closed_once_its_queue_is_full()
    {
        await using var node = await FakeClockNode.StartAsync(c =>
        {
            c.Options.MaxQueuedMessagesPerConnection = 32;
            c.Options.SocketSendBufferBytes = 4096;
        });
        await node.CallAsync("auth", "set", new { userId = "slow", sessionId = "s" });
        await using var slow = await RawSocketClient.OpenHubAsync(node.ClientPort, "?userId=slow&sessionId=s", receiveBufferSize: 4096);
        await node.ConnectionsAsync("slow", 1);

        var pad = new string('x', 60_000);
        var taken = 0;
        while ((await node.CallAsync("user", "publish", new { userId = "slow", message = new { pad } })).GetInt32() == 1)
        {
            Assert.True(++taken < 2_000, "the stalled client was never closed");
        }

        // The kernel holds part of the first frame, the drain has it in flight, 32 wait in the queue. Without the
        // cap the kernel's autotuned buffer takes a few MB first: dozens of these messages more.
        Assert.InRange(taken, 33, 36);
        Assert.Equal(1, await node.MetricAsync(SlowConsumers));
    }

    [Fact]
    public async Task A_client_that_pauses_reading_gets_the_queued_frames_whole_and_in_order_when_it_resumes()
    {
        await using var node = await FakeClockNode.StartAsync(c =>
        {
            c.Options.MaxQueuedMessagesPerConnection = 100_000;
            c.Options.MaxMessageBytes = 200_000;
        });
        await node.CallAsync("auth", "set", new { userId = "pausing", sessionId = "s" });
        await using var client = await RawSocketClient.OpenHubAsync(node.ClientPort, "?userId=pausing&sessionId=s", receiveBufferSize: 4096);
        await node.ConnectionsAsync("pausing", 1);

        // More than the socket buffers hold, so frames queue in the node and go out in pieces as the client reads:
        // small frames sent several at a time from one buffer, and frames larger than that buffer on their own.
        const int Count = 400;
        static int PadLength(int seq) => seq % 4 == 0 ? 70_000 + seq : 1_000 + seq;
        for (var seq = 0; seq < Count; seq++)
        {
            var pad = new string((char)('a' + (seq % 26)), PadLength(seq));
            Assert.Equal(1, (await node.CallAsync("user", "publish", new { userId = "pausing", message = new { seq, pad } })).GetInt32());
        }

        for (var seq = 0; seq < Count; seq++)
        {
            var frame = await client.ReadFrameAsync();
            Assert.Equal((true, ClientFrames.Text), (frame.Final, frame.Opcode));
            using var invocation = JsonDocument.Parse(frame.Text.TrimEnd('\u001e'));
            var data = invocation.RootElement.GetProperty("arguments")[0].GetProperty("data");
            Assert.Equal(seq, data.GetProperty("seq").GetInt32());
            Assert.Equal(new string((char)('a' + (seq % 26)), PadLength(seq)), data.GetProperty("pad").GetString());
        }

        await client.AssertQuietAsync("after the last queued frame");
        Assert.Single(node.Registry.ConnectionsOf("pausing"));
    }

    /// <summary>
    /// Connects a client on <paramref name="transport"/> that reads nothing after its connection is set up: a raw socket
    /// with a small receive buffer, so its kernel holds only a few KB, or a long-polling client that stops polling.
    /// </summary>
    private static async Task<StalledClient> OpenStalledAsync(FakeClockNode node, string transport, string auth)
    {
        const int Buffer = 4096;
        switch (transport)
        {
            case "websockets":
                return new StalledClient(await RawSocketClient.OpenHubAsync(node.ClientPort, "?" + auth, receiveBufferSize: Buffer), null);
            case "websockets-through-http":
                // An upgrade after another request on the same connection is the HTTP server's (UpgradedWebSocketHubSession).
                var kept = await RawSocketClient.ConnectAsync(node.ClientPort, Buffer);
                await kept.SendAsync(System.Text.Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
                Assert.Equal(200, (await kept.ReadHttpResponseAsync()).Status);
                Assert.StartsWith("HTTP/1.1 101 ", await kept.UpgradeAsync("?" + auth), StringComparison.Ordinal);
                Assert.Equal("{}\u001e", (await kept.HubHandshakeAsync()).Text);
                return new StalledClient(kept, null);
            case "server-sent-events":
                var streamToken = await node.Node.NegotiateAsync();
                var stream = await OpenStreamAsync(node, $"/push?id={streamToken}&{auth}");
                using (var handshake = await node.Client.PostAsync($"/push?id={streamToken}&{auth}", new StringContent(RawSocketClient.JsonHandshake)))
                {
                    Assert.Equal(System.Net.HttpStatusCode.OK, handshake.StatusCode);
                }

                return new StalledClient(stream, null);
            case "long-polling":
                var pollToken = await node.Node.NegotiateAsync();
                var url = $"/push?id={pollToken}&{auth}";
                (await node.Client.GetAsync(url)).Dispose();
                (await node.Client.PostAsync(url, new StringContent(RawSocketClient.JsonHandshake))).Dispose();
                return new StalledClient(null, () => node.Client.GetAsync(url));
            default:
                return new StalledClient(await OpenStreamAsync(node, "/sse?" + auth), null);
        }

        async Task<RawSocketClient> OpenStreamAsync(FakeClockNode node, string target)
        {
            var client = await RawSocketClient.ConnectAsync(node.ClientPort, Buffer);
            await client.SendAsync(System.Text.Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"));
            Assert.StartsWith("HTTP/1.1 200 ", await client.ReadHttpHeadAsync(), StringComparison.Ordinal);
            return client;
        }
    }

    /// <summary>A stalled client: its socket, or for long polling the poll it would send next.</summary>
    private sealed class StalledClient(RawSocketClient? socket, Func<Task<HttpResponseMessage>>? poll) : IAsyncDisposable
    {
        /// <summary>Whether the server ended the connection: the socket reaches its end, or the next poll is told the session is over (204).</summary>
        public async Task<bool> EndedAsync()
        {
            if (socket is not null)
            {
                return await socket.DrainUntilEndAsync();
            }

            using var answer = await poll!();
            return answer.StatusCode == System.Net.HttpStatusCode.NoContent;
        }

        public ValueTask DisposeAsync() => socket?.DisposeAsync() ?? ValueTask.CompletedTask;
    }
}
