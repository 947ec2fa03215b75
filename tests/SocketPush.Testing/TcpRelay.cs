using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace SocketPush.Testing;

/// <summary>
/// A TCP relay on a loopback port the OS picks, in front of a server's loopback port: what a browser connects to
/// when a test must take its connections away, as a network that drops would, and keep them away for a while. The
/// server and the page are left alone: <see cref="Cut"/> resets every relayed connection and each new one, until
/// <see cref="Restore"/>. Disposing it stops it and resets what it still relays.
/// </summary>
public sealed class TcpRelay : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Socket, Socket> _pairs = new();
    private readonly Task _accepting;
    private volatile bool _cut;

    private TcpRelay(int targetPort)
    {
        _targetPort = targetPort;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    /// <summary>The relay's port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>The relay as an origin, <c>http://127.0.0.1:{Port}</c>, for a server that speaks HTTP.</summary>
    public Uri Url => new($"http://127.0.0.1:{Port}/");

    /// <summary>How many connections it relays now.</summary>
    public int Connections => _pairs.Count;

    /// <summary>Relays 127.0.0.1:<paramref name="targetPort"/>, e.g. a node's client port.</summary>
    public static TcpRelay Start(int targetPort) => new(targetPort);

    /// <summary>
    /// Resets every connection it relays (both ends see the connection fail) and, until <see cref="Restore"/>, each
    /// new one as soon as it arrives: to the client, the server is unreachable.
    /// </summary>
    public void Cut()
    {
        _cut = true;
        foreach (var (client, server) in _pairs)
        {
            Reset(client);
            Reset(server);
        }
    }

    /// <summary>Relays new connections again.</summary>
    public void Restore() => _cut = false;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopping the listener ends the accept loop.
        }

        foreach (var (client, server) in _pairs)
        {
            Reset(client);
            Reset(server);
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptSocketAsync(_stop.Token);
            if (_cut)
            {
                Reset(client);
                continue;
            }

            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(Socket client)
    {
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        try
        {
            await server.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _targetPort), _stop.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            Reset(client);
            server.Dispose();
            return;
        }

        _pairs[client] = server;
        if (_cut)
        {
            // Cut while it connected: it goes too.
            Reset(client);
            Reset(server);
        }

        // Either direction ending (a close, a reset) ends both.
        await Task.WhenAny(PumpAsync(client, server), PumpAsync(server, client));
        _pairs.TryRemove(client, out _);
        client.Dispose();
        server.Dispose();
    }

    private static async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None);
                if (read == 0)
                {
                    // Closed; browsers and servers do not half-close, so the whole connection ends here.
                    return;
                }

                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Reset or closed: the relay of this connection ends.
        }
    }

    /// <summary>Closes with a reset (RST), as a dropped network shows itself once the peer sends.</summary>
    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Gone already.
        }
    }
}
