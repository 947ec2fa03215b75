using System.Globalization;
using System.Net.Security;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SocketPush.Node.Configuration;
using SocketPush.Node.Hosting;

namespace SocketPush.Node.Tests;

/// <summary>A real node on loopback ports the OS picked, plus helpers to call it as a backend and a client would.</summary>
internal sealed class TestNode : IAsyncDisposable
{
    private readonly RemoteCertificateValidationCallback? _serverCertificate;

    private TestNode(NodeHost host, RemoteCertificateValidationCallback? serverCertificate = null)
    {
        Host = host;
        _serverCertificate = serverCertificate;
        Admin = new HttpClient(Handler()) { BaseAddress = new Uri(host.Identity.AdminUrl) };
        Client = new HttpClient(Handler()) { BaseAddress = new Uri(host.Identity.ClientUrl), Timeout = Timeout.InfiniteTimeSpan };
    }

    public NodeHost Host { get; }

    public HttpClient Admin { get; }

    public HttpClient Client { get; }

    public string ClientUrl => Host.Identity.ClientUrl;

    /// <summary>Starts a node; <paramref name="serverCertificate"/> is how its clients check the certificate of a node with TLS.</summary>
    public static async Task<TestNode> StartAsync(
        Action<NodeConfig>? configure = null, TimeProvider? time = null, RemoteCertificateValidationCallback? serverCertificate = null)
    {
        var config = new NodeConfig();
        config.Node.ClientPort = 0;
        config.Admin.Port = 0;
        config.Node.ClusterPort = 0;
        configure?.Invoke(config);
        Assert.Empty(ConfigValidator.Validate(config));
        return new TestNode(await NodeHost.StartAsync(config, time, logging: NoOutput), serverCertificate);
    }

