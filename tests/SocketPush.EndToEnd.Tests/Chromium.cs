using Microsoft.Playwright;

namespace SocketPush.EndToEnd.Tests;

/// <summary>Debian's headless Chromium driven by Playwright; no browser is ever downloaded.</summary>
internal sealed class Chromium : IAsyncDisposable
{
    private const string ExecutablePath = "/usr/bin/chromium";

    private readonly IPlaywright _playwright;

    private Chromium(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        Browser = browser;
    }

    public IBrowser Browser { get; }

    public static async Task<Chromium> LaunchAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new FileNotFoundException($"{ExecutablePath} is missing; install Debian's chromium (bash test.sh does: apt-get install -y chromium).");
        }

        // The pages are slow to nothing, but two cores are shared by every test project at once.
        Assertions.SetDefaultExpectTimeout(15_000);
        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ExecutablePath,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
            });
            return new Chromium(playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    /// <summary>Opens <paramref name="url"/> in a new tab of <paramref name="context"/>; the page's console goes to the test output.</summary>
    public static async Task<IPage> OpenAsync(IBrowserContext context, Uri url, ITestOutputHelper output)
    {
        var page = await context.NewPageAsync();
        page.Console += (_, message) => WriteSafely(output, $"[browser {message.Type}] {message.Text}");
        page.PageError += (_, error) => WriteSafely(output, $"[browser page error] {error}");
        await page.GotoAsync(url.ToString());
        return page;
    }

    public async ValueTask DisposeAsync()
    {
        await Browser.DisposeAsync();
        _playwright.Dispose();
    }

    // Browser events can arrive after the test finished, when xunit no longer takes output.
    private static void WriteSafely(ITestOutputHelper output, string line)
    {
        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
        }
    }
}
