using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SocketPush.Node.Tests.HubServer;

/// <summary>
/// A client that writes bytes by hand over TCP: the HTTP upgrade, masked frames, and anything a broken or hostile
/// client could send. Every read gives up after 10 seconds so a missing answer fails the test instead of hanging it.
/// </summary>
internal sealed class RawSocketClient : IAsyncDisposable
{
    public const string SampleKey = "dGhlIHNhbXBsZSBub25jZQ==";
    public const string JsonHandshake = "{\"protocol\":\"json\",\"version\":1}\u001e";
    public const string MessagePackHandshake = "{\"protocol\":\"messagepack\",\"version\":1}\u001e";

    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(10);

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RawSocketClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public Socket Socket => _tcp.Client;

    public static async Task<RawSocketClient> ConnectAsync(int port, int? receiveBufferSize = null)
    {
        var tcp = new TcpClient(AddressFamily.InterNetwork) { NoDelay = true };
        if (receiveBufferSize is { } size)
        {
            // Before connecting, so the window the client advertises stays small.
            tcp.ReceiveBufferSize = size;
        }

        await tcp.ConnectAsync(IPAddress.Loopback, port);
        return new RawSocketClient(tcp);
    }

    /// <summary>Connects, upgrades to a WebSocket on <c>/push{query}</c> and answers the hub handshake.</summary>
    public static async Task<RawSocketClient> OpenHubAsync(int port, string query = "", string handshake = JsonHandshake, int? receiveBufferSize = null)
    {
        var client = await ConnectAsync(port, receiveBufferSize);
        var response = await client.UpgradeAsync(query);
        Assert.StartsWith("HTTP/1.1 101 ", response, StringComparison.Ordinal);
        var answer = await client.HubHandshakeAsync(handshake);
        Assert.Equal("{}\u001e", answer.Text);
        return client;
    }

    public static string UpgradeHead(string query, string? extraHeaders = null, string key = SampleKey, string version = "13") =>
        $"GET /push{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n{extraHeaders}\r\n";

    /// <summary>Sends an upgrade request and returns the response head (status line and headers).</summary>
    public async Task<string> UpgradeAsync(string query = "", string? extraHeaders = null, string key = SampleKey, string version = "13")
    {
        await SendAsync(Encoding.ASCII.GetBytes(UpgradeHead(query, extraHeaders, key, version)));
        return await ReadHttpHeadAsync();
    }

    /// <summary>Sends the hub handshake in a text frame and returns the server's first frame.</summary>
    public async Task<ClientFrames.ServerFrame> HubHandshakeAsync(string handshake = JsonHandshake)
    {
        await SendFrameAsync(ClientFrames.Text, Encoding.UTF8.GetBytes(handshake));
        return await ReadFrameAsync();
    }

    public async Task SendAsync(byte[] bytes)
    {
        using var timeout = new CancellationTokenSource(ReadTimeout);
        await _stream.WriteAsync(bytes, timeout.Token);
    }

    public Task SendFrameAsync(byte opcode, byte[] payload, bool final = true) => SendAsync(ClientFrames.Build(opcode, payload, final));

    public Task SendTextAsync(string text) => SendFrameAsync(ClientFrames.Text, Encoding.UTF8.GetBytes(text));

    /// <summary>
    /// Sends a ping and returns the first frame that comes back. The server answers frames in order, so when that is
    /// the pong, nothing else was sent before it: this is how tests check that the server kept quiet.
    /// </summary>
    public async Task<ClientFrames.ServerFrame> PingRoundTripAsync(string payload = "barrier")
    {
        await SendFrameAsync(ClientFrames.Ping, Encoding.UTF8.GetBytes(payload));
        return await ReadFrameAsync();
    }

    /// <summary>Asserts that the server had sent nothing before the pong of a fresh ping.</summary>
    public async Task AssertQuietAsync(string because)
    {
        var frame = await PingRoundTripAsync(because);
        Assert.True(frame.Opcode == ClientFrames.Pong && frame.Text == because, $"{because}: expected only the pong, got opcode {frame.Opcode} \"{frame.Text}\"");
    }

    /// <summary>Reads an HTTP head up to its blank line; what follows stays buffered for frames.</summary>
    public Task<string> ReadHttpHeadAsync() => ReadUntilAsync("\r\n\r\n"u8.ToArray(), "the response head ended");

