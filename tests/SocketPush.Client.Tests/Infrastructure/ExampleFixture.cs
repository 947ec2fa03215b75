using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.FileProviders;
using Microsoft.Playwright;
using SocketPush.EndToEnd.Tests;

namespace SocketPush.Client.Tests.Infrastructure;

/// <summary>
/// What the examples run against: a node, a web site of its own serving examples/browser (another origin than
/// the node, as a real site would be), and Debian's headless Chromium driven by Playwright.
/// </summary>
public sealed class ExampleFixture : IAsyncLifetime
{
    private NodeProcess? _node;
    private LoopbackSite? _site;
    private Chromium? _chromium;

    internal NodeProcess Node => _node ?? throw new InvalidOperationException("The node has not started.");

    /// <summary>The site serving the pages of examples/browser.</summary>
    internal Uri SiteUrl => _site?.Url ?? throw new InvalidOperationException("The site has not started.");

    internal IBrowser Browser => _chromium?.Browser ?? throw new InvalidOperationException("Chromium has not started.");

    public async Task InitializeAsync()
    {
        _node = await ClientTestNode.StartAsync();
        _site = await LoopbackSite.StartAsync(site =>
            site.UseStaticFiles(new StaticFileOptions { FileProvider = new PhysicalFileProvider(Repository.Path("examples/browser")) }));

        _chromium = await Chromium.LaunchAsync();
    }

    public async Task DisposeAsync()
    {
        if (_chromium is not null)
        {
            await _chromium.DisposeAsync();
        }

        if (_site is not null)
        {
            await _site.DisposeAsync();
        }

        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
    }
}
