using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace SocketPush.LoadTest.Clients;

/// <summary>
/// Hub clients that stop reading once connected: a raw TCP socket per user with a small receive buffer, the
/// WebSocket upgrade and the hub handshake written by hand, then nothing more is read, so the server's socket
/// buffer for it fills and its messages queue in the server. They keep sending a hub ping every 10 s, as a
/// client whose page still runs but whose reader is stuck would, so the server's client timeout does not
/// close them; only the slow-consumer rule may. They live in the harness process, not in the workers.
/// </summary>
internal sealed class StalledClients : IAsyncDisposable
{
    /// <summary>SO_RCVBUF of each socket (the kernel doubles it): the client's side holds only a few KB.</summary>
    public const int ReceiveBuffer = 4096;

    private static readonly TimeSpan PingEvery = TimeSpan.FromSeconds(10);
    private static readonly byte[] Handshake = Masked(Encoding.UTF8.GetBytes("{\"protocol\":\"json\",\"version\":1}\u001e"));
    private static readonly byte[] Ping = Masked(Encoding.UTF8.GetBytes("{\"type\":6}\u001e"));

    private readonly List<Socket> _sockets;
    private readonly Timer _pinger;

    private StalledClients(List<Socket> sockets)
    {
        _sockets = sockets;
        _pinger = new Timer(_ => PingAll(), null, PingEvery, PingEvery);
    }

    public int Count => _sockets.Count;

    /// <summary>Connects every user to <paramref name="clientUrl"/>'s hub and reads until its handshake is answered.</summary>
    public static async Task<StalledClients> OpenAsync(Uri clientUrl, IReadOnlyList<string> users, Func<string, string> sessionOf, int concurrency)
    {
        var sockets = new List<Socket>(users.Count);
        try
        {
            await Parallel.ForEachAsync(users, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (user, ct) =>
            {
                var socket = await OpenOneAsync(clientUrl, $"/push?userId={Uri.EscapeDataString(user)}&sessionId={Uri.EscapeDataString(sessionOf(user))}", ct);
                lock (sockets)
                {
                    sockets.Add(socket);
                }
            });
        }
        catch
        {
            sockets.ForEach(s => s.Dispose());
            throw;
        }

        return new StalledClients(sockets);
    }

    public async ValueTask DisposeAsync()
    {
        await _pinger.DisposeAsync();
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }
    }

    private static async Task<Socket> OpenOneAsync(Uri clientUrl, string target, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = ReceiveBuffer, NoDelay = true };
        try
        {
            // Before connecting, so the window the client advertises stays small.
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(clientUrl.Host), clientUrl.Port), cancellationToken);
            var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            var head = $"GET {target} HTTP/1.1\r\nHost: {clientUrl.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
            await socket.SendAsync(Encoding.ASCII.GetBytes(head), SocketFlags.None, cancellationToken);
            var answer = await ReadUntilAsync(socket, "\r\n\r\n"u8.ToArray(), cancellationToken);
            if (!answer.StartsWith("HTTP/1.1 101 ", StringComparison.Ordinal))
            {
                throw new InvalidOperationException("stalled client: upgrade refused: " + answer.Split('\r')[0]);
            }

            await socket.SendAsync(Handshake, SocketFlags.None, cancellationToken);
            // The handshake answer is one small text frame ending in 0x1E; an error names itself.
            var handshake = await ReadUntilAsync(socket, [0x1E], cancellationToken);
            if (handshake.Contains("\"error\"", StringComparison.Ordinal))
            {
                throw new InvalidOperationException("stalled client: handshake refused: " + handshake);
            }

            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Reads byte by byte up to and including <paramref name="end"/>: nothing after it is taken off the socket.</summary>
    private static async Task<string> ReadUntilAsync(Socket socket, byte[] end, CancellationToken cancellationToken)
    {
        var read = new List<byte>();
        var one = new byte[1];
        while (read.Count < 16_384)
        {
            if (await socket.ReceiveAsync(one, SocketFlags.None, cancellationToken) == 0)
            {
                throw new InvalidOperationException("stalled client: the server closed the connection during setup");
            }

            read.Add(one[0]);
            if (read.Count >= end.Length && read[^end.Length..].SequenceEqual(end))
            {
                return Encoding.Latin1.GetString([.. read]);
            }
        }

        throw new InvalidOperationException("stalled client: no end of the server's answer in 16 KB");
    }

    private void PingAll()
    {
        foreach (var socket in _sockets)
        {
            try
            {
                // Non-blocking in effect: a few bytes always fit the client's own send buffer.
                socket.Send(Ping, SocketFlags.None, out _);
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>A final masked text frame (clients must mask, RFC 6455 §5.3), short payloads only.</summary>
    private static byte[] Masked(byte[] payload)
    {
        var mask = RandomNumberGenerator.GetBytes(4);
        var frame = new byte[2 + 4 + payload.Length];
        frame[0] = 0x81;
        frame[1] = (byte)(0x80 | payload.Length);
        mask.CopyTo(frame, 2);
        for (var i = 0; i < payload.Length; i++)
        {
            frame[6 + i] = (byte)(payload[i] ^ mask[i % 4]);
        }

        return frame;
    }
}
