using System.Text.Json.Nodes;
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
                .ToHaveTextAsync($"{method.QualifiedName}({string.Join(", ", method.Parameters.Select(p => p.Name))})");
            await Expect(form.Locator("input[name], textarea[name]")).ToHaveCountAsync(method.Parameters.Count);
            foreach (var parameter in method.Parameters)
            {
                var field = admin.GetByTestId($"param-{method.QualifiedName}.{parameter.Name}");
                await Expect(field).ToHaveAttributeAsync("data-type", parameter.Type);
                // A JSON value gets room to be typed; an id is one line.
                var tag = await field.EvaluateAsync<string>("element => element.tagName");
                Assert.Equal(parameter.Type == "string" ? "INPUT" : "TEXTAREA", tag);
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

        // auth.check of an unknown session: the node's "Authorization failed".
        result = await CallInAdminAsync(admin, "auth.check", ("sessionId", "no-such-session"));
        await Expect(result).ToHaveAttributeAsync("data-state", "error");
        await Expect(result).ToContainTextAsync("Authorization failed");

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
