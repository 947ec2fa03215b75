namespace SocketPush.EndToEnd.Tests;

/// <summary>The binary as an operator runs it: ports from the OS, health endpoints, a clean stop on SIGTERM.</summary>
public sealed class NodeProcessTests
{
    [Fact]
    public async Task ANodeOnOsPickedPortsServesBothPortsAndStopsCleanlyOnSigterm()
    {
        await using var node = await NodeProcess.StartAsync(new NodeProcessOptions { NodeId = "e2e-lifecycle" });
        Assert.Equal("e2e-lifecycle", node.NodeId);
        Assert.NotEqual(node.ClientUrl.Port, node.AdminUrl.Port);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        foreach (var url in new[]
                 {
                     new Uri(node.AdminUrl, "/healthz"), new Uri(node.AdminUrl, "/readyz"),
                     new Uri(node.AdminUrl, "/"), new Uri(node.ClientUrl, "/"), new Uri(node.ClientUrl, "/lib/signalr.min.js"),
                 })
        {
            using var response = await http.GetAsync(url);
            Assert.True(response.IsSuccessStatusCode, $"GET {url} answered {(int)response.StatusCode}");
        }

        Assert.Equal(0, await node.StopAsync());
    }
}
