using System.Text.Json.Nodes;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace SocketPush.EndToEnd.Tests;

/// <summary>
/// A test that uses the pages of real nodes in headless Chromium as a person would: a fresh browser context (its
/// own localStorage) per test, and the steps a person takes on the pages.
/// </summary>
public abstract class BrowserTest(ITestOutputHelper output) : IAsyncLifetime
{
    private protected ITestOutputHelper Output { get; } = output;

    private protected IBrowserContext Context { get; private set; } = null!;

    /// <summary>The browser of the fixture the tests share.</summary>
    private protected abstract Chromium Chromium { get; }

    public virtual async Task InitializeAsync() => Context = await Chromium.Browser.NewContextAsync();

    public virtual async Task DisposeAsync() => await Context.DisposeAsync();

    /// <summary>Opens a page of this test's browser context.</summary>
    private protected Task<IPage> OpenAsync(Uri url) => Chromium.OpenAsync(Context, url, Output);

    /// <summary>Opens the management page of a node and waits until it has built its forms from <c>GET /api</c>.</summary>
    private protected async Task<IPage> OpenAdminAsync(Uri adminUrl)
    {
        var page = await OpenAsync(adminUrl);
        await Expect(page.GetByTestId("api-status")).ToHaveAttributeAsync("data-state", "ready");
        return page;
    }

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
