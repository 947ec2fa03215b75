using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SocketPush.Client.Services;
using SocketPush.Client.Tests.Infrastructure;
using SocketPush.EndToEnd.Tests;
using static Microsoft.Playwright.Assertions;

namespace SocketPush.Client.Tests;

/// <summary>A node and Chromium, for the OpenAPI document and its reference page.</summary>
public sealed class OpenApiFixture : IAsyncLifetime
{
    private NodeProcess? _node;
    private Chromium? _chromium;

    internal NodeProcess Node => _node ?? throw new InvalidOperationException("The node has not started.");

    internal Chromium Chromium => _chromium ?? throw new InvalidOperationException("Chromium has not started.");

    public async Task InitializeAsync()
    {
        _node = await ClientTestNode.StartAsync();
        _chromium = await Chromium.LaunchAsync();
    }

    public async Task DisposeAsync()
    {
        if (_chromium is not null)
        {
            await _chromium.DisposeAsync();
        }

        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
    }
}

/// <summary><c>/openapi/v1.json</c>: valid for a real validator, complete with respect to <c>/api</c>, and browsable.</summary>
public sealed class OpenApiTests(OpenApiFixture fixture) : IClassFixture<OpenApiFixture>
{
    private static readonly Lazy<Task> ValidatorInstall = new(InstallValidatorAsync);

    private static string ValidatorDirectory => Repository.Path("tests/SocketPush.Client.Tests/openapi");

    [Fact]
    public async Task The_document_is_valid_openapi_for_swagger_parser()
    {
        var document = await SaveAsync(await FetchDocumentAsync());

        var result = await ValidateAsync(document);

        Assert.True(result.ExitCode == 0, result.ToString());
        var methods = ServiceCatalog.Default.Services.Sum(s => s.Methods.Count);
        Assert.Equal($"valid: SocketPush management API, OpenAPI 3.1.1, {methods} paths", result.StandardOutput.Trim());
    }

