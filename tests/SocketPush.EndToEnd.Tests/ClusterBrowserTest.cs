using System.Globalization;
using Microsoft.Playwright;

namespace SocketPush.EndToEnd.Tests;

/// <summary>
/// A browser test on the local cluster of examples/cluster (<see cref="ClusterFixture"/>): what each node printed
/// during the test goes to the test output, and the questions these tests ask the nodes (who owns a user).
/// </summary>
public abstract class ClusterBrowserTest(ClusterFixture fixture, ITestOutputHelper output) : BrowserTest(output)
{
    private readonly Dictionary<string, long> _logStarts = [];

    private protected ClusterFixture Fixture { get; } = fixture;

    private protected override Chromium Chromium => Fixture.Chromium;

    public override async Task InitializeAsync()
    {
        foreach (var node in Fixture.Nodes)
        {
            _logStarts[node.Id] = new FileInfo(Fixture.LogPath(node.Id)).Length;
        }

        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        // Every node the test began with, a killed one too: its log says what it did before.
        foreach (var id in _logStarts.Keys)
        {
            using var log = new FileStream(Fixture.LogPath(id), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            log.Seek(_logStarts[id], SeekOrigin.Begin);
            using var reader = new StreamReader(log);
            Output.WriteLine($"--- {id} output during the test ---");
            Output.WriteLine(await reader.ReadToEndAsync());
        }
    }

    private protected static ILocator LogEntries(IPage tab, string kind) => tab.Locator($"[data-testid=log-entry][data-event={kind}]");

    private protected static async Task<string> FrontendServerAsync(ClusterNode askedNode, string userId) =>
        (await askedNode.Api.CallAsync("user", "getFrontendServer", new { userId })).GetString()!.TrimEnd('/');

    /// <summary>The first user id of the form <c>{prefix}-{n}</c> that another node than <paramref name="node"/> owns.</summary>
    private protected Task<(string UserId, ClusterNode Owner)> UserNotOwnedByAsync(ClusterNode node, string prefix) =>
        UserAsync(prefix, owner => owner != node);

    /// <summary>The first user id of the form <c>{prefix}-{n}</c> that <paramref name="node"/> owns.</summary>
    private protected Task<(string UserId, ClusterNode Owner)> UserOwnedByAsync(ClusterNode node, string prefix) =>
        UserAsync(prefix, owner => owner == node);

    private async Task<(string UserId, ClusterNode Owner)> UserAsync(string prefix, Func<ClusterNode, bool> accept)
    {
        var asked = Fixture.Nodes[0];
        for (var i = 0; i < 100; i++)
        {
            var userId = string.Create(CultureInfo.InvariantCulture, $"{prefix}-{i}");
            var url = await FrontendServerAsync(asked, userId);
            var owner = Fixture.Nodes.Single(n => n.Origin == url);
            if (accept(owner))
            {
                return (userId, owner);
            }
        }

        throw new InvalidOperationException($"None of 100 users {prefix}-n is owned as wanted.");
    }
}
