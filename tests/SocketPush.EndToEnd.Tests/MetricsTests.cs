using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;

namespace SocketPush.EndToEnd.Tests;

/// <summary>Prometheus' own linter accepts what the node serves on /metrics once it has seen traffic.</summary>
[Collection(NodeCollection.Name)]
public sealed class MetricsTests(NodeFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task PromtoolCheckMetricsPassesAfterTraffic()
    {
        await GenerateTrafficAsync();
        var metrics = await fixture.Api.GetTextAsync("/metrics");
        Assert.Contains("socketpush_", metrics, StringComparison.Ordinal);

        var (exitCode, promtoolOutput) = await CheckWithPromtoolAsync(metrics);
        output.WriteLine(promtoolOutput);
        Assert.True(exitCode == 0, $"promtool check metrics exited with {exitCode}:\n{promtoolOutput}");
    }

    // A connection of the official .NET client, and a user and a channel publish delivered to it.
    private async Task GenerateTrafficAsync()
    {
        const string userId = "metrics-user";
        const string sessionId = "s-metrics";
        await fixture.Api.CallAsync("auth", "set", new { userId, sessionId });
        await using var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(fixture.Node.ClientUrl, "/push"))
            .Build();
        var received = new List<JsonElement>();
        var both = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.On<JsonElement>("message", message =>
        {
            lock (received)
            {
                received.Add(message);
                if (received.Count == 2)
                {
                    both.TrySetResult();
                }
            }
        });
        await connection.StartAsync();
        // socket-push's way: authenticate after connecting; the answer comes once the connection is registered.
        Assert.Equal(userId, await connection.InvokeAsync<string>("Authenticate", userId, sessionId));

        await fixture.Api.CallAsync("channel", "subscribe", new { userId, channelId = "metrics" });
        Assert.Equal(1, (await fixture.Api.CallAsync("user", "publish", new { userId, message = new { n = 1 } })).GetInt32());
        Assert.Equal(1, (await fixture.Api.CallAsync("channel", "publish", new { channelId = "metrics", message = new { n = 2 } })).GetInt32());
        await both.Task.WaitAsync(TimeSpan.FromSeconds(15));
    }

    private static async Task<(int ExitCode, string Output)> CheckWithPromtoolAsync(string metrics)
    {
        try
        {
            var run = await ProcessRunner.RunAsync("promtool", ["check", "metrics"], standardInput: metrics);
            return (run.ExitCode, $"{run.StandardOutput}{run.StandardError}");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException(
                "promtool is not on PATH; install Debian's prometheus package (bash test.sh does).", ex);
        }
    }
}
