using System.Buffers;

namespace SocketPush.Node.Edge.HubServer;

/// <summary>
/// A hub client over SignalR's Server-Sent Events transport (JSON only): one long <c>GET</c> response carries each
/// hub message as an event of <c>data:</c> lines; the client pings like a WebSocket client does, through POSTs.
/// </summary>
internal sealed class SseHubSession(string connectionId, string token, HubSessions sessions, string? userId, string? sessionId, HttpContext stream)
    : HttpHubSession(connectionId, token, ClientTransport.ServerSentEvents, sessions, userId, sessionId)
{
    /// <summary>A comment line first: some browsers report the stream open only once bytes arrive.</summary>
    private static readonly byte[] Opening = ":\r\n"u8.ToArray();
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] LineEnd = "\r\n"u8.ToArray();

    protected override bool Binary => false;

    /// <summary>Writes the stream until the session ends or the client goes away.</summary>
    public async Task RunAsync()
    {
        var response = stream.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache, no-store";
        response.Headers.Pragma = "no-cache";
        // Proxies such as nginx would otherwise hold events back in their buffers.
        response.Headers["X-Accel-Buffering"] = "no";
        var output = response.BodyWriter;
        var aborted = stream.RequestAborted;
        output.Write(Opening);
        await output.FlushAsync(aborted);
        while (await TakeAsync(null, aborted) is { Length: > 0 } batch)
        {
            foreach (var item in batch)
            {
                WriteEvent(output, item.Bytes.Span);
            }

            if ((await output.FlushAsync(aborted)).IsCanceled)
            {
                return;
            }

            CountDelivered(batch);
        }
    }

    /// <summary>A slow reader's stream is cut at once; its EventSource sees the end and the client reconnects.</summary>
    protected override void OnOverflowLocked() => stream.Abort();

    /// <summary>
    /// One event: each line of the payload on its own <c>data:</c> line. JSON hub messages have no line breaks of
    /// their own, but the published data is copied as the publisher wrote it, whitespace included.
    /// </summary>
    internal static void WriteEvent(IBufferWriter<byte> output, ReadOnlySpan<byte> payload)
    {
        while (true)
        {
            var end = payload.IndexOfAny((byte)'\r', (byte)'\n');
            output.Write(DataPrefix);
            output.Write(end < 0 ? payload : payload[..end]);
            output.Write(LineEnd);
            if (end < 0)
            {
                break;
            }

            // CR, LF and CRLF all end an SSE line.
            var next = end + 1 < payload.Length && payload[end] == '\r' && payload[end + 1] == '\n' ? end + 2 : end + 1;
            payload = payload[next..];
        }

        output.Write(LineEnd);
    }
}
