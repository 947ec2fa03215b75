using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using SocketPush.Client.Services;
using SocketPush.Node.Edge;
using SocketPush.Node.Cluster;
using SocketPush.Node.Configuration;
using SocketPush.Node.Hosting;

namespace SocketPush.Node.Tests;

/// <summary>The node's services wired exactly as the host wires them, without ports, on a fake clock.</summary>
internal sealed class ServiceFixture : IDisposable
{
    private readonly ServiceProvider _provider;
    private readonly IHostedService[] _background;

    public ServiceFixture(Action<NodeConfig>? configure = null)
    {
        Config = new NodeConfig();
        configure?.Invoke(Config);
        var services = new ServiceCollection();
        services.AddSingleton(typeof(Microsoft.Extensions.Logging.ILogger<>), typeof(NullLogger<>));
        services.AddSingleton<Microsoft.Extensions.Logging.ILoggerFactory>(NullLoggerFactory.Instance);
        services.AddSignalR();
        var identity = new NodeIdentity(Config.Node.Id) { ClientUrl = "http://127.0.0.1:8080" };
        NodeHost.RegisterServices(services, new LiveConfig(Config), identity, new HealthState(), Time, ConfigSource.None);
        _provider = services.BuildServiceProvider();
        // As the host does: the background services run, so presence reports follow the registry from here on (the
        // cluster port stays closed, a ring of one).
        _background = [.. _provider.GetServices<IHostedService>()];
        foreach (var service in _background)
        {
            service.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        }
    }

    public NodeConfig Config { get; }

    public FakeTimeProvider Time { get; } = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    public IAuthService Auth => _provider.GetRequiredService<IAuthService>();

    public IUserService User => _provider.GetRequiredService<IUserService>();

    public IChannelService Channel => _provider.GetRequiredService<IChannelService>();

    public ConnectionRegistry Registry => _provider.GetRequiredService<ConnectionRegistry>();

    public T Get<T>()
        where T : notnull => _provider.GetRequiredService<T>();

    public void Dispose()
    {
        foreach (var service in Enumerable.Reverse(_background))
        {
            service.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        }

        _provider.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}

/// <summary>A connection with no transport behind it, for registry bookkeeping in unit tests.</summary>
internal sealed class RecordingConnection(string id, string userId) : ClientConnection(id, userId, ClientTransport.WebSockets)
{
    public string? AbortedBecause { get; private set; }

    public List<PushMessage> Received { get; } = [];

    protected override SendResult Send(PushMessage message)
    {
        if (AbortedBecause is not null)
        {
            return SendResult.Refused;
        }

        Received.Add(message);
        return SendResult.Written;
    }

    public override void Abort(string reason, bool allowReconnect) => AbortedBecause = reason;
}
