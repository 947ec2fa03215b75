using System.Net;
using System.Net.Http.Headers;

namespace SocketPush.LoadTest.Clients;

/// <summary>
/// A text/event-stream reader (SocketPush's plain <c>GET /sse</c>): up once the response headers arrive,
/// then each complete line is scanned for the harness's timestamps.
/// </summary>
internal sealed class PlainSseConnection(Uri uri, HttpMessageInvoker invoker, DeliveryCounters counters) : BenchConnection(counters)
{
    private readonly CancellationTokenSource _stop = new();
    private HttpResponseMessage? _response;
    private Task? _readLoop;
    private bool _seen;

    public override async Task ConnectAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        // HttpMessageInvoker.SendAsync returns once headers are read when the content is a stream we read later.
        _response = await invoker.SendAsync(request, linked.Token);
        if (_response.StatusCode != HttpStatusCode.OK)
        {
            var body = await _response.Content.ReadAsStringAsync(cancellationToken);
            throw new HttpRequestException($"GET /sse answered {(int)_response.StatusCode}: {body}");
        }

        var stream = await _response.Content.ReadAsStreamAsync(cancellationToken);
        _readLoop = ReadLoopAsync(stream);
    }

    public override async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _response?.Dispose();
        if (_readLoop is not null)
        {
            await _readLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _stop.Dispose();
    }

    private async Task ReadLoopAsync(Stream stream)
    {
        var buffer = new byte[4096];
        var filled = 0;
        try
        {
            while (true)
            {
                if (filled == buffer.Length)
                {
                    Array.Resize(ref buffer, buffer.Length * 2);
                }

                var read = await stream.ReadAsync(buffer.AsMemory(filled), _stop.Token);
                if (read == 0)
                {
                    Failure ??= "stream ended by server";
                    return;
                }

                filled += read;
                var lastNewLine = buffer.AsSpan(0, filled).LastIndexOf((byte)'\n');
                if (lastNewLine < 0)
                {
                    continue;
                }

                Counters.OnPayload(buffer.AsSpan(0, lastNewLine + 1), ref _seen);
                var rest = filled - lastNewLine - 1;
                buffer.AsSpan(lastNewLine + 1, rest).CopyTo(buffer);
                filled = rest;
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Failure ??= e.Message;
        }
    }
}
