namespace SocketPush.LoadTest.Clients;

/// <summary>What a client connection needs to reach one system as one user.</summary>
internal sealed record ConnectionSpec(
    string System,
    string Transport,
    string ClientUrl,
    string UserId,
    string SessionId,
    string? Channel);

/// <summary>One client connection of the harness, of any system and transport.</summary>
internal abstract class BenchConnection : IAsyncDisposable
{
    protected BenchConnection(DeliveryCounters counters) => Counters = counters;

    protected DeliveryCounters Counters { get; }

    /// <summary>Why the connection ended after it was up, or null while it is fine.</summary>
    public string? Failure { get; protected set; }

    /// <summary>Completes once the connection is up and subscribed as far as the client can tell.</summary>
    public abstract Task ConnectAsync(CancellationToken cancellationToken);

    /// <summary>Sends the protocol's client keep-alive, for protocols whose server expects one.</summary>
    public virtual Task KeepAliveAsync() => Task.CompletedTask;

    public abstract ValueTask DisposeAsync();
}
