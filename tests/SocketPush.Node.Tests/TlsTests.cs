using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http.Connections;
using SocketPush.Node.Edge;
using SocketPush.Node.Edge.HubServer;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Tests;

/// <summary>HTTPS on the client and admin ports from PEM or PKCS#12 files, every transport over it, and a renewal taken without a restart.</summary>
public sealed class TlsTests : IAsyncLifetime
{
    private readonly TestCertificate _certificate = TestCertificate.Create();
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync(
        c =>
        {
            c.Tls.Certificate = _certificate.CertificatePath;
            c.Tls.Key = _certificate.KeyPath;
        },
        serverCertificate: TestCertificate.Validation);

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        _certificate.Dispose();
    }

    [Fact]
    public async Task Both_ports_speak_https_and_the_advertised_urls_say_so()
    {
        Assert.StartsWith("https://", _node.ClientUrl, StringComparison.Ordinal);
        Assert.StartsWith("https://", _node.Host.Identity.AdminUrl, StringComparison.Ordinal);
        await _node.CallAsync("auth", "set", new { userId = "1", sessionId = "s" });
        Assert.Equal(_node.ClientUrl, (await _node.CallAsync("user", "getFrontendServer", new { userId = "1" })).GetString());
        Assert.Contains("socketpush_connections", await _node.Admin.GetStringAsync("/metrics"), StringComparison.Ordinal);
        Assert.Equal(_certificate.Certificate.Thumbprint, (await PresentedAsync(new Uri(_node.Host.Identity.AdminUrl))).Thumbprint);

        // Plain HTTP on a TLS port gets no answer a client could take for one.
        using var plain = new HttpClient();
        var clientPort = new Uri(_node.ClientUrl).Port;
        await Assert.ThrowsAsync<HttpRequestException>(() => plain.GetAsync(new Uri($"http://127.0.0.1:{clientPort}/")));
    }

    [Theory]
    [InlineData(HttpTransportType.WebSockets, true)]
    [InlineData(HttpTransportType.WebSockets, false)]
    [InlineData(HttpTransportType.ServerSentEvents, false)]
    [InlineData(HttpTransportType.LongPolling, false)]
    public async Task The_official_client_receives_over_every_transport(HttpTransportType transport, bool skipNegotiation)
    {
        var userId = $"tls-{transport}-{skipNegotiation}";
        await _node.CallAsync("auth", "set", new { userId, sessionId = "s" });
        await using var hub = _node.Hub(userId, "s", transport, skipNegotiation: skipNegotiation);
        var inbox = TestNode.Inbox(hub);
        await hub.StartAsync();
        await _node.WaitForConnectionsAsync(userId, 1);

        await _node.CallAsync("user", "publish", new { userId, message = "over tls" });
        Assert.Equal("over tls", (await TestNode.NextAsync(inbox)).GetProperty("data").GetString());

        // The node's own WebSocket path writes to the raw socket; under TLS the HTTP server's WebSocket carries the hub.
        var connection = Assert.Single(_node.Service<ConnectionRegistry>().ConnectionsOf(userId));
        Assert.False(connection is WebSocketHubSession);
    }

    [Fact]
    public async Task Plain_sse_streams_over_https()
    {
        await _node.CallAsync("auth", "set", new { userId = "sse", sessionId = "s" });
        using var response = await _node.Client.GetAsync("/sse?userId=sse&sessionId=s", HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        await _node.WaitForConnectionsAsync("sse", 1);
        await _node.CallAsync("user", "publish", new { userId = "sse", message = "streamed" });
        var (name, data) = await TestNode.NextSseEventAsync(reader);
        Assert.Equal("message", name);
        Assert.Contains("streamed", data, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_renewed_certificate_is_presented_to_new_connections_without_a_restart()
    {
        var clientUrl = new Uri(_node.ClientUrl);
        Assert.Equal(_certificate.Certificate.Thumbprint, (await PresentedAsync(clientUrl)).Thumbprint);

        var renewed = _certificate.Renew("socketpush-test-renewed");
        await Eventually.TrueAsync(
            async () => (await PresentedAsync(clientUrl)).Thumbprint == renewed.Thumbprint,
            "new connections get the renewed certificate");
        Assert.Equal(renewed.Thumbprint, (await PresentedAsync(new Uri(_node.Host.Identity.AdminUrl))).Thumbprint);
        await _node.CallAsync("auth", "set", new { userId = "after-renewal", sessionId = "s" });
    }

    [Fact]
    public void A_pkcs12_file_with_its_password_loads_and_bad_files_are_refused_naming_tls_certificate()
    {
        var pfx = Path.Combine(_certificate.Directory, "server.pfx");
        File.WriteAllBytes(pfx, _certificate.Certificate.Export(X509ContentType.Pkcs12, "pfx-password"));
        Assert.Null(Problem(new TlsSection { Certificate = pfx, Password = "pfx-password" }));
        Assert.Contains("server.pfx", Problem(new TlsSection { Certificate = pfx, Password = "wrong" }), StringComparison.Ordinal);

        var missing = Path.Combine(_certificate.Directory, "missing.pem");
        Assert.Contains("missing.pem", Problem(new TlsSection { Certificate = missing }), StringComparison.Ordinal);

        var certificateOnly = Path.Combine(_certificate.Directory, "only-cert.pem");
        File.WriteAllText(certificateOnly, _certificate.Certificate.ExportCertificatePem());
        Assert.NotNull(Problem(new TlsSection { Certificate = certificateOnly }));

        var keyWithoutCertificate = new NodeConfig { Tls = new TlsSection { Key = _certificate.KeyPath } };
        Assert.Contains(ConfigValidator.Validate(keyWithoutCertificate), p => p.Key == "tls.key");
    }

    private static string? Problem(TlsSection tls)
    {
        var config = new NodeConfig { Tls = tls };
        return ConfigValidator.Validate(config).SingleOrDefault(p => p.Key == "tls.certificate")?.Message;
    }

    /// <summary>The certificate a new TLS connection to <paramref name="url"/> is shown.</summary>
    private static async Task<X509Certificate2> PresentedAsync(Uri url)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(url.Host, url.Port);
        await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, TestCertificate.Validation);
        await tls.AuthenticateAsClientAsync("localhost");
        return new X509Certificate2(tls.RemoteCertificate!);
    }
}
