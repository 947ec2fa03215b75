using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;
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
    private WebApplication? _site;
    private Chromium? _chromium;

    internal NodeProcess Node => _node ?? throw new InvalidOperationException("The node has not started.");

    /// <summary>The site serving the pages of examples/browser.</summary>
    internal Uri SiteUrl { get; private set; } = new("http://127.0.0.1/");

    internal IBrowser Browser => _chromium?.Browser ?? throw new InvalidOperationException("Chromium has not started.");

    public async Task InitializeAsync()
    {
        _node = await NodeProcess.StartAsync();
        _site = await StartSiteAsync(Repository.Path("examples/browser"));
        SiteUrl = new Uri(_site.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());

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

    private static async Task<WebApplication> StartSiteAsync(string root)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var site = builder.Build();
        site.UseStaticFiles(new StaticFileOptions { FileProvider = new PhysicalFileProvider(root) });
        await site.StartAsync();
        return site;
    }
}
