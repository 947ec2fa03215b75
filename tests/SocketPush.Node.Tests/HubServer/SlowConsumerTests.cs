using System.Text.Json;

namespace SocketPush.Node.Tests.HubServer;

/// <summary>A client that stops reading fills its socket, then its queue, and is closed; the others go on.</summary>
public sealed class SlowConsumerTests
{
    private const string SlowConsumers = "socketpush_slow_consumers_closed_total";

    [Fact]
    public async Task A_client_that_never_reads_is_closed_while_a_reading_client_on_the_channel_gets_every_message()
    {
        await using var node = await FakeClockNode.StartAsync(c => c.Options.MaxQueuedMessagesPerConnection = 32);
        await node.CallAsync("auth", "set", new { userId = "slow", sessionId = "s1" });
        await node.CallAsync("auth", "set", new { userId = "fast", sessionId = "s2" });
        // A small receive buffer: the slow client's kernel holds only a few KB for it.
        await using var slow = await RawSocketClient.OpenHubAsync(node.ClientPort, "?userId=slow&sessionId=s1", receiveBufferSize: 4096);
        await using var fast = await RawSocketClient.OpenHubAsync(node.ClientPort, "?userId=fast&sessionId=s2");
        await node.ConnectionsAsync("slow", 1);
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

        // 60 KB messages until the node gives up on the slow client (a few MB of socket buffers, then 32 queued),
        // then a few more that only the fast client should get.
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
        Assert.True(await slow.DrainUntilEndAsync(), "the slow client's connection was not ended");
        Assert.Single(node.Registry.ConnectionsOf("fast"));
        Assert.Equal(1, (await node.CallAsync("channel", "publish", new { channelId = "big", message = new { seq = 0 } })).GetInt32());
    }

    [Fact]
    public async Task A_client_that_pauses_reading_gets_the_queued_frames_whole_and_in_order_when_it_resumes()
    {
        await using var node = await FakeClockNode.StartAsync(c => c.Options.MaxQueuedMessagesPerConnection = 100_000);
        await node.CallAsync("auth", "set", new { userId = "pausing", sessionId = "s" });
        await using var client = await RawSocketClient.OpenHubAsync(node.ClientPort, "?userId=pausing&sessionId=s", receiveBufferSize: 4096);
        await node.ConnectionsAsync("pausing", 1);

        // More than the socket buffers hold, so frames queue in the node and go out in pieces as the client reads.
        const int Count = 200;
        for (var seq = 0; seq < Count; seq++)
        {
            var pad = new string((char)('a' + (seq % 26)), 50_000 + seq);
            Assert.Equal(1, (await node.CallAsync("user", "publish", new { userId = "pausing", message = new { seq, pad } })).GetInt32());
        }

        for (var seq = 0; seq < Count; seq++)
        {
            var frame = await client.ReadFrameAsync();
            Assert.Equal((true, ClientFrames.Text), (frame.Final, frame.Opcode));
            using var invocation = JsonDocument.Parse(frame.Text.TrimEnd('\u001e'));
            var data = invocation.RootElement.GetProperty("arguments")[0].GetProperty("data");
            Assert.Equal(seq, data.GetProperty("seq").GetInt32());
            Assert.Equal(new string((char)('a' + (seq % 26)), 50_000 + seq), data.GetProperty("pad").GetString());
        }

        await client.AssertQuietAsync("after the last queued frame");
        Assert.Single(node.Registry.ConnectionsOf("pausing"));
    }
}
