using System.Net;
using System.Net.Sockets;

namespace SocketPush.Testing;

/// <summary>
/// Loopback ports the OS just handed out and nobody holds any more, for programs that need a fixed port as a flag.
/// Prefer port 0 wherever the program reports what it bound: another process may take a port between here and its use.
/// </summary>
public static class FreePorts
{
    /// <summary>A free TCP port on 127.0.0.1; until someone listens on it, connecting to it is refused.</summary>
    public static int Tcp()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A free UDP port on 127.0.0.1.</summary>
    public static int Udp()
    {
        using var socket = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.Client.LocalEndPoint!).Port;
    }
}
