using System.Globalization;
using System.Net;
using System.Text.Json;
using SocketPush.Client.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace SocketPush.Client.Tests;

/// <summary>
/// Each example in examples/ run as its reader would run it, against a live node, with a client that receives what
/// it publishes. The PHP example is run by <see cref="PhpClientTests"/>, next to the generated classes it needs.
/// </summary>
public sealed class ExampleTests(ExampleFixture fixture) : IClassFixture<ExampleFixture>
{
    private static string CSharpExampleDll => Repository.BuildOutput("examples/csharp", "SocketPush.Examples.CSharp.dll");

    [Fact]
    public async Task The_csharp_example_sets_auth_subscribes_and_publishes()
    {
        await using var browser = await ExampleState.ConnectUserOneAsync(fixture.Node);

        var run = await ProcessRunner.RunAsync("dotnet", [CSharpExampleDll, fixture.Node.AdminUrl.ToString()]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(
            [
                "auth.set: session 'test' belongs to user 1",
                "channel.subscribe: user 1 is subscribed to news",
                "user.publish: reached 1 connection(s)",
                "channel.publish: reached 1 connection(s)",
            ],
            Lines(run.StandardOutput));
        ExampleState.AssertMessage(await browser.NextAsync(), "user", null, "hello user 1");
        ExampleState.AssertMessage(await browser.NextAsync(), "channel", "news", "hello news");
    }

    [Fact]
    public async Task The_csharp_example_reports_an_unreachable_node()
    {
        var run = await ProcessRunner.RunAsync("dotnet", [CSharpExampleDll, $"http://127.0.0.1:{FreePorts.Tcp()}"]);

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("SocketPush answered unavailable: Cannot reach the SocketPush node at", run.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_curl_example_uses_both_forms_and_its_sse_client_receives_both_messages()
    {
        using var client = fixture.Node.CreateClient();
        await ExampleState.ResetUserOneAsync(client);

        var run = await ProcessRunner.RunAsync(
            "bash",
            [Repository.Path("examples/curl/example.sh")],
            new Dictionary<string, string>
            {
                ["ADMIN"] = fixture.Node.AdminUrl.ToString().TrimEnd('/'),
                ["CLIENT"] = fixture.Node.ClientUrl.ToString().TrimEnd('/'),
            },
            timeout: TimeSpan.FromSeconds(60));

        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = Lines(run.StandardOutput);
        Assert.Equal(["{\"result\":null}", "{\"result\":null}", "{\"result\":1}", "{\"result\":1}"], lines.Where(l => l.StartsWith("{\"result\"", StringComparison.Ordinal)));
        Assert.Contains("SSE: HTTP/1.1 200 OK", lines);
        var received = lines.Where(l => l.StartsWith("SSE received: ", StringComparison.Ordinal))
            .Select(l => JsonDocument.Parse(l["SSE received: ".Length..]).RootElement)
            .ToList();
        Assert.Equal(2, received.Count);
        ExampleState.AssertMessage(received[0], "user", null, "hello user 1");
        ExampleState.AssertMessage(received[1], "channel", "news", "hello news");
        Assert.Equal("1", await client.Auth.CheckAsync("test"));
        Assert.Equal(["news"], await client.Channel.GetSubscriptionsAsync("1"));
    }

    [Theory]
    [InlineData("signalr.html")]
    [InlineData("eventsource.html")]
    public async Task The_browser_example_page_shows_what_is_published_to_its_user_and_channel(string page)
    {
        using var client = fixture.Node.CreateClient();
        await ExampleState.ResetUserOneAsync(client);
        await client.Auth.SetAsync("1", "test");
        await client.Channel.SubscribeAsync("1", "news");
        await using var context = await fixture.Browser.NewContextAsync();
        var tab = await context.NewPageAsync();

        await tab.GotoAsync(PageUrl(page, "test"));
        await Expect(tab.Locator("#status")).ToHaveTextAsync("Connected as user 1");
        Assert.Equal(1, await client.User.PublishAsync("1", JsonSerializer.SerializeToElement(new { text = "hello user 1" })));
        Assert.Equal(1, await client.Channel.PublishAsync("news", JsonSerializer.SerializeToElement(new { text = "hello news" })));

        await Expect(tab.Locator("#messages li")).ToHaveTextAsync(["to me: {\"text\":\"hello user 1\"}", "#news: {\"text\":\"hello news\"}"]);
        await Expect(tab.Locator("#messages li").First).ToHaveAttributeAsync("data-kind", "user");
    }

    [Theory]
    [InlineData("signalr.html", "Authorization failed")]
    [InlineData("eventsource.html", "Refused: set the session with auth.set first")]
    public async Task The_browser_example_page_says_when_the_session_is_refused(string page, string status)
    {
        using var client = fixture.Node.CreateClient();
        await ExampleState.ResetUserOneAsync(client);
        await client.Auth.SetAsync("1", "test");
        await using var context = await fixture.Browser.NewContextAsync();
        var tab = await context.NewPageAsync();

        await tab.GotoAsync(PageUrl(page, "not-the-session"));

        await Expect(tab.Locator("#status")).ToHaveAttributeAsync("data-state", "failed");
        await Expect(tab.Locator("#status")).ToContainTextAsync(status);
        Assert.DoesNotContain("1", await client.User.ListAllAsync());
    }

    [Fact]
    public async Task The_prometheus_example_is_a_valid_config_and_scrapes_the_node()
    {
        var example = Repository.Path("examples/prometheus/prometheus.yml");
        var check = await ProcessRunner.RunAsync("promtool", ["check", "config", example]);
        Assert.True(check.ExitCode == 0, check.ToString());

        // The example, pointed at this test's node and scraping every second instead of every 15.
        var work = Directory.CreateTempSubdirectory("socketpush-prometheus-");
        var config = Path.Combine(work.FullName, "prometheus.yml");
        var text = await File.ReadAllTextAsync(example);
        Assert.Contains("127.0.0.1:8181", text, StringComparison.Ordinal);
        await File.WriteAllTextAsync(config, text
            .Replace("127.0.0.1:8181", $"127.0.0.1:{fixture.Node.AdminUrl.Port}", StringComparison.Ordinal)
            .Replace("scrape_interval: 15s", "scrape_interval: 1s", StringComparison.Ordinal));
        var port = FreePorts.Tcp();
        using var prometheus = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("prometheus")
        {
            ArgumentList = { $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(work.FullName, "data")}", $"--web.listen-address=127.0.0.1:{port}" },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        prometheus.BeginErrorReadLine();
        prometheus.BeginOutputReadLine();
        try
        {
            using var http = new HttpClient();
            var query = new Uri($"http://127.0.0.1:{port}/api/v1/query?query={Uri.EscapeDataString("up{job=\"socketpush\",cluster=\"local\"}")}");
            var up = await Eventually.ValueAsync(
                async () =>
                {
                    using var answer = await http.GetAsync(query);
                    if (answer.StatusCode != HttpStatusCode.OK)
                    {
                        return null;
                    }

                    var result = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.GetProperty("data").GetProperty("result");
                    return result.GetArrayLength() == 1 ? result[0].GetProperty("value")[1].GetString() : null;
                },
                v => v is not null,
                "Prometheus has scraped the node once",
                TimeSpan.FromSeconds(60));
            Assert.Equal("1", up);

            var count = new Uri($"http://127.0.0.1:{port}/api/v1/query?query={Uri.EscapeDataString("count({job=\"socketpush\",__name__=~\"socketpush_.+\"})")}");
            var metrics = JsonDocument.Parse(await http.GetStringAsync(count)).RootElement.GetProperty("data").GetProperty("result");
            Assert.True(int.Parse(metrics[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture) > 0);
        }
        finally
        {
            prometheus.Kill(entireProcessTree: true);
            await prometheus.WaitForExitAsync();
            work.Delete(recursive: true);
        }
    }

    private string PageUrl(string page, string sessionId) =>
        new Uri(fixture.SiteUrl, $"/{page}?server={Uri.EscapeDataString(fixture.Node.ClientUrl.ToString())}&userId=1&sessionId={sessionId}").ToString();

    private static string[] Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
