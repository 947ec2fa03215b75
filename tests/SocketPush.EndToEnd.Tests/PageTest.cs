using Microsoft.Playwright;

namespace SocketPush.EndToEnd.Tests;

/// <summary>A test on the pages of the shared node; the node's output of the test goes to the test output.</summary>
public abstract class PageTest(NodeFixture fixture, ITestOutputHelper output) : BrowserTest(output)
{
    private int _nodeOutputStart;

    private protected NodeFixture Fixture { get; } = fixture;

    private protected override Chromium Chromium => Fixture.Chromium;

    public override async Task InitializeAsync()
    {
        _nodeOutputStart = Fixture.Node.OutputLineCount;
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Output.WriteLine("--- node output during the test ---");
        Output.WriteLine(Fixture.Node.OutputSince(_nodeOutputStart));
    }

    private protected Task<IPage> OpenAdminAsync() => OpenAdminAsync(Fixture.Node.AdminUrl);

    private protected Task<IPage> OpenClientAsync() => OpenAsync(Fixture.Node.ClientUrl);
}
