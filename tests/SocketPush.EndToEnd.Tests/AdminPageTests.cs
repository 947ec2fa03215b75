using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace SocketPush.EndToEnd.Tests;

/// <summary>The management interface: built from GET /api, checks input, shows answers and errors.</summary>
[Collection(NodeCollection.Name)]
public sealed class AdminPageTests(NodeFixture fixture, ITestOutputHelper output) : PageTest(fixture, output)
{
    private const string ApiKey = "e2e-management-key-0123456789";

    [Fact]
    public async Task ThePageHasAFormForEveryMethodOfApiAndNothingElse()
    {
        var methods = await Fixture.Api.DescribeAsync();
        Assert.NotEmpty(methods);
        var admin = await OpenAdminAsync();

        await Expect(admin.Locator("form.method")).ToHaveCountAsync(methods.Count);
        foreach (var method in methods)
        {
            var form = admin.GetByTestId($"method-{method.QualifiedName}");
            await Expect(form).ToHaveCountAsync(1);
            await Expect(form.Locator(".signature"))
                .ToHaveTextAsync($"{method.QualifiedName}({string.Join(", ", method.Parameters.Select(p => p.Optional ? p.Name + "?" : p.Name))})");
            await Expect(form.Locator("input[name], textarea[name]")).ToHaveCountAsync(method.Parameters.Count);
            foreach (var parameter in method.Parameters)
            {
                var field = admin.GetByTestId($"param-{method.QualifiedName}.{parameter.Name}");
                await Expect(field).ToHaveAttributeAsync("data-type", parameter.Type);
                // A JSON value gets room to be typed; an id or an integer is one line.
                var tag = await field.EvaluateAsync<string>("element => element.tagName");
                Assert.Equal(parameter.Type == "json" ? "TEXTAREA" : "INPUT", tag);
            }

            await Expect(admin.GetByTestId($"call-{method.QualifiedName}")).ToBeVisibleAsync();
        }

        foreach (var service in methods.Select(m => m.Service).Distinct())
        {
            await Expect(admin.GetByTestId($"service-{service}").Locator("h2")).ToHaveTextAsync(service);
        }

        await Expect(admin.GetByTestId("link-metrics")).ToHaveAttributeAsync("href", "/metrics");
    }

