namespace SocketPush.Node.Tests.HubServer;

/// <summary>What a hub client is told when the server closes it: whether to come back.</summary>
public sealed class ServerCloseTests
{
    [Fact]
    public async Task User_remove_tells_the_client_not_to_reconnect()
    {
        await using var node = await TestNode.StartAsync();
        await node.CallAsync("auth", "set", new { userId = "r", sessionId = "rs" });
        await using var client = await RawSocketClient.OpenHubAsync(new Uri(node.ClientUrl).Port, "?userId=r&sessionId=rs");
        await node.WaitForConnectionsAsync("r", 1);

        await node.CallAsync("user", "remove", new { userId = "r" });

        var close = await client.ReadMessageAsync();
        Assert.Contains("\"type\":7", close.Text, StringComparison.Ordinal);
        Assert.Contains("user.remove", close.Text, StringComparison.Ordinal);
        // The JSON hub protocol writes allowReconnect only when it is true.
        Assert.DoesNotContain("allowReconnect", close.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stopping_node_tells_the_client_it_may_reconnect()
    {
        var node = await TestNode.StartAsync();
        await node.CallAsync("auth", "set", new { userId = "s", sessionId = "ss" });
        await using var client = await RawSocketClient.OpenHubAsync(new Uri(node.ClientUrl).Port, "?userId=s&sessionId=ss");
        await node.WaitForConnectionsAsync("s", 1);

        await node.DisposeAsync();

        var close = await client.ReadMessageAsync();
        Assert.Contains("\"type\":7", close.Text, StringComparison.Ordinal);
        Assert.Contains("shutting down", close.Text, StringComparison.Ordinal);
        Assert.Contains("\"allowReconnect\":true", close.Text, StringComparison.Ordinal);
    }
}
