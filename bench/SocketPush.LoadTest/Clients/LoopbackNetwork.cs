using System.Net;
using System.Net.Sockets;
using SocketPush.Testing;

namespace SocketPush.LoadTest.Clients;

/// <summary>
/// HTTP handlers that bind outgoing connections to one of several 127.0.0.x source addresses. Ten thousand
/// connections from one address to one port fit in the ephemeral range, but several runs in a row leave
/// sockets in TIME_WAIT, and long polling opens more: spreading over addresses keeps clear of both.
/// </summary>
internal sealed class LoopbackNetwork : IDisposable
{
    // IP_BIND_ADDRESS_NO_PORT (linux/in.h): choose the source port at connect, per destination, instead of
    // at bind, where one address would be limited to the ephemeral range across all destinations.
    private const int IpBindAddressNoPort = 24;
    private const int SolIp = 0;

    private readonly SocketsHttpHandler[] _handlers;
    private readonly HttpMessageInvoker[] _invokers;

    public LoopbackNetwork(IReadOnlyList<string> sourceAddresses)
    {
        var addresses = sourceAddresses.Count == 0 ? ["127.0.0.1"] : sourceAddresses;
        _handlers = [.. addresses.Select(a => CreateHandler(IPAddress.Parse(a)))];
        _invokers = [.. _handlers.Select(h => new HttpMessageInvoker(h, disposeHandler: false))];
    }

    public HttpMessageInvoker Invoker(int connectionIndex) => _invokers[connectionIndex % _invokers.Length];

    /// <summary>A handler for a client that disposes what it is given (the SignalR client does).</summary>
    public HttpMessageHandler SharedHandler(int connectionIndex) => new NonDisposingHandler(Invoker(connectionIndex));

    public void Dispose()
    {
        foreach (var invoker in _invokers)
        {
            invoker.Dispose();
        }

        foreach (var handler in _handlers)
        {
            handler.Dispose();
        }
    }

    private static SocketsHttpHandler CreateHandler(IPAddress source) => new()
    {
        UseProxy = false,
        UseCookies = false,
        AllowAutoRedirect = true,
        AutomaticDecompression = DecompressionMethods.None,
        MaxConnectionsPerServer = int.MaxValue,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(30),
        // Only used under --tls: the node's test certificate, trusted by its thumbprint (TestCertificate.Trust).
        SslOptions = { RemoteCertificateValidationCallback = TestCertificate.Validation },
        ConnectCallback = async (context, cancellationToken) =>
        {
            var target = IPAddress.Parse(context.DnsEndPoint.Host);
            var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                if (target.AddressFamily == AddressFamily.InterNetwork)
                {
                    socket.SetRawSocketOption(SolIp, IpBindAddressNoPort, BitConverter.GetBytes(1));
                    socket.Bind(new IPEndPoint(source, 0));
                }

                await socket.ConnectAsync(new IPEndPoint(target, context.DnsEndPoint.Port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    private sealed class NonDisposingHandler(HttpMessageInvoker inner) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            inner.SendAsync(request, cancellationToken);
    }
}