    [Fact]
    public async Task AMethodAddedToApiGetsAFormWithoutAnyChangeToThePage()
    {
        // The node's real answer to GET /api, with one method more, as a newer node would describe itself.
        var page = await Context.NewPageAsync();
        await page.RouteAsync("**/api", async route =>
        {
            var response = await route.FetchAsync();
            var api = JsonNode.Parse(await response.TextAsync())!.AsObject();
            api["user"]!["annotate"] = JsonNode.Parse(
                """{"params": [{"name": "userId", "type": "string"}, {"name": "note", "type": "json"}], "description": "Attaches a note.", "result": "none"}""");
            await route.FulfillAsync(new RouteFulfillOptions { Response = response, Body = api.ToJsonString() });
        });
        await page.GotoAsync(Fixture.Node.AdminUrl.ToString());
        await Expect(page.GetByTestId("api-status")).ToHaveAttributeAsync("data-state", "ready");

        var form = page.GetByTestId("method-user.annotate");
        await Expect(form.Locator(".signature")).ToHaveTextAsync("user.annotate(userId, note)");
        await Expect(form.Locator(".description")).ToHaveTextAsync("Attaches a note.");
        await Expect(page.GetByTestId("param-user.annotate.note")).ToHaveAttributeAsync("data-type", "json");
        await Expect(page.GetByTestId("call-user.annotate")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task OptionalFieldsLeftEmptyAreNotSentAndIntegerFieldsSendNumbers()
    {
        // A method with an optional string and an optional integer, as a node that had one would describe it; its
        // calls are answered here with the body the page sent, so the test sees exactly what the page sends.
        var page = await Context.NewPageAsync();
        await page.RouteAsync("**/api", async route =>
        {
            var response = await route.FetchAsync();
            var api = JsonNode.Parse(await response.TextAsync())!.AsObject();
            api["sample"] = JsonNode.Parse(
                """
                {"history": {"params": [{"name": "channelId", "type": "string"}, {"name": "since", "type": "string", "optional": true},
                  {"name": "limit", "type": "integer", "optional": true}], "description": "Returns a channel's history.", "result": "object"}}
                """);
            await route.FulfillAsync(new RouteFulfillOptions { Response = response, Body = api.ToJsonString() });
        });
        var sent = new List<string>();
        await page.RouteAsync("**/api/sample/history", async route =>
        {
            var body = route.Request.PostData ?? "";
            lock (sent)
            {
                sent.Add(body);
            }

            await route.FulfillAsync(new RouteFulfillOptions { ContentType = "application/json", Body = $"{{\"result\": {body}}}" });
        });
        await page.GotoAsync(Fixture.Node.AdminUrl.ToString());
        await Expect(page.GetByTestId("api-status")).ToHaveAttributeAsync("data-state", "ready");

        await Expect(page.GetByTestId("method-sample.history").Locator(".signature")).ToHaveTextAsync("sample.history(channelId, since?, limit?)");
        var limit = page.GetByTestId("param-sample.history.limit");
        await Expect(limit).ToHaveAttributeAsync("data-type", "integer");
        await Expect(limit).ToHaveAttributeAsync("data-optional", "true");
        await Expect(limit).ToHaveAttributeAsync("inputmode", "numeric");
        Assert.Equal("INPUT", await limit.EvaluateAsync<string>("element => element.tagName"));

        // The optional fields left empty are not sent.
        var result = await CallInAdminAsync(page, "sample.history", ("channelId", "news"));
        await Expect(result).ToHaveAttributeAsync("data-state", "ok");
        AssertSameJson("""{"result": {"channelId": "news"}}""", await result.Locator("pre").TextContentAsync());

        // An integer is sent as a JSON number.
        result = await CallInAdminAsync(page, "sample.history", ("limit", " 10 "));
        AssertSameJson("""{"result": {"channelId": "news", "limit": 10}}""", await result.Locator("pre").TextContentAsync());

        // A field emptied again is left out again; blanks are empty.
        result = await CallInAdminAsync(page, "sample.history", ("since", "m-1"), ("limit", "  "));
        AssertSameJson("""{"result": {"channelId": "news", "since": "m-1"}}""", await result.Locator("pre").TextContentAsync());

        // Not an integer: said on the page, nothing sent.
        result = await CallInAdminAsync(page, "sample.history", ("limit", "1.5"));
        await Expect(result).ToHaveAttributeAsync("data-state", "error");
        await Expect(result).ToContainTextAsync("Not sent");
        await Expect(result).ToContainTextAsync("limit must be an integer");
        await Expect(limit).ToHaveAttributeAsync("aria-invalid", "true");
        await limit.FillAsync("7");
        await Expect(limit).ToHaveAttributeAsync("aria-invalid", "false");
        await ScreenshotAsync(page, "admin-optional-parameters");

        lock (sent)
        {
            Assert.Equal(3, sent.Count);
        }
    }

    [Fact]
    public async Task InvalidJsonIsRefusedOnThePageAndServerErrorsAreShown()
    {
        var admin = await OpenAdminAsync();
        var calls = new List<string>();
        admin.Request += (_, request) =>
        {
            if (request.Method == "POST")
            {
                lock (calls)
                {
                    calls.Add(request.Url);
                }
            }
        };

        // Not JSON: said on the page, nothing sent.
        var result = await CallInAdminAsync(admin, "user.publish", ("userId", "json-check"), ("message", "{text: hello"));
        await Expect(result).ToHaveAttributeAsync("data-state", "error");
        await Expect(result).ToContainTextAsync("Not sent");
        await Expect(result).ToContainTextAsync("message is not valid JSON");
        await Expect(admin.GetByTestId("param-user.publish.message")).ToHaveAttributeAsync("aria-invalid", "true");

        // Valid JSON but an invalid id: the node's error and code, under the form.
        result = await CallInAdminAsync(admin, "user.publish", ("userId", "no spaces allowed"), ("message", """{"text": "hello"}"""));
        await Expect(result).ToHaveAttributeAsync("data-state", "error");
        await Expect(result).ToContainTextAsync("400");
        await Expect(result).ToContainTextAsync("invalid_argument");

        // auth.check of an unknown session: the node's "Authorization failed", a 403 that is no refusal of a key
        // (this node has none).
        result = await CallInAdminAsync(admin, "auth.check", ("sessionId", "no-such-session"));
        await Expect(result).ToHaveAttributeAsync("data-state", "error");
        await Expect(result.Locator("strong")).ToHaveTextAsync("403 Authorization failed (authorization_failed)");

        lock (calls)
        {
            Assert.Equal(2, calls.Count);
            Assert.EndsWith("/api/user/publish", calls[0], StringComparison.Ordinal);
            Assert.EndsWith("/api/auth/check", calls[1], StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ResultsOfCallsAreShownAsJson()
    {
        await Fixture.Api.CallAsync("auth", "set", new { userId = "lister", sessionId = "s-lister" });
        await Fixture.Api.CallAsync("channel", "subscribe", new { userId = "lister", channelId = "lists/a" });
        await Fixture.Api.CallAsync("channel", "subscribe", new { userId = "lister", channelId = "lists/b" });
        var admin = await OpenAdminAsync();

        var result = await CallInAdminAsync(admin, "channel.getSubscriptions", ("userId", "lister"));
        await Expect(result).ToHaveAttributeAsync("data-state", "ok");
        var shown = await result.Locator("pre").TextContentAsync();
        AssertSameJson("""{"result": ["lists/a", "lists/b"]}""", SortedResult(shown));

        result = await CallInAdminAsync(admin, "auth.check", ("sessionId", "s-lister"));
        AssertSameJson("""{"result": "lister"}""", await result.Locator("pre").TextContentAsync());
    }

    [Fact]
    public async Task AnObjectResultIsShownPrettyPrinted()
    {
        var admin = await OpenAdminAsync();
        await Expect(admin.GetByTestId("method-manager.status").Locator(".result-type")).ToHaveTextAsync("→ object");

        var result = await CallInAdminAsync(admin, "manager.status");

        await Expect(result).ToHaveAttributeAsync("data-state", "ok");
        await Expect(result).ToContainTextAsync(Fixture.Node.NodeId);
        var shown = await result.Locator("pre").TextContentAsync() ?? "";
        var status = JsonNode.Parse(shown)!["result"]!;
        Assert.Equal(Fixture.Node.NodeId, status["nodeId"]!.GetValue<string>());
        Assert.Equal(Fixture.Node.NodeId, status["members"]![0]!["nodeId"]!.GetValue<string>());
        // Nested and indented, one property a line, rather than the one line the node sends.
        Assert.Contains($"\n    \"nodeId\": \"{Fixture.Node.NodeId}\",\n    \"joined\": true,\n    \"members\": [\n", shown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheClusterSectionShowsThisNodeWithItsRecordsAndTheReplicationLine()
    {
        await Fixture.Api.CallAsync("auth", "set", new { userId = "cluster-view", sessionId = "s-cluster-view" });
        var admin = await OpenAdminAsync();
        var status = await Fixture.Api.CallAsync("manager", "status", new { });
        var replicas = status.GetProperty("replication").GetProperty("replicas").GetInt32();

        var row = admin.Locator("[data-testid=member]");
        await Expect(row).ToHaveCountAsync(1);
        await Expect(row).ToHaveAttributeAsync("data-state", "alive");
        await Expect(row.GetByTestId("member-state")).ToHaveClassAsync(new Regex(@"\bstate-alive\b"));
        // A node on its own owns every record it holds and holds no copies for others.
        await Expect(row.GetByTestId("member-owned")).Not.ToHaveTextAsync(new Regex("^(0|—)$"));
        await Expect(row.GetByTestId("member-copies")).ToHaveTextAsync("0");
        await Expect(row.GetByTestId("member-held")).ToHaveTextAsync(new Regex(@"^[1-9]\d* / [1-9]\d* / \d+$"));
        await Expect(admin.GetByTestId("replication")).ToHaveTextAsync($"Replication: {replicas} copies wanted / 1 possible, 0 keys below {replicas} copies, 0 copies owed.");
        await Expect(admin.GetByTestId("replication")).ToHaveAttributeAsync("data-state", replicas > 1 ? "degraded" : "ok");
    }

    [Fact]
    public async Task MembersOfEveryStateAreMarkedTheirMissingRecordsAreDashesAndTextIsNeverMarkup()
    {
        var admin = await Context.NewPageAsync();
        await admin.RouteAsync("**/manager/status", route => route.FulfillAsync(new RouteFulfillOptions { ContentType = "application/json", Body = TroubledClusterStatus }));
        await admin.GotoAsync(Fixture.Node.AdminUrl.ToString());

        var rows = admin.Locator("[data-testid=member]");
        await Expect(rows).ToHaveCountAsync(4);
        string[] states = ["alive", "suspect", "dead", "left"];
        for (var i = 0; i < states.Length; i++)
        {
            await Expect(rows.Nth(i)).ToHaveAttributeAsync("data-state", states[i]);
            await Expect(rows.Nth(i).GetByTestId("member-state")).ToHaveTextAsync(states[i]);
            await Expect(rows.Nth(i).GetByTestId("member-state")).ToHaveClassAsync(new Regex($@"\bstate-{states[i]}\b"));
        }

        await Expect(rows.Nth(0).GetByTestId("member-owned")).ToHaveTextAsync("5");
        await Expect(rows.Nth(0).GetByTestId("member-copies")).ToHaveTextAsync("4");
        await Expect(rows.Nth(0).GetByTestId("member-held")).ToHaveTextAsync("2 / 3 / 4");
        for (var i = 1; i < states.Length; i++)
        {
            await Expect(rows.Nth(i).GetByTestId("member-owned")).ToHaveTextAsync("—");
            await Expect(rows.Nth(i).GetByTestId("member-copies")).ToHaveTextAsync("—");
            await Expect(rows.Nth(i).GetByTestId("member-held")).ToHaveTextAsync("— / — / —");
        }

        await Expect(rows.Nth(1)).ToHaveAttributeAsync("title", "n2 did not tell its records within a second");
        await Expect(rows.Nth(2)).ToHaveAttributeAsync("title", "n3 is dead: it holds no records of the ring");
        await Expect(rows.Nth(3).GetByTestId("member-node-id")).ToHaveTextAsync("<b>n4</b>");
        await Expect(admin.Locator("#members b")).ToHaveCountAsync(0);

        var replication = admin.GetByTestId("replication");
        await Expect(replication).ToHaveTextAsync("Replication: 3 copies wanted / 2 possible, 1 key below 3 copies, 2 copies owed (u:<img src=x onerror=alert(1)>).");
        await Expect(replication).ToHaveAttributeAsync("data-state", "repairing");
        await Expect(admin.Locator("img")).ToHaveCountAsync(0);
        // The member that left is not one that should be alive.
        await Expect(admin.GetByTestId("cluster-status")).ToHaveTextAsync(new Regex("^Node n1: 1 of 3 members alive, 1 left "));
        await ScreenshotAsync(admin, "admin-cluster-states");
    }

    [Fact]
    public async Task TheConfigLineShowsTheVersionAndWhatTheLastReloadRefused()
    {
        // The node's own config version, as manager.status tells it.
        var version = (await Fixture.Api.CallAsync("manager", "status", new { })).GetProperty("config").GetProperty("version").GetInt32();
        var admin = await OpenAdminAsync();
        await Expect(admin.GetByTestId("config-version")).ToHaveTextAsync($"version {version}");
        await Expect(admin.GetByTestId("config")).ToHaveAttributeAsync("data-state", "ok");

        // A reload refused as a whole: its error, and that the node keeps running on its version.
        var refused = await OpenWithStatusAsync(TroubledClusterStatus);
        await Expect(refused.GetByTestId("config")).ToHaveAttributeAsync("data-state", "refused");
        await Expect(refused.GetByTestId("config-version")).ToHaveTextAsync("version 4");
        await Expect(refused.GetByTestId("config-reload")).ToContainTextAsync("was refused: config.yml: line 30, column 1: <tab> is not allowed");
        await Expect(refused.GetByTestId("config-reload")).ToContainTextAsync("keeps running on version 4");

        // A reload that applied some keys and left one that needs a restart.
        var partly = await OpenWithStatusAsync(TroubledClusterStatus.Replace(
            "\"result\": \"refused\", \"version\": 4, \"applied\": [], \"refused\": []",
            "\"result\": \"applied\", \"version\": 4, \"applied\": [\"options.maxMessageBytes\"], \"refused\": [{\"key\": \"node.clientPort\", \"reason\": \"needs a restart\"}]",
            StringComparison.Ordinal));
        await Expect(partly.GetByTestId("config")).ToHaveAttributeAsync("data-state", "partly");
        await Expect(partly.GetByTestId("config-reload")).ToContainTextAsync("left node.clientPort (needs a restart)");
        await Expect(refused.Locator("#config tab")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task AtPhoneWidthTheMembersTableScrollsInItsOwnBoxAndThePageDoesNot()
    {
        var admin = await Context.NewPageAsync();
        await admin.SetViewportSizeAsync(390, 844);
        await admin.RouteAsync("**/manager/status", route => route.FulfillAsync(new RouteFulfillOptions { ContentType = "application/json", Body = TroubledClusterStatus }));
        await admin.GotoAsync(Fixture.Node.AdminUrl.ToString());
        await Expect(admin.Locator("[data-testid=member]")).ToHaveCountAsync(4);
        await Expect(admin.GetByTestId("api-status")).ToHaveAttributeAsync("data-state", "ready");

        var widths = await admin.EvaluateAsync<int[]>("() => [document.documentElement.scrollWidth, window.innerWidth]");
        Assert.True(widths[0] <= widths[1], $"the page is {widths[0]} px wide on a {widths[1]} px screen");

        // The table is wider than the screen (else this test would show nothing), and scrolls inside its box.
        var box = admin.GetByTestId("members-scroll");
        Assert.True(await box.EvaluateAsync<bool>("e => e.scrollWidth > e.clientWidth"), "the members table fits a 390 px screen, so the test does not test scrolling");
        Assert.Equal("auto", await box.EvaluateAsync<string>("e => getComputedStyle(e).overflowX"));
        await ScreenshotAsync(admin, "admin-390px");
    }

    private async Task<IPage> OpenWithStatusAsync(string status)
    {
        var page = await Context.NewPageAsync();
        await page.RouteAsync("**/manager/status", route => route.FulfillAsync(new RouteFulfillOptions { ContentType = "application/json", Body = status }));
        await page.GotoAsync(Fixture.Node.AdminUrl.ToString());
        return page;
    }

    /// <summary>
    /// manager.status of a cluster in trouble, as the page would get it from a node of one: a member suspect, one dead,
    /// one left, keys below R copies, a refused reload; ids, keys and errors with markup in them; long URLs.
    /// </summary>
    private const string TroubledClusterStatus = """
        {"result": {"nodeId": "n1", "joined": true, "ringAgreed": true, "ringProblem": null, "pendingHandoff": 0,
          "members": [
            {"nodeId": "n1", "state": "alive", "incarnation": 0, "clientUrl": "http://127.0.0.1:1", "adminUrl": "http://127.0.0.1:2", "wireVersion": 1, "ringShare": 0.5, "local": true,
             "records": {"users": 2, "sessions": 3, "channels": 4, "owned": 5, "copies": 4, "keysUnderReplicated": 1, "missingCopies": 2}},
            {"nodeId": "n2", "state": "suspect", "incarnation": 3, "clientUrl": "http://push-node-2.example.internal:8080", "adminUrl": "http://push-node-2.example.internal:8181", "wireVersion": 1, "ringShare": 0.5, "local": false},
            {"nodeId": "n3", "state": "dead", "incarnation": 1, "clientUrl": "http://127.0.0.1:5", "adminUrl": "http://127.0.0.1:6", "wireVersion": 1, "ringShare": 0.0, "local": false},
            {"nodeId": "<b>n4</b>", "state": "left", "incarnation": 2, "clientUrl": "", "adminUrl": "", "wireVersion": null, "ringShare": 0.0, "local": false}],
          "records": {"users": 2, "sessions": 3, "channels": 4, "owned": 5, "copies": 4, "keysUnderReplicated": 1, "missingCopies": 2},
          "replication": {"replicas": 3, "copiesPossible": 2, "keysUnderReplicated": 1, "missingCopies": 2, "keysUnderReplicatedSample": ["u:<img src=x onerror=alert(1)>"]},
          "config": {"version": 4, "appliedAt": "2026-01-02T10:00:00.0000000+00:00",
            "lastReload": {"at": "2026-01-02T10:05:00.0000000+00:00", "result": "refused", "version": 4, "applied": [], "refused": [],
              "error": "config.yml: line 30, column 1: <tab> is not allowed"}}}}
        """;

    [Fact]
    public async Task WithAnApiKeyThePageAsksForItSendsItAndKeepsIt()
    {
        await using var node = await NodeProcess.StartAsync(new NodeProcessOptions { NodeId = "e2e-keyed", ExtraConfig = $"admin:\n  apiKey: {ApiKey}" });
        var admin = await OpenAdminAsync(node.AdminUrl);

        // Without the key the node refuses the call, and the page says what to do.
        var result = await CallInAdminAsync(admin, "auth.set", ("userId", "keyed"), ("sessionId", "s-keyed"));
        await Expect(result).ToHaveAttributeAsync("data-state", "error");
        await Expect(result).ToContainTextAsync("401");
        await Expect(result).ToContainTextAsync("enter it above");

        await admin.GetByTestId("api-key").FillAsync(ApiKey);
        await admin.GetByTestId("save-key").ClickAsync();
        await Expect(admin.GetByTestId("api-status")).ToHaveAttributeAsync("data-state", "ready");
        result = await CallInAdminAsync(admin, "auth.set", ("userId", "keyed"), ("sessionId", "s-keyed"));
        await Expect(result).ToHaveAttributeAsync("data-state", "ok");
        using (var api = new AdminApi(node.AdminUrl, ApiKey))
        {
            Assert.Equal("keyed", (await api.CallAsync("auth", "check", new { sessionId = "s-keyed" })).GetString());
        }

        // The key stays in this browser: after a reload a call needs no typing.
        await admin.ReloadAsync();
        await Expect(admin.GetByTestId("api-status")).ToHaveAttributeAsync("data-state", "ready");
        await Expect(admin.GetByTestId("api-key")).ToHaveValueAsync(ApiKey);
        result = await CallInAdminAsync(admin, "auth.check", ("sessionId", "s-keyed"));
        AssertSameJson("""{"result": "keyed"}""", await result.Locator("pre").TextContentAsync());

        // A wrong key is the node's 403, shown as such.
        await admin.GetByTestId("api-key").FillAsync("wrong-key-of-enough-length");
        await admin.GetByTestId("save-key").ClickAsync();
        result = await CallInAdminAsync(admin, "auth.check", ("sessionId", "s-keyed"));
        await Expect(result).ToHaveAttributeAsync("data-state", "error");
        await Expect(result).ToContainTextAsync("403");
        await Expect(result).ToContainTextAsync("refused this API key");
    }

    // The node keeps no promised order for a list; compare as a set.
    private static string SortedResult(string? shown)
    {
        var node = JsonNode.Parse(shown ?? "null")!;
        var sorted = node["result"]!.AsArray().Select(v => v!.GetValue<string>()).Order(StringComparer.Ordinal);
        return System.Text.Json.JsonSerializer.Serialize(new { result = sorted });
    }
}