    /// <summary>Reads a whole HTTP response whose body has a Content-Length or is chunked.</summary>
    public async Task<(int Status, string Head, string Body)> ReadHttpResponseAsync()
    {
        var head = await ReadHttpHeadAsync();
        var status = int.Parse(head.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var lines = head.Split("\r\n");
        if (lines.Any(l => l.Equals("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase)))
        {
            var body = new StringBuilder();
            while (true)
            {
                // Each chunk: its length in hex, CRLF, the bytes, CRLF; a zero length ends the body.
                var size = Convert.ToInt32(await ReadLineAsync(), 16);
                var chunk = await ReadBytesAsync(size + 2);
                if (size == 0)
                {
                    return (status, head, body.ToString());
                }

                body.Append(Encoding.UTF8.GetString(chunk, 0, size));
            }
        }

        var lengthLine = lines.FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        var length = lengthLine is null ? 0 : int.Parse(lengthLine["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
        return (status, head, Encoding.UTF8.GetString(await ReadBytesAsync(length)));
    }

    private Task<string> ReadLineAsync() => ReadUntilAsync("\r\n"u8.ToArray(), "a line ended");

    /// <summary>Reads up to a delimiter, which is consumed and not returned.</summary>
    private async Task<string> ReadUntilAsync(byte[] delimiter, string what)
    {
        while (true)
        {
            var end = _buffer.AsSpan(_start, _end - _start).IndexOf(delimiter);
            if (end >= 0)
            {
                var text = Encoding.Latin1.GetString(_buffer, _start, end);
                _start += end + delimiter.Length;
                return text;
            }

            if (!await FillAsync())
            {
                throw new EndOfStreamException($"The connection closed before {what}.");
            }
        }
    }

    private async Task<byte[]> ReadBytesAsync(int length)
    {
        while (_end - _start < length)
        {
            if (!await FillAsync())
            {
                throw new EndOfStreamException("The connection closed before the response body ended.");
            }
        }

        var bytes = _buffer.AsSpan(_start, length).ToArray();
        _start += length;
        return bytes;
    }

    /// <summary>Reads one server frame; a server frame must never be masked.</summary>
    public async Task<ClientFrames.ServerFrame> ReadFrameAsync()
    {
        while (true)
        {
            if (TryTakeFrame(out var frame))
            {
                return frame;
            }

            if (!await FillAsync())
            {
                throw new EndOfStreamException("The connection closed before a whole frame arrived.");
            }
        }
    }

    /// <summary>
    /// Reads the next hub message that is not a ping: the server may ping (<c>{"type":6}</c>, or a WebSocket ping
    /// frame) at any moment, and on a loaded machine a keep-alive can come before what a test waits for.
    /// </summary>
    public async Task<ClientFrames.ServerFrame> ReadMessageAsync()
    {
        while (true)
        {
            var frame = await ReadFrameAsync();
            if (frame.Opcode != ClientFrames.Ping && !frame.Text.StartsWith("{\"type\":6}", StringComparison.Ordinal))
            {
                return frame;
            }
        }
    }

    /// <summary>True when the server closes the TCP connection (end of stream or reset) with nothing more to read.</summary>
    public async Task<bool> EndsAsync()
    {
        try
        {
            return _start == _end && !await FillAsync();
        }
        catch (IOException)
        {
            return _start == _end;
        }
    }

    /// <summary>Reads and drops whatever arrives until the server ends the connection; false if it is still open after the timeout.</summary>
    public async Task<bool> DrainUntilEndAsync()
    {
        using var timeout = new CancellationTokenSource(ReadTimeout);
        var scratch = new byte[256 * 1024];
        try
        {
            while (await _stream.ReadAsync(scratch, timeout.Token) > 0)
            {
            }

            return true;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private bool TryTakeFrame(out ClientFrames.ServerFrame frame)
    {
        frame = null!;
        var available = _end - _start;
        if (available < 2)
        {
            return false;
        }

        var b0 = _buffer[_start];
        var b1 = _buffer[_start + 1];
        Assert.True((b1 & 0x80) == 0, "the server masked a frame (RFC 6455 §5.1 forbids it)");
        Assert.True((b0 & 0x70) == 0, "the server set reserved bits");
        long length = b1 & 0x7F;
        var header = 2;
        if (length == 126)
        {
            header = 4;
            if (available < header)
            {
                return false;
            }

            length = (_buffer[_start + 2] << 8) | _buffer[_start + 3];
        }
        else if (length == 127)
        {
            header = 10;
            if (available < header)
            {
                return false;
            }

            length = 0;
            for (var i = 0; i < 8; i++)
            {
                length = (length << 8) | _buffer[_start + 2 + i];
            }
        }

        if (available < header + length)
        {
            return false;
        }

        frame = new ClientFrames.ServerFrame((b0 & 0x80) != 0, (byte)(b0 & 0x0F), _buffer.AsSpan(_start + header, (int)length).ToArray());
        _start += header + (int)length;
        return true;
    }

    private async Task<bool> FillAsync()
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }
        else if (_end == _buffer.Length)
        {
            var needed = _end - _start;
            var target = needed * 2 > _buffer.Length ? new byte[_buffer.Length * 2] : _buffer;
            Array.Copy(_buffer, _start, target, 0, needed);
            _buffer = target;
            _start = 0;
            _end = needed;
        }

        using var timeout = new CancellationTokenSource(ReadTimeout);
        int read;
        try
        {
            read = await _stream.ReadAsync(_buffer.AsMemory(_end), timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"Nothing arrived from the server within {ReadTimeout.TotalSeconds} s.");
        }

        _end += read;
        return read > 0;
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
