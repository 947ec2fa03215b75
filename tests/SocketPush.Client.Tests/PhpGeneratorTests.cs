using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using SocketPush.Client.Tests.Infrastructure;
using SocketPush.EndToEnd.Tests;

namespace SocketPush.Client.Tests;

/// <summary>
/// Descriptions no SocketPush node serves, from a server of the test's own: what <c>generate-php</c> does with a
/// description that is hostile, odd or missing. Names end up in PHP source, so anything but an identifier is refused.
/// </summary>
public sealed class PhpGeneratorTests : IAsyncLifetime
{
    private static readonly Dictionary<string, object> Descriptions = new(StringComparer.Ordinal)
    {
        ["service-name"] = Api("auth'); system('id'); //", "set", "userId"),
        ["method-name"] = Api("auth", "set() {} function x", "userId"),
        ["parameter-name"] = Api("auth", "set", "userId = 1"),
        ["odd"] = new Dictionary<string, object>
        {
            ["odd"] = new Dictionary<string, object>
            {
                ["doIt"] = new
                {
                    @params = new[] { new { name = "value", type = "json" }, new { name = "id", type = "string" } },
                    description = "Ends a comment */ echo 'pwned'; /* and\nspans ?> <?php echo 'pwned'; lines.",
                    result = "boolean",
                },
            },
        },
    };

    private LoopbackSite? _site;

    private Uri SiteUrl => _site?.Url ?? throw new InvalidOperationException("The site has not started.");

    public async Task InitializeAsync() => _site = await LoopbackSite.StartAsync(site =>
    {
        site.MapGet("/{name}/api", (string name) => Descriptions.TryGetValue(name, out var api) ? Results.Json(api) : Results.NotFound());
        site.MapGet("/not-json/api", () => Results.Text("<html>a proxy's error page</html>", "text/html"));
        site.MapGet("/keyed/api", () => Results.Json(new { error = "This node requires an API key.", code = "unauthorized" }, statusCode: 401));
    });

    public async Task DisposeAsync()
    {
        if (_site is not null)
        {
            await _site.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("service-name", "service auth'); system('id'); //: 'auth'); system('id'); //' is not a valid PHP identifier.")]
    [InlineData("method-name", "method auth.set() {} function x: 'set() {} function x' is not a valid PHP identifier.")]
    [InlineData("parameter-name", "parameter userId = 1 of auth.set: 'userId = 1' is not a valid PHP identifier.")]
    public async Task A_name_that_is_not_a_php_identifier_is_refused_and_nothing_is_written(string description, string problem)
    {
        var (directory, run) = await Php.GenerateAsync(new Uri(SiteUrl, $"{description}/"));

        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"generate-php: the description at {SiteUrl}{description}/api is not usable: {problem}", run.StandardError.Trim());
        Assert.False(Directory.Exists(directory));
    }

    [Fact]
    public async Task Comment_ends_and_php_tags_in_a_description_stay_inside_the_doc_comment()
    {
        var (directory, run) = await Php.GenerateAsync(new Uri(SiteUrl, "odd/"));
        try
        {
            Assert.True(run.ExitCode == 0, run.ToString());
            var lint = await Php.LintAsync(Path.Combine(directory, "OddService.php"));
            Assert.True(lint.ExitCode == 0, lint.ToString());

            var load = await ProcessRunner.RunAsync("php", ["-r", $"require '{directory}/autoload.php'; echo class_exists('SocketPush\\OddService') ? 'loaded' : 'missing';"]);
            Assert.Equal("loaded", load.StandardOutput.TrimEnd());

            var describe = await Php.RunAsync(Path.Combine(AppContext.BaseDirectory, "php", "describe.php"), [directory]);
            using var described = JsonDocument.Parse(describe.StandardOutput);
            var method = described.RootElement.GetProperty("SocketPush\\OddService").GetProperty("doIt");
            Assert.Equal(["value", "id"], method.GetProperty("params").EnumerateArray().Select(p => p.GetString()));
            Assert.Contains("Ends a comment * / echo 'pwned'; /* and spans ?> <?php echo 'pwned'; lines.", method.GetProperty("doc").GetString(), StringComparison.Ordinal);
            Assert.Contains("public function doIt(mixed $value, string|int $id): mixed", await File.ReadAllTextAsync(Path.Combine(directory, "OddService.php")), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task An_answer_that_is_not_json_is_reported()
    {
        var (_, run) = await Php.GenerateAsync(new Uri(SiteUrl, "not-json/"));

        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"generate-php: {SiteUrl}not-json/api answered HTTP 200 with a body that is not JSON.", run.StandardError.Trim());
    }

    [Fact]
    public async Task A_refused_key_is_reported_with_a_hint()
    {
        var (_, run) = await Php.GenerateAsync(new Uri(SiteUrl, "keyed/"));

        Assert.Equal(1, run.ExitCode);
        Assert.Equal(
            $"generate-php: {SiteUrl}keyed/api answered HTTP 401: This node requires an API key. Pass the node's admin.apiKey with --api-key.",
            run.StandardError.Trim());
    }

    [Fact]
    public async Task An_unreachable_node_is_reported()
    {
        var url = new Uri($"http://127.0.0.1:{FreePorts.Tcp()}/");

        var (_, run) = await Php.GenerateAsync(url);

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith($"generate-php: cannot read {url}api: ", run.StandardError.Trim(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--url", "http://127.0.0.1:8181" }, 2, "Option '--out' is required.")]
    [InlineData(new[] { "--out", "x", "--port", "8181" }, 2, "Unrecognized command or argument '--port'.")]
    [InlineData(new[] { "--out", "x", "--url", "ftp://127.0.0.1" }, 2, "--url must be the node's admin URL, such as http://127.0.0.1:8181, not 'ftp://127.0.0.1'.")]
    [InlineData(new[] { "--out" }, 2, "Required argument missing for option: '--out'.")]
    [InlineData(new[] { "--help" }, 0, null)]
    public async Task Bad_usage_says_what_is_wrong_and_shows_the_usage(string[] arguments, int exitCode, string? problem)
    {
        var run = await ProcessRunner.RunAsync("dotnet", [Repository.NodeDll, "generate-php", .. arguments]);

        Assert.Equal(exitCode, run.ExitCode);
        Assert.Contains("generate-php [options]", run.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("--out <DIR> (REQUIRED)", run.StandardOutput, StringComparison.Ordinal);
        if (problem is not null)
        {
            Assert.Contains(problem, run.StandardError, StringComparison.Ordinal);
        }
    }

    private static Dictionary<string, object> Api(string service, string method, string parameter) => new(StringComparer.Ordinal)
    {
        [service] = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            [method] = new { @params = new[] { new { name = parameter, type = "string" } }, description = "A method.", result = "none" },
        },
    };
}
