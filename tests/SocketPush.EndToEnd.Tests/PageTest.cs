using System.Text.Json.Nodes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace SocketPush.EndToEnd.Tests;

/// <summary>
/// A test that uses the pages of the shared node as a person would: a fresh browser context (its own
/// localStorage) per test, the node's output of the test written to the test output.
/// </summary>
public abstract class PageTest(NodeFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private int _nodeOutputStart;

    private protected NodeFixture Fixture { get; } = fixture;

    private protected ITestOutputHelper Output { get; } = output;

    private protected IBrowserContext Context { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _nodeOutputStart = Fixture.Node.OutputLineCount;
        Context = await Fixture.Chromium.Browser.NewContextAsync();
    }

    public async Task DisposeAsync()
    {
        await Context.DisposeAsync();
        Output.WriteLine("--- node output during the test ---");
        Output.WriteLine(Fixture.Node.OutputSince(_nodeOutputStart));
    }

    private protected Task<IPage> OpenAdminAsync() => OpenAdminAsync(Fixture.Node.AdminUrl);

    private protected async Task<IPage> OpenAdminAsync(Uri adminUrl)
    {
        var page = await Chromium.OpenAsync(Context, adminUrl, Output);
        await Expect(page.GetByTestId("api-status")).ToHaveAttributeAsync("data-state", "ready");
        return page;
    }

    private protected Task<IPage> OpenClientAsync() => Chromium.OpenAsync(Context, Fixture.Node.ClientUrl, Output);

    /// <summary>
    /// Saves what the page shows as a PNG when SOCKETPUSH_SCREENSHOTS names a folder, to look at the pages as a
    /// person sees them; does nothing otherwise.
    /// </summary>
    private protected static async Task ScreenshotAsync(IPage page, string name)
    {
        if (Environment.GetEnvironmentVariable("SOCKETPUSH_SCREENSHOTS") is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(folder, name + ".png"), FullPage = true });
        }
    }

    /// <summary>Fills a method's form on the management page, clicks Call and returns the result element.</summary>
    private protected static async Task<ILocator> CallInAdminAsync(IPage admin, string method, params (string Name, string Value)[] parameters)
    {
        foreach (var (name, value) in parameters)
        {
            await admin.GetByTestId($"param-{method}.{name}").FillAsync(value);
        }

        var result = admin.GetByTestId($"result-{method}");
        await admin.GetByTestId($"call-{method}").ClickAsync();
        // "pending" while the request runs; the button is enabled again once the answer is shown.
        await Expect(admin.GetByTestId($"call-{method}")).ToBeEnabledAsync();
        await Expect(result).Not.ToHaveAttributeAsync("data-state", new System.Text.RegularExpressions.Regex("^(idle|pending)$"));
        return result;
    }

    /// <summary>Fills the connect form of a client tab and clicks Connect.</summary>
    private protected static async Task ConnectAsync(IPage client, string userId, string sessionId, string transport = "auto")
    {
        await client.GetByTestId("user-id").FillAsync(userId);
        await client.GetByTestId("session-id").FillAsync(sessionId);
        await client.GetByTestId("transport").SelectOptionAsync(transport);
        await client.GetByTestId("connect").ClickAsync();
    }

    private protected static void AssertSameJson(string expected, string? actual) =>
        Assert.True(
            JsonNode.DeepEquals(JsonNode.Parse(expected), JsonNode.Parse(actual ?? "null")),
            $"expected JSON {expected}, the page shows {actual}");
}
