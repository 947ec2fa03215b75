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

    [Theory]
    [InlineData("signalr.html")]
    [InlineData("eventsource.html")]
    public async Task The_browser_example_page_shows_positions_and_recovers_what_was_published_while_its_connection_was_down(string page)
    {
        using var client = fixture.Node.CreateClient();
        var (userId, sessionId, channelId) = (TestIds.User("recover"), TestIds.Session(), TestIds.Channel("recover"));
        await client.Auth.SetAsync(userId, sessionId);
        await client.Channel.SubscribeAsync(userId, channelId);
        // The page reaches the node through a relay, which the test cuts as a network would drop.
        await using var relay = TcpRelay.Start(fixture.Node.ClientUrl.Port);
        await using var context = await fixture.Browser.NewContextAsync();
        var tab = await context.NewPageAsync();
        await tab.GotoAsync(PageUrl(page, relay.Url, userId, sessionId));
        await Expect(tab.Locator("#status")).ToHaveTextAsync($"Connected as user {userId}");
        // A first connection has no positions: the report names the streams' positions.
        await Expect(tab.Locator("#recovery")).ToHaveAttributeAsync("data-state", "positions");
        await Expect(tab.Locator("#recovery")).ToContainTextAsync($"{channelId} at ");

        Assert.Equal(1, await PublishAsync(client, userId, null, "u1"));
        Assert.Equal(1, await PublishAsync(client, userId, channelId, "c1"));
        await Expect(tab.Locator("#messages li")).ToHaveTextAsync(["to me: \"u1\"", $"#{channelId}: \"c1\""]);
        var epoch = (await ShownAsync(tab)).Single(m => m.Text.StartsWith('#')).Epoch;

        relay.Cut();
        await Expect(tab.Locator("#status")).ToHaveTextAsync("Reconnecting…");
        await Eventually.TrueAsync(async () => !(await client.User.ListAllAsync()).Contains(userId), "the node dropped the page's connection");
        foreach (var text in new[] { "c2", "c3", "c4" })
        {
            Assert.Equal(0, await PublishAsync(client, userId, channelId, text));
        }

        Assert.Equal(0, await PublishAsync(client, userId, null, "u2"));
        relay.Restore();

        await Expect(tab.Locator("#recovery")).ToHaveTextAsync(
            $"Recovered 1 missed message(s) on your user stream; Recovered 3 missed message(s) on {channelId}.");
        await Expect(tab.Locator("#recovery")).ToHaveAttributeAsync("data-state", "recovered");
        await Expect(tab.Locator("#status")).ToHaveTextAsync($"Connected as user {userId}");
        // Each once, each stream in order; the two streams are recovered side by side.
        await Expect(tab.Locator("#messages li")).ToHaveCountAsync(6);
        var shown = await ShownAsync(tab);
        Assert.Equal(
            [($"#{channelId}: \"c1\"", 1L), ($"#{channelId}: \"c2\"", 2), ($"#{channelId}: \"c3\"", 3), ($"#{channelId}: \"c4\"", 4)],
            shown.Where(m => m.Text.StartsWith('#')).Select(m => (m.Text, m.Offset)));
        Assert.All(shown.Where(m => m.Text.StartsWith('#')), m => Assert.Equal(epoch, m.Epoch));
        Assert.Equal([("to me: \"u1\"", 1L), ("to me: \"u2\"", 2)], shown.Where(m => !m.Text.StartsWith('#')).Select(m => (m.Text, m.Offset)));

        Assert.Equal(1, await PublishAsync(client, userId, channelId, "c5"));
        await Expect(tab.Locator("#messages li")).ToHaveCountAsync(7);
        Assert.Equal(($"#{channelId}: \"c5\"", 5L), (await ShownAsync(tab)).Select(m => (m.Text, m.Offset)).Last());
    }

    [Theory]
    [InlineData("signalr.html")]
    [InlineData("eventsource.html")]
    public async Task The_browser_example_page_says_when_the_history_no_longer_holds_what_it_missed(string page)
    {
        // A node of its own that keeps two messages per stream.
        await using var node = await NodeProcess.StartAsync(new NodeProcessOptions
        {
            NodeId = "client-tests-tiny-history",
            ExtraConfig = HistoryConfigs.TwoMessages,
        });
        using var client = node.CreateClient();
        var (userId, sessionId, channelId) = (TestIds.User("late"), TestIds.Session(), TestIds.Channel("late"));
        await client.Auth.SetAsync(userId, sessionId);
        await client.Channel.SubscribeAsync(userId, channelId);
        await using var relay = TcpRelay.Start(node.ClientUrl.Port);
        await using var context = await fixture.Browser.NewContextAsync();
        var tab = await context.NewPageAsync();
        await tab.GotoAsync(PageUrl(page, relay.Url, userId, sessionId));
        await Expect(tab.Locator("#status")).ToHaveTextAsync($"Connected as user {userId}");
        Assert.Equal(1, await PublishAsync(client, userId, channelId, "seen"));
        await Expect(tab.Locator("#messages li")).ToHaveCountAsync(1);

        relay.Cut();
        await Expect(tab.Locator("#status")).ToHaveTextAsync("Reconnecting…");
        await Eventually.TrueAsync(async () => !(await client.User.ListAllAsync()).Contains(userId), "the node dropped the page's connection");
        for (var i = 1; i <= 5; i++)
        {
            Assert.Equal(0, await PublishAsync(client, userId, channelId, $"lost {i}"));
        }

        relay.Restore();

        await Expect(tab.Locator("#recovery")).ToHaveTextAsync(
            $"Nothing missed on your user stream; Recovery incomplete for {channelId}: history no longer holds what you missed.");
        await Expect(tab.Locator("#recovery")).ToHaveAttributeAsync("data-state", "incomplete");
        await Expect(tab.Locator("#status")).ToHaveTextAsync($"Connected as user {userId}");
        // What the history no longer held is not shown; the page goes on from the stream's position.
        Assert.Equal(1, await PublishAsync(client, userId, channelId, "after"));
        await Expect(tab.Locator("#messages li")).ToHaveTextAsync([$"#{channelId}: \"seen\"", $"#{channelId}: \"after\""]);
        Assert.Equal([1L, 7], (await ShownAsync(tab)).Select(m => m.Offset));
    }

    private static Task<int> PublishAsync(SocketPushClient client, string userId, string? channelId, string text) =>
        channelId is null
            ? client.User.PublishAsync(userId, JsonSerializer.SerializeToElement(text))
            : client.Channel.PublishAsync(channelId, JsonSerializer.SerializeToElement(text));

    /// <summary>The messages an example page lists (oldest first), with the position each shows (<c>data-position</c>, epoch:offset).</summary>
    private static async Task<List<(string Text, string Epoch, long Offset)>> ShownAsync(Microsoft.Playwright.IPage tab)
    {
        var shown = new List<(string, string, long)>();
        foreach (var item in await tab.Locator("#messages li").AllAsync())
        {
            var position = await item.GetAttributeAsync("data-position") ?? "";
            var colon = position.IndexOf(':', StringComparison.Ordinal);
            Assert.True(colon > 0 && position[..colon].All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c)), $"the page shows the position '{position}'");
            shown.Add(((await item.TextContentAsync())!, position[..colon], long.Parse(position[(colon + 1)..], CultureInfo.InvariantCulture)));
        }

        return shown;
    }

    [Fact]
    public async Task The_prometheus_alert_rules_are_valid_fire_on_their_tests_and_use_only_metrics_a_node_exports()
    {
        var rules = Repository.Path("examples/prometheus/alerts.yml");
        var check = await ProcessRunner.RunAsync("promtool", ["check", "rules", rules]);
        Assert.True(check.ExitCode == 0, check.ToString());
        var test = await ProcessRunner.RunAsync("promtool", ["test", "rules", Repository.Path("examples/prometheus/alerts.test.yml")]);
        Assert.True(test.ExitCode == 0, test.ToString());

        // Every socketpush_ family an alert reads is one a running node exports (a histogram by its series' names).
        using var http = new HttpClient();
        var exposition = await http.GetStringAsync(new Uri(fixture.Node.AdminUrl, "/metrics"));
        var exported = System.Text.RegularExpressions.Regex.Matches(exposition, @"^# TYPE (socketpush_\w+) (\w+)$", System.Text.RegularExpressions.RegexOptions.Multiline)
            .SelectMany(m => m.Groups[2].Value == "histogram"
                ? new[] { "_bucket", "_sum", "_count" }.Select(suffix => m.Groups[1].Value + suffix)
                : [m.Groups[1].Value])
            .ToHashSet(StringComparer.Ordinal);
        var used = System.Text.RegularExpressions.Regex.Matches(await File.ReadAllTextAsync(rules), @"\bsocketpush_\w+").Select(m => m.Value).ToHashSet(StringComparer.Ordinal);
        Assert.True(used.Count >= 7, string.Join(", ", used));
        Assert.Empty(used.Except(exported));
    }

    [Fact]
    public async Task The_prometheus_example_is_a_valid_config_and_scrapes_the_node()
    {
        var example = Repository.Path("examples/prometheus/prometheus.yml");
        var check = await ProcessRunner.RunAsync("promtool", ["check", "config", example]);
        Assert.True(check.ExitCode == 0, check.ToString());

        // The example with its rules, pointed at this test's node instead of the three of examples/cluster, and
        // scraping every second instead of every 15.
        var work = Directory.CreateTempSubdirectory("socketpush-prometheus-");
        var config = Path.Combine(work.FullName, "prometheus.yml");
        File.Copy(Repository.Path("examples/prometheus/alerts.yml"), Path.Combine(work.FullName, "alerts.yml"));
        var text = await File.ReadAllTextAsync(example);
        const string Targets = "[\"127.0.0.1:8191\", \"127.0.0.1:8192\", \"127.0.0.1:8193\"]";
        Assert.Contains(Targets, text, StringComparison.Ordinal);
        await File.WriteAllTextAsync(config, text
            .Replace(Targets, $"[\"127.0.0.1:{fixture.Node.AdminUrl.Port}\"]", StringComparison.Ordinal)
            .Replace("scrape_interval: 15s", "scrape_interval: 1s", StringComparison.Ordinal)
            .Replace("evaluation_interval: 15s", "evaluation_interval: 1s", StringComparison.Ordinal));
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

            // The alert rules came with it, every one evaluated without an error against the node's series.
            var health = await Eventually.ValueAsync(
                async () =>
                {
                    var groups = JsonDocument.Parse(await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/api/v1/rules"))).RootElement.GetProperty("data").GetProperty("groups");
                    return groups.EnumerateArray().SelectMany(g => g.GetProperty("rules").EnumerateArray()).Select(r => r.GetProperty("health").GetString()).ToList();
                },
                rules => rules.Count > 0 && !rules.Contains("unknown"),
                "Prometheus has evaluated the alert rules once",
                TimeSpan.FromSeconds(60));
            Assert.Equal(Enumerable.Repeat("ok", 8), health);
        }
        finally
        {
            prometheus.Kill(entireProcessTree: true);
            await prometheus.WaitForExitAsync();
            work.Delete(recursive: true);
        }
    }

    private string PageUrl(string page, string sessionId) => PageUrl(page, fixture.Node.ClientUrl, "1", sessionId);

    private string PageUrl(string page, Uri server, string userId, string sessionId) =>
        new Uri(fixture.SiteUrl, $"/{page}?server={Uri.EscapeDataString(server.ToString())}&userId={Uri.EscapeDataString(userId)}&sessionId={Uri.EscapeDataString(sessionId)}").ToString();

    private static string[] Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