    [Theory]
    [InlineData("a response without its required description")]
    [InlineData("a reference to a schema that does not exist")]
    public async Task The_validator_rejects_a_broken_document(string breakage)
    {
        var document = JsonNode.Parse(await FetchDocumentAsync())!;
        var operation = document["paths"]!["/api/auth/set"]!["post"]!;
        if (breakage.StartsWith("a response", StringComparison.Ordinal))
        {
            operation["responses"]!["200"]!.AsObject().Remove("description");
        }
        else
        {
            operation["requestBody"]!["content"]!["application/json"]!["schema"]!["properties"]!["userId"]!["$ref"] = "#/components/schemas/NoSuchSchema";
        }

        var result = await ValidateAsync(await SaveAsync(document.ToJsonString()));

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("invalid:", result.StandardError.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_method_of_api_is_an_operation_with_its_parameters_and_result()
    {
        using var http = new HttpClient();
        using var api = JsonDocument.Parse(await http.GetStringAsync(new Uri(fixture.Node.AdminUrl, "/api")));
        using var document = JsonDocument.Parse(await FetchDocumentAsync());
        var paths = document.RootElement.GetProperty("paths");

        var expected = api.RootElement.EnumerateObject()
            .SelectMany(s => s.Value.EnumerateObject().Select(m => $"/api/{s.Name}/{m.Name}"))
            .Order(StringComparer.Ordinal);
        Assert.Equal(expected, paths.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        foreach (var service in api.RootElement.EnumerateObject())
        {
            foreach (var method in service.Value.EnumerateObject())
            {
                var operation = paths.GetProperty($"/api/{service.Name}/{method.Name}").GetProperty("post");
                Assert.Equal($"{service.Name}.{method.Name}", operation.GetProperty("operationId").GetString());
                Assert.Equal(method.Value.GetProperty("description").GetString(), operation.GetProperty("summary").GetString());
                Assert.Equal([service.Name], operation.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));

                var body = operation.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema");
                var parameters = method.Value.GetProperty("params").EnumerateArray().ToList();
                Assert.Equal(parameters.Select(p => p.GetProperty("name").GetString()), Names(body, "properties", p => p.EnumerateObject().Select(p => p.Name)));
                // An optional parameter (optional: true in /api) may be left out of the body.
                Assert.Equal(
                    parameters.Where(p => !p.TryGetProperty("optional", out var optional) || !optional.GetBoolean()).Select(p => p.GetProperty("name").GetString()),
                    Names(body, "required", r => r.EnumerateArray().Select(p => p.GetString())));

                var result = operation.GetProperty("responses").GetProperty("200").GetProperty("content").GetProperty("application/json")
                    .GetProperty("schema").GetProperty("properties").GetProperty("result");
                var expectedType = method.Value.GetProperty("result").GetString() switch
                {
                    "none" => "null",
                    "string[]" => "array",
                    var other => other,
                };
                Assert.Equal(expectedType, result.GetProperty("type").GetString());
            }
        }
    }

    [Theory]
    [InlineData("userId", "UserId")]
    [InlineData("channelId", "ChannelId")]
    [InlineData("sessionId", "SessionId")]
    public async Task The_id_schemas_accept_exactly_what_the_node_accepts(string parameter, string schemaName)
    {
        using var document = JsonDocument.Parse(await FetchDocumentAsync());
        var schema = document.RootElement.GetProperty("components").GetProperty("schemas").GetProperty(schemaName);
        // JSON Schema patterns are ECMA-262 regular expressions.
        var pattern = new Regex(schema.GetProperty("pattern").GetString()!, RegexOptions.ECMAScript);
        var minLength = schema.GetProperty("minLength").GetInt32();
        var maxLength = schema.GetProperty("maxLength").GetInt32();
        bool SchemaAccepts(string value) => value.Length >= minLength && value.Length <= maxLength && pattern.IsMatch(value);

        // Both rules are "every character allowed, and a length in range": every character on its own, and the
        // length boundaries, cover them completely.
        for (var c = char.MinValue; c < char.MaxValue; c++)
        {
            var one = c.ToString();
            Assert.True(SchemaAccepts(one) == (Ids.Problem(parameter, one) is null), $"U+{(int)c:X4}");
        }

        foreach (var length in new[] { 0, 1, maxLength, maxLength + 1 })
        {
            var value = new string('a', length);
            Assert.True(SchemaAccepts(value) == (Ids.Problem(parameter, value) is null), $"length {length}");
        }
    }

    [Fact]
    public async Task The_management_interface_links_to_a_reference_page_that_lists_and_calls_every_method()
    {
        await using var context = await fixture.Chromium.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(fixture.Node.AdminUrl.ToString());

        await page.GetByTestId("link-reference").ClickAsync();

        await Expect(page).ToHaveURLAsync(new Uri(fixture.Node.AdminUrl, "/openapi.html").ToString());
        var paths = ServiceCatalog.Default.Services.SelectMany(s => s.Methods.Select(m => $"/api/{s.Name}/{m.Name}")).ToList();
        await Expect(page.Locator(".opblock")).ToHaveCountAsync(paths.Count);
        foreach (var path in paths)
        {
            await Expect(page.Locator($".opblock-summary-path[data-path='{path}']")).ToBeVisibleAsync();
        }

        // "Try it out": auth.set from the page, seen by the .NET client.
        var operation = page.Locator(".opblock").Filter(new() { Has = page.Locator(".opblock-summary-path[data-path='/api/auth/set']") });
        await operation.Locator(".opblock-summary").First.ClickAsync();
        await operation.Locator("textarea.body-param__text").FillAsync("{\"userId\": \"reference-user\", \"sessionId\": \"reference-session\"}");
        await operation.Locator("button.execute").ClickAsync();

        await Expect(operation.Locator(".live-responses-table tbody .response-col_status")).ToHaveTextAsync("200");
        using var client = fixture.Node.CreateClient();
        Assert.Equal("reference-user", await client.Auth.CheckAsync("reference-session"));
    }

    // An empty list is left out of the document.
    private static List<string?> Names(JsonElement schema, string property, Func<JsonElement, IEnumerable<string?>> names) =>
        schema.TryGetProperty(property, out var value) ? [.. names(value)] : [];

    private async Task<string> FetchDocumentAsync()
    {
        using var http = new HttpClient();
        return await http.GetStringAsync(new Uri(fixture.Node.AdminUrl, "/openapi/v1.json"));
    }

    private static async Task<string> SaveAsync(string document)
    {
        var file = Path.Combine(Path.GetTempPath(), $"socketpush-openapi-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, document);
        return file;
    }

    private static async Task<ProcessResult> ValidateAsync(string file)
    {
        await ValidatorInstall.Value;
        try
        {
            return await ProcessRunner.RunAsync("node", [Path.Combine(ValidatorDirectory, "validate.mjs"), file], workingDirectory: ValidatorDirectory);
        }
        finally
        {
            File.Delete(file);
        }
    }

    // npm ci only when node_modules is missing or older than the lock file, as the node's build does for its assets.
    private static async Task InstallValidatorAsync()
    {
        var installed = Path.Combine(ValidatorDirectory, "node_modules", ".package-lock.json");
        if (File.Exists(installed) && File.GetLastWriteTimeUtc(installed) >= File.GetLastWriteTimeUtc(Path.Combine(ValidatorDirectory, "package-lock.json")))
        {
            return;
        }

        var install = await ProcessRunner.RunAsync(
            "npm",
            ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            workingDirectory: ValidatorDirectory,
            timeout: TimeSpan.FromMinutes(5));
        Assert.True(install.ExitCode == 0, $"npm ci of the OpenAPI validator failed: {install}");
    }
}
