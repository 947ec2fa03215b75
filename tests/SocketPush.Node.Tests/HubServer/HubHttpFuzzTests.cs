using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http.Connections;

namespace SocketPush.Node.Tests.HubServer;

/// <summary>
/// Generated handshakes and hub messages, JSON and MessagePack, posted to the HTTP transports (long polling and
/// SSE) of a real node: random bytes, valid messages cut short or bit-flipped, separators and length prefixes in the
/// wrong places. No answer is a 5xx, and afterwards the node still serves a client on every transport.
/// </summary>
[Collection(FuzzCollection.Name)]
[Trait("Category", "Fuzz")]
public sealed class HubHttpFuzzTests : IAsyncLifetime
{
    private static readonly byte[][] Valid =
    [
        "{\"protocol\":\"json\",\"version\":1}\u001e"u8.ToArray(),
        "{\"protocol\":\"messagepack\",\"version\":1}\u001e"u8.ToArray(),
        "{\"type\":6}\u001e"u8.ToArray(),
        "{\"type\":1,\"target\":\"Authenticate\",\"arguments\":[\"u\",\"s\"]}\u001e"u8.ToArray(),
        "{\"type\":1,\"invocationId\":\"1\",\"target\":\"Nope\",\"arguments\":[]}\u001e"u8.ToArray(),
        "{\"type\":7}\u001e"u8.ToArray(),
        [0x02, 0x91, 0x06], // MessagePack ping, length-prefixed
        [0x06, 0x95, 0x01, 0x80, 0xC0, 0xA1, 0x41, 0x90],
    ];

    private TestNode _node = null!;

    public async Task InitializeAsync()
    {
        _node = await TestNode.StartAsync(c => c.Options.ClientTimeout = TimeSpan.FromSeconds(16));
        await _node.CallAsync("auth", "set", new { userId = "u", sessionId = "s" });
    }

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task Generated_hub_messages_on_the_http_transports_never_get_a_5xx_and_the_node_keeps_serving()
    {
        var cutOff = 0;
        var tried = await Fuzz.RunAsync("hub: messages on the http transports", 150, async random =>
        {
            var token = await _node.NegotiateAsync();
            var sse = random.Next(2) == 0;
            using var stop = new CancellationTokenSource();
            Task<HttpResponseMessage>? stream = null;
            try
            {
                if (sse)
                {
                    var get = new HttpRequestMessage(HttpMethod.Get, $"/push?id={token}");
                    get.Headers.Accept.ParseAdd("text/event-stream");
                    stream = _node.Client.SendAsync(get, HttpCompletionOption.ResponseHeadersRead, stop.Token);
                    await Eventually.TrueAsync(() => stream.IsCompleted, "the event stream opened");
                }
                else
                {
                    await StartLongPollingAsync(token);
                }

                var posts = 1 + random.Next(4);
                for (var i = 0; i < posts; i++)
                {
                    var body = i == 0 && random.Next(3) > 0 ? Valid[random.Next(2)] : Generate(random);
                    using var content = new ByteArrayContent(body);
                    using var answer = await _node.Client.PostAsync($"/push?id={token}", content);
                    Assert.True((int)answer.StatusCode < 500, $"POST {Convert.ToHexString(body)} answered {(int)answer.StatusCode}");
                    if (answer.StatusCode == HttpStatusCode.NotFound)
                    {
                        break; // The node closed the session after a bad message: what follows would only be refused.
                    }
                }

                using var end = await _node.Client.DeleteAsync($"/push?id={token}");
                Assert.True((int)end.StatusCode < 500, $"DELETE answered {(int)end.StatusCode}");
            }
            catch (HttpRequestException e) when (e.InnerException is HttpIOException)
            {
                // The server closed the connection instead of answering (a session ended by a bad message while the
                // next request was on its way). Not a 5xx; that the node keeps serving is checked below.
                Interlocked.Increment(ref cutOff);
            }
            finally
            {
                await stop.CancelAsync();
                if (stream is not null)
                {
                    try
                    {
                        (await stream).Dispose();
                    }
                    catch (Exception e) when (e is OperationCanceledException or HttpRequestException)
                    {
                        // The stream was still opening when the input ended, or was cut off (counted above).
                    }
                }
            }
        });

        Assert.True(await _node.MetricAsync("socketpush_client_messages_malformed_total") > 0, "no generated message was malformed");
        Assert.True(cutOff < tried / 10, $"{cutOff} of {tried} inputs had a POST cut off");
        foreach (var transport in new[] { HttpTransportType.LongPolling, HttpTransportType.ServerSentEvents, HttpTransportType.WebSockets })
        {
            await using var hub = _node.Hub("u", "s", transport);
            var inbox = TestNode.Inbox(hub);
            await hub.StartAsync();
            await _node.WaitForConnectionsAsync("u", 1);
            await _node.CallAsync("user", "publish", new { userId = "u", message = transport.ToString() });
            Assert.Equal(transport.ToString(), (await TestNode.NextAsync(inbox)).GetProperty("data").GetString());
            await hub.StopAsync();
            await _node.WaitForConnectionsAsync("u", 0);
        }
    }

    [Fact]
    public async Task A_json_hub_message_that_is_not_utf8_is_a_400_and_counted_not_a_500()
    {
        var token = await _node.NegotiateAsync();
        await StartLongPollingAsync(token);
        using (var handshake = await _node.Client.PostAsync($"/push?id={token}", new ByteArrayContent(Valid[0])))
        {
            Assert.Equal(HttpStatusCode.OK, handshake.StatusCode);
        }

        var before = await _node.MetricAsync("socketpush_client_messages_malformed_total");
        byte[] invocation = [.. "{\"type\":1,\"invocationId\":\""u8, 0xB1, .. "\",\"target\":\"Nope\",\"arguments\":[]}\u001e"u8];
        using var answer = await _node.Client.PostAsync($"/push?id={token}", new ByteArrayContent(invocation));

        Assert.Equal(HttpStatusCode.BadRequest, answer.StatusCode);
        Assert.Equal(before + 1, await _node.MetricAsync("socketpush_client_messages_malformed_total"));
    }

    /// <summary>The first poll of a long-polling client, which the server answers at once: the transport is up.</summary>
    private async Task StartLongPollingAsync(string token)
    {
        using var first = await _node.Client.GetAsync($"/push?id={token}");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
    }

    private static byte[] Generate(Random random)
    {
        switch (random.Next(5))
        {
            case 0:
                var bytes = new byte[random.Next(0, 200)];
                random.NextBytes(bytes);
                return bytes;
            case 1:
                var valid = Valid[random.Next(Valid.Length)];
                return valid[..random.Next(valid.Length + 1)];
            case 2:
                var flipped = (byte[])Valid[random.Next(Valid.Length)].Clone();
                flipped[random.Next(flipped.Length)] ^= (byte)(1 << random.Next(8));
                return flipped;
            case 3:
                // Several messages in one body, some joined without their separator.
                var joined = new List<byte>();
                for (var i = random.Next(1, 5); i > 0; i--)
                {
                    var part = Valid[random.Next(2, 6)];
                    joined.AddRange(random.Next(3) == 0 ? part[..^1] : part);
                }

                return [.. joined];
            default:
                // A MessagePack length prefix that promises more (or far more) than follows.
                return [0xFF, 0xFF, 0xFF, 0xFF, 0x0F, .. Encoding.ASCII.GetBytes(new string('x', random.Next(0, 50)))];
        }
    }
}
