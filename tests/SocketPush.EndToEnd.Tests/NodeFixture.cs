namespace SocketPush.EndToEnd.Tests;

/// <summary>One node process and one browser, shared by the tests of <see cref="NodeCollection"/>.</summary>
public sealed class NodeFixture : IAsyncLifetime
{
    internal NodeProcess Node { get; private set; } = null!;

    internal Chromium Chromium { get; private set; } = null!;

    internal AdminApi Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Node = await NodeProcess.StartAsync(new NodeProcessOptions { NodeId = "e2e-node" });
        Api = new AdminApi(Node.AdminUrl);
        Chromium = await Chromium.LaunchAsync();
    }

    public async Task DisposeAsync()
    {
        if (Chromium is not null)
        {
            await Chromium.DisposeAsync();
        }

        Api?.Dispose();
        if (Node is not null)
        {
            await Node.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class NodeCollection : ICollectionFixture<NodeFixture>
{
    public const string Name = "one node";
}
