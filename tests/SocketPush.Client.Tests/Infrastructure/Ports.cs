using System.Net;
using System.Net.Sockets;

namespace SocketPush.Client.Tests.Infrastructure;

internal static class Ports
{
    /// <summary>A loopback port the OS just handed out and nobody listens on any more: connecting to it is refused.</summary>
    public static int Closed()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
