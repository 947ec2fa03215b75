using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using SocketPush.Client.Services;
using SocketPush.Client.Tests.Infrastructure;
using SocketPush.EndToEnd.Tests;
using SocketPush.Node.Tests;

namespace SocketPush.Client.Tests;

/// <summary>
/// Optional and integer parameters in the clients, with <see cref="ISampleService"/>, which only the tests declare:
/// what the .NET proxy sends, and the PHP client generated from its <c>/api</c> description (served here, as no
/// node has the service) and run against a server of the test's own that records what the PHP client sends.
/// </summary>
public sealed class OptionalParameterClientTests : IAsyncLifetime
{
    private readonly ConcurrentQueue<string> _received = new();
    private LoopbackSite? _site;

    private Uri SiteUrl => _site?.Url ?? throw new InvalidOperationException("The site has not started.");

    public async Task InitializeAsync() => _site = await LoopbackSite.StartAsync(site =>
    {
        site.MapGet("/api", () => Results.Text(SampleService.Description, "application/json"));
        site.MapPost("/api/sample/{method}", async (HttpContext context, string method) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            _received.Enqueue($"{method} {body}");
            // history answers the parameters it got; scale a number.
            return Results.Text(method == "history" ? $"{{\"result\": {body}}}" : "{\"result\": 6}", "application/json");
        });
    });

    public async Task DisposeAsync()
    {
        if (_site is not null)
        {
            await _site.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_proxy_leaves_out_null_optional_arguments_and_sends_integers_as_numbers()
    {
        var invoker = new RecordingInvoker();
        var proxy = ServiceProxy.Create<ISampleService>(invoker);

        await proxy.HistoryAsync("news");
        await proxy.HistoryAsync("news", limit: 10);
        await proxy.HistoryAsync("news", "m-1", 0);
        await proxy.HistoryAsync("news", since: null, limit: -1);
        await proxy.ScaleAsync(3);
        await proxy.ScaleAsync(3, 4);
        // A required argument that is null is still sent, as null, for the node to refuse as before.
        await proxy.HistoryAsync(null!);

        Assert.Equal(
            [
                """{"channelId":"news"}""",
                """{"channelId":"news","limit":10}""",
                """{"channelId":"news","since":"m-1","limit":0}""",
                """{"channelId":"news","limit":-1}""",
                // C# fills in the default of a non-nullable int: a value like any other.
                """{"count":3,"factor":2}""",
                """{"count":3,"factor":4}""",
                """{"channelId":null}""",
            ],
            invoker.Sent);
    }

    [Fact]
    public async Task The_generated_php_gives_optional_parameters_null_defaults_and_types_integers_as_int()
    {
        var (directory, run) = await Php.GenerateAsync(SiteUrl);
        try
        {
            Assert.True(run.ExitCode == 0, run.ToString());
            var file = Path.Combine(directory, "SampleService.php");
            var lint = await Php.LintAsync(file);
            Assert.True(lint.ExitCode == 0, lint.ToString());
            Assert.Contains("No syntax errors detected", lint.StandardOutput, StringComparison.Ordinal);

            var php = await File.ReadAllTextAsync(file);
            Assert.Contains("public function history(string|int $channelId, string|int|null $since = null, ?int $limit = null): array", php, StringComparison.Ordinal);
            Assert.Contains("public function scale(int $count, ?int $factor = null): int", php, StringComparison.Ordinal);
            Assert.Contains("     * @param string|int|null $since\n     * @param int|null $limit\n", php, StringComparison.Ordinal);

            var describe = await Php.RunAsync(Path.Combine(AppContext.BaseDirectory, "php", "describe.php"), [directory]);
            Assert.True(describe.ExitCode == 0, describe.ToString());
            using var described = JsonDocument.Parse(describe.StandardOutput);
            var history = described.RootElement.GetProperty("SocketPush\\SampleService").GetProperty("history");
            Assert.Equal(["channelId", "since", "limit"], history.GetProperty("params").EnumerateArray().Select(p => p.GetString()));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task The_php_client_leaves_out_null_optional_arguments_and_sends_integers_as_numbers()
    {
        var (directory, generation) = await Php.GenerateAsync(SiteUrl);
        try
        {
            Assert.True(generation.ExitCode == 0, generation.ToString());
            object?[][] history = [["news"], ["news", null, 10], ["news", "m-1", 0], [5, 7], ["news", null, null]];
            object?[][] scale = [[3], [3, 4], [3, null]];
            var calls = history.Select(args => new { @class = "SocketPush\\SampleService", method = "history", args })
                .Concat(scale.Select(args => new { @class = "SocketPush\\SampleService", method = "scale", args }));
            var callsFile = Path.GetTempFileName();
            await File.WriteAllTextAsync(callsFile, JsonSerializer.Serialize(calls));

            var run = await Php.RunAsync(
                Path.Combine(AppContext.BaseDirectory, "php", "call-all.php"),
                [directory, "127.0.0.1", SiteUrl.Port.ToString(CultureInfo.InvariantCulture), callsFile]);
            File.Delete(callsFile);

            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Equal(
                [
                    """history {"channelId":"news"}""",
                    """history {"channelId":"news","limit":10}""",
                    """history {"channelId":"news","since":"m-1","limit":0}""",
                    // An id and a since given as PHP ints are sent as strings, as ids always were.
                    """history {"channelId":"5","since":"7"}""",
                    """history {"channelId":"news"}""",
                    """scale {"count":3}""",
                    """scale {"count":3,"factor":4}""",
                    """scale {"count":3}""",
                ],
                _received);
            using var results = JsonDocument.Parse(run.StandardOutput);
            Assert.Equal(
                ["array", "array", "array", "array", "array", "int", "int", "int"],
                results.RootElement.EnumerateArray().Select(r => r.GetProperty("type").GetString()));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private sealed class RecordingInvoker : IServiceInvoker
    {
        public List<string> Sent { get; } = [];

        public Task<JsonElement> InvokeAsync(MethodDescriptor method, ReadOnlyMemory<byte> arguments, CancellationToken cancellationToken)
        {
            Sent.Add(System.Text.Encoding.UTF8.GetString(arguments.Span));
            return Task.FromResult(method.ResultType == "integer" ? JsonSerializer.SerializeToElement(6) : JsonSerializer.SerializeToElement(new { }));
        }
    }
}
