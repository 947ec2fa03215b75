namespace SocketPush.Client.Tests.Infrastructure;

/// <summary>The node the client tests run against, and a client of its admin port.</summary>
internal static class ClientTestNode
{
    /// <summary>
    /// Starts a node with <paramref name="apiKey"/> (or none), that unsubscribes users at once when they go
    /// (tests see the end state without waiting a minute), and logs only warnings and errors.
    /// </summary>
    public static Task<NodeProcess> StartAsync(string? apiKey = null) => NodeProcess.StartAsync(new NodeProcessOptions
    {
        NodeId = "client-tests",
        ExtraConfig = $"""
            admin:
              apiKey: "{apiKey}"
            options:
              removeUserAfterDisconnectTimeout: 0
            logging:
              level: Warning
            """,
    });

    public static SocketPushClient CreateClient(this NodeProcess node, string? apiKey = null) => new(node.AdminUrl, apiKey);
}

/// <summary>One node process shared by the tests of a class; each test uses ids of its own.</summary>
public abstract class NodeFixtureBase(string? apiKey) : IAsyncLifetime
{
    private NodeProcess? _node;

    internal NodeProcess Node => _node ?? throw new InvalidOperationException("The node has not started.");

    public async Task InitializeAsync() => _node = await ClientTestNode.StartAsync(apiKey);

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
    }
}

/// <summary>A node without an API key.</summary>
public sealed class NodeFixture() : NodeFixtureBase(apiKey: null);

/// <summary>A node whose admin port requires <see cref="ApiKey"/>.</summary>
public sealed class ApiKeyNodeFixture() : NodeFixtureBase(ApiKey)
{
    public const string ApiKey = "client-tests-api-key-0123456789";
}

/// <summary>Unique ids, so that tests sharing a node never see each other's users and channels.</summary>
internal static class TestIds
{
    private static int _next;

    public static string User(string name = "u") => $"{name}-{Interlocked.Increment(ref _next)}-{Environment.ProcessId}";

    public static string Channel(string name = "c") => $"{name}/{Interlocked.Increment(ref _next)}-{Environment.ProcessId}";

    public static string Session() => $"s-{Guid.NewGuid():N}";
}