    /// <summary>An HTTP handler that checks a TLS node's certificate as the node was started to (the platform's way otherwise).</summary>
    public HttpMessageHandler Handler() =>
        new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = _serverCertificate } };

    /// <summary>A node that reads and watches a config file, as a node process does (flags: <c>--client-port=0</c> and the like).</summary>
    public static async Task<TestNode> StartFromFileAsync(string path, params string[] flags)
    {
        var source = ConfigLoader.SourceOf(["--config", path, .. flags]);
        return new TestNode(await NodeHost.StartAsync(ConfigLoader.Load(source), logging: NoOutput, source: source));
    }

    /// <summary>No log providers: the test asserts on behaviour, and a node process's tests read its output.</summary>
    private static void NoOutput(ILoggingBuilder logging)
    {
    }

    public T Service<T>()
        where T : notnull => Host.Services.GetRequiredService<T>();

    /// <summary>Calls <c>POST /api/{service}/{method}</c> and returns the result, failing the test on an error answer.</summary>
    public async Task<JsonElement> CallAsync(string service, string method, object parameters)
    {
        var (ok, body) = await TryCallAsync(service, method, parameters);
        Assert.True(ok, $"{service}.{method} answered {body}");
        return body.GetProperty("result");
    }

    /// <summary>Calls <c>POST /api/{service}/{method}</c>; the body is <c>{"result"}</c> on success, <c>{"error", "code"}</c> otherwise.</summary>
    public async Task<(bool Ok, JsonElement Body)> TryCallAsync(string service, string method, object parameters)
    {
        using var response = await Admin.PostAsJsonAsync($"/api/{service}/{method}", parameters);
        return (response.IsSuccessStatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    /// <summary>
    /// The official client; <paramref name="skipNegotiation"/> (WebSockets only) connects where it is, as a plain
    /// WebSocket client would. Without <paramref name="userId"/> and <paramref name="sessionId"/> the URL carries no
    /// credentials (the client authenticates with a hub method); <paramref name="configure"/> adds to the builder
    /// (automatic reconnect, say).
    /// </summary>
    public HubConnection Hub(
        string? userId,
        string? sessionId,
        Microsoft.AspNetCore.Http.Connections.HttpTransportType transport,
        bool messagePack = false,
        bool skipNegotiation = false,
        Action<IHubConnectionBuilder>? configure = null)
    {
        var query = userId is null && sessionId is null ? "" : $"?userId={Uri.EscapeDataString(userId ?? "")}&sessionId={Uri.EscapeDataString(sessionId ?? "")}";
        var builder = new HubConnectionBuilder()
            .WithUrl($"{ClientUrl}/push{query}", o =>
            {
                o.Transports = transport;
                o.SkipNegotiation = skipNegotiation;
                if (_serverCertificate is { } check)
                {
                    o.HttpMessageHandlerFactory = _ => Handler();
                    o.WebSocketConfiguration = socket => socket.RemoteCertificateValidationCallback = check;
                }
            });
        if (messagePack)
        {
            builder.AddMessagePackProtocol();
        }

        configure?.Invoke(builder);
        return builder.Build();
    }

    /// <summary>Every <paramref name="hubEvent"/> the connection receives from now on, in order; register before starting it.</summary>
    public static ChannelReader<JsonElement> Inbox(HubConnection hub, string hubEvent = "message")
    {
        var inbox = Channel.CreateUnbounded<JsonElement>();
        hub.On<JsonElement>(hubEvent, m => inbox.Writer.TryWrite(m));
        return inbox.Reader;
    }

    /// <summary>The next message of an <see cref="Inbox"/>; fails after 15 s so that a lost message fails the test instead of hanging it.</summary>
    public static async Task<JsonElement> NextAsync(ChannelReader<JsonElement> inbox)
    {
        using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
        return await inbox.ReadAsync(timeout.Token);
    }

    /// <summary>Negotiates a hub connection (<c>negotiateVersion=1</c>) and returns the token its transport names.</summary>
    public async Task<string> NegotiateAsync()
    {
        using var response = await Client.PostAsync("/push/negotiate?negotiateVersion=1", null);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("connectionToken").GetString()!;
    }

    /// <summary>One sample of <c>/metrics</c>, e.g. <c>socketpush_connections_rejected_total{reason="origin"}</c>; 0 when absent.</summary>
    public async Task<double> MetricAsync(string sample)
    {
        var text = await Admin.GetStringAsync("/metrics");
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(sample + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(sample.Length + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    /// <summary>
    /// A message's JSON without its stream position (<c>"epoch":"…","offset":n,</c>, which history adds to every
    /// message by default), for tests that check a transport's wire form rather than the positions.
    /// </summary>
    public static string WithoutPosition(string json) =>
        System.Text.RegularExpressions.Regex.Replace(json, "\"epoch\":\"[a-z0-9]+\",\"offset\":[0-9]+,", "");

    /// <summary><see cref="WithoutPosition(string)"/> of a received message.</summary>
    public static string WithoutPosition(JsonElement message) => WithoutPosition(message.GetRawText());

    /// <summary>Reads the next event of a text/event-stream: its name and data line.</summary>
    public static async Task<(string Event, string Data)> NextSseEventAsync(StreamReader reader)
    {
        var next = await ReadSseEventAsync(reader);
        return (next.Event, next.Data);
    }

    /// <summary>Reads the next event of a text/event-stream: its name, data line and <c>id:</c> (null without one).</summary>
    public static async Task<SseEvent> ReadSseEventAsync(StreamReader reader)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        string? name = null;
        string? data = null;
        string? id = null;
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.Length == 0 && name is not null)
            {
                return new SseEvent(name, data!, id);
            }

            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line["event: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data = line["data: ".Length..];
            }
            else if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                id = line["id: ".Length..];
            }
        }

        throw new EndOfStreamException("The stream ended before an event arrived.");
    }

    /// <summary>
    /// SignalR completes the client's start before the hub's OnConnectedAsync has run, so a test that publishes
    /// right after connecting first waits until the node has registered the connections.
    /// </summary>
    public Task WaitForConnectionsAsync(string userId, int count) =>
        Eventually.TrueAsync(
            () => Service<SocketPush.Node.Edge.ConnectionRegistry>().ConnectionsOf(userId).Length == count,
            $"user {userId} has {count} connection(s) on the node");

    public async ValueTask DisposeAsync()
    {
        Admin.Dispose();
        Client.Dispose();
        await Host.DisposeAsync();
    }
}

/// <summary>One event of a text/event-stream.</summary>
/// <param name="Event">Its <c>event:</c> name.</param>
/// <param name="Data">Its <c>data:</c> line.</param>
/// <param name="Id">Its <c>id:</c>, or null when it has none.</param>
internal sealed record SseEvent(string Event, string Data, string? Id);
