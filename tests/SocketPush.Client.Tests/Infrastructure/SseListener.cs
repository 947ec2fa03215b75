using System.Net;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace SocketPush.Client.Tests.Infrastructure;

/// <summary>A client of the node's plain SSE stream (<c>GET /sse</c>) that collects the <c>message</c> events it receives.</summary>
internal sealed class SseListener : IAsyncDisposable
{
    private static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(15);

    private readonly HttpClient _http;
    private readonly HttpResponseMessage _response;
    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<JsonElement> _messages = Channel.CreateUnbounded<JsonElement>();

    private SseListener(HttpClient http, HttpResponseMessage response)
    {
        _http = http;
        _response = response;
        Completion = ReadAsync();
    }

    /// <summary>Completes when the server ends the stream.</summary>
    public Task Completion { get; }

    /// <summary>Connects; returns once the response headers arrived, after which the node delivers every publish to it.</summary>
    public static async Task<SseListener> ConnectAsync(Uri clientUrl, string userId, string sessionId)
    {
        var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        var url = new Uri(clientUrl, $"/sse?userId={Uri.EscapeDataString(userId)}&sessionId={Uri.EscapeDataString(sessionId)}");
        using var connecting = new CancellationTokenSource(DefaultWait);
        var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, connecting.Token);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            var body = await response.Content.ReadAsStringAsync(connecting.Token);
            response.Dispose();
            http.Dispose();
            throw new InvalidOperationException($"GET {url} answered {(int)response.StatusCode}: {body}");
        }

        return new SseListener(http, response);
    }

    /// <summary>The next <c>message</c> event's data: <c>{kind, channelId?, data}</c>.</summary>
    public async Task<JsonElement> NextAsync(TimeSpan? wait = null)
    {
        using var limit = new CancellationTokenSource(wait ?? DefaultWait);
        try
        {
            return await _messages.Reader.ReadAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("No SSE message arrived in time.");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException("The SSE stream ended before a message arrived.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Completion;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
        {
            // Ending the stream from this side is what was asked for.
        }

        _response.Dispose();
        _http.Dispose();
        _stop.Dispose();
    }

    private async Task ReadAsync()
    {
        try
        {
            await using var stream = await _response.Content.ReadAsStreamAsync(_stop.Token);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            string? eventName = null;
            var data = new StringBuilder();
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                if (line.Length == 0)
                {
                    if (eventName == "message" && data.Length > 0)
                    {
                        using var document = JsonDocument.Parse(data.ToString());
                        _messages.Writer.TryWrite(document.RootElement.Clone());
                    }

                    eventName = null;
                    data.Clear();
                }
                else if (line.StartsWith("event:", StringComparison.Ordinal))
                {
                    eventName = line["event:".Length..].Trim();
                }
                else if (line.StartsWith("data:", StringComparison.Ordinal))
                {
                    data.Append(line["data:".Length..].TrimStart());
                }
            }
        }
        finally
        {
            _messages.Writer.TryComplete();
        }
    }
}
