using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Client.Tests.Infrastructure;

namespace SocketPush.Client.Tests;

/// <summary>A node, and the PHP client generated from its <c>/api</c> by <c>generate-php</c>.</summary>
public sealed class PhpFixture : IAsyncLifetime
{
    private NodeProcess? _node;

    internal NodeProcess Node => _node ?? throw new InvalidOperationException("The node has not started.");

    internal string Directory { get; private set; } = string.Empty;

    internal ProcessResult Generation { get; private set; } = new(-1, string.Empty, string.Empty);

    public async Task InitializeAsync()
    {
        _node = await ClientTestNode.StartAsync();
        (Directory, Generation) = await Php.GenerateAsync(_node.AdminUrl);
    }

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }

        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}

/// <summary>The generated PHP client: its files, its coverage of the catalog, and its calls against the live node.</summary>
public sealed class PhpClientTests(PhpFixture fixture) : IClassFixture<PhpFixture>
{
    private static string Script(string name) => Path.Combine(AppContext.BaseDirectory, "php", name);

    public static string ClassOf(ServiceDescriptor service) => char.ToUpperInvariant(service.Name[0]) + service.Name[1..] + "Service";

    [Fact]
    public void Generation_writes_one_class_per_service_and_the_shared_files()
    {
        Assert.True(fixture.Generation.ExitCode == 0, fixture.Generation.ToString());

        var expected = ServiceCatalog.Default.Services.Select(s => ClassOf(s) + ".php")
            .Concat(["autoload.php", "ServiceException.php", "ServiceClient.php"])
            .Order(StringComparer.Ordinal);
        Assert.Equal(expected, Directory.GetFiles(fixture.Directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var file in expected)
        {
            Assert.Contains($"wrote {Path.Combine(fixture.Directory, file)}", fixture.Generation.StandardOutput, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Every_generated_file_passes_php_lint()
    {
        Assert.True(fixture.Generation.ExitCode == 0, fixture.Generation.ToString());

        foreach (var file in Directory.GetFiles(fixture.Directory, "*.php"))
        {
            var lint = await Php.LintAsync(file);
            Assert.True(lint.ExitCode == 0, $"{file}: {lint}");
            Assert.Contains("No syntax errors detected", lint.StandardOutput, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_php_classes_have_every_method_of_the_catalog_with_its_parameters_and_description()
    {
        var run = await Php.RunAsync(Script("describe.php"), [fixture.Directory]);
        Assert.True(run.ExitCode == 0, run.ToString());
        using var described = JsonDocument.Parse(run.StandardOutput);

        Assert.Equal(
            ServiceCatalog.Default.Services.Select(s => $"SocketPush\\{ClassOf(s)}").Order(StringComparer.Ordinal),
            described.RootElement.EnumerateObject().Select(c => c.Name).Order(StringComparer.Ordinal));
        foreach (var service in ServiceCatalog.Default.Services)
        {
            var methods = described.RootElement.GetProperty($"SocketPush\\{ClassOf(service)}");
            Assert.Equal(service.Methods.Select(m => m.Name).Order(StringComparer.Ordinal), methods.EnumerateObject().Select(m => m.Name).Order(StringComparer.Ordinal));
            foreach (var method in service.Methods)
            {
                var php = methods.GetProperty(method.Name);
                Assert.Equal(method.Parameters.Select(p => p.Name), php.GetProperty("params").EnumerateArray().Select(p => p.GetString()));
                Assert.Contains(method.Description, php.GetProperty("doc").GetString(), StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task Every_method_is_callable_from_php_and_returns_its_result_type()
    {
        var values = new Dictionary<string, object>
        {
            ["userId"] = "php-user",
            ["channelId"] = "php/channel",
            ["sessionId"] = "php-session",
            ["message"] = new { text = "from php" },
            // No change: the shared node's config stays as it is.
            ["changes"] = new { },
        };
        var calls = ServiceCatalog.Default.Services.SelectMany(s => s.Methods.Select(m => new
        {
            @class = $"SocketPush\\{ClassOf(s)}",
            method = m.Name,
            // The optional parameters are left to their defaults.
            args = m.Parameters.Where(p => !p.Optional).Select(p => values[p.Name]).ToArray(),
        }));
        var callsFile = Path.GetTempFileName();
        await File.WriteAllTextAsync(callsFile, JsonSerializer.Serialize(calls));

        var run = await Php.RunAsync(Script("call-all.php"), [fixture.Directory, "127.0.0.1", fixture.Node.AdminUrl.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), callsFile]);
        File.Delete(callsFile);

        Assert.True(run.ExitCode == 0, run.ToString());
        using var results = JsonDocument.Parse(run.StandardOutput);
        var byMethod = results.RootElement.EnumerateArray().ToList();
        var methods = ServiceCatalog.Default.Services.SelectMany(s => s.Methods).ToList();
        Assert.Equal(methods.Count, byMethod.Count);
        for (var i = 0; i < methods.Count; i++)
        {
            var result = byMethod[i];
            Assert.True(result.TryGetProperty("result", out var value), $"{methods[i].Service}.{methods[i].Name}: {result}");
            // The kind after PHP's json_encode, and the type PHP itself saw (the two differ for int and float, list and map).
            var (expectedKind, expectedPhpType) = methods[i].ResultType switch
            {
                "none" => (JsonValueKind.Null, "null"),
                "string" => (JsonValueKind.String, "string"),
                "integer" => (JsonValueKind.Number, "int"),
                "string[]" => (JsonValueKind.Array, "array"),
                "object" => (JsonValueKind.Object, "array"),
                var other => throw new InvalidOperationException($"Unknown result type {other}."),
            };
            Assert.Equal(expectedKind, value.ValueKind);
            Assert.Equal(expectedPhpType, result.GetProperty("type").GetString());
        }

        Assert.Equal("php-user", byMethod[methods.FindIndex(m => m is { Service: "auth", Name: "check" })].GetProperty("result").GetString());
        var status = byMethod[methods.FindIndex(m => m is { Service: "manager", Name: "status" })];
        Assert.Contains("members", status.GetProperty("keys").EnumerateArray().Select(k => k.GetString()));
    }

    [Fact]
    public async Task Php_errors_are_service_exceptions_with_the_api_code()
    {
        var port = fixture.Node.AdminUrl.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var closedPort = FreePorts.Tcp().ToString(System.Globalization.CultureInfo.InvariantCulture);
        // Accepted by the kernel's backlog but never read: the request goes out and no answer ever comes.
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var silentPort = ((System.Net.IPEndPoint)silent.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var run = await Php.RunAsync(Script("errors.php"), [fixture.Directory, port, closedPort, silentPort]);

        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = run.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(" | ", 2)).ToList();
        Assert.Equal(
            [
                "check-unknown-session SocketPush\\ServiceException authorization_failed 403",
                "bad-user-id SocketPush\\ServiceException invalid_argument 400",
                "node-down SocketPush\\ServiceException unavailable 0",
                "node-silent SocketPush\\ServiceException unavailable 0",
            ],
            lines.Select(l => l[0]));
        Assert.Equal("Authorization failed", lines[0][1]);
        Assert.Contains("userId", lines[1][1], StringComparison.Ordinal);
        Assert.StartsWith($"Cannot reach the SocketPush node at http://127.0.0.1:{closedPort} (channel.listAll)", lines[2][1], StringComparison.Ordinal);
        Assert.Equal($"The SocketPush node at http://127.0.0.1:{silentPort} did not answer user.listAll within 0.5 s.", lines[3][1]);
    }

    [Fact]
    public async Task The_php_example_sets_auth_subscribes_and_publishes_to_a_client_on_sse()
    {
        await using var browser = await ExampleState.ConnectUserOneAsync(fixture.Node);

        var run = await Php.RunAsync(
            Repository.Path("examples/php/example.php"),
            ["127.0.0.1", fixture.Node.AdminUrl.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            new Dictionary<string, string> { ["SOCKETPUSH_PHP_CLIENT"] = fixture.Directory });

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(
            [
                "auth.set: session test belongs to user 1",
                "channel.subscribe: user 1 is subscribed to news",
                "user.publish: reached 1 connection(s)",
                "channel.publish: reached 1 connection(s)",
            ],
            run.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        ExampleState.AssertMessage(await browser.NextAsync(), "user", null, "hello user 1");
        ExampleState.AssertMessage(await browser.NextAsync(), "channel", "news", "hello news");
    }
}

/// <summary>The PHP client against a node that requires an API key; generated with <c>--api-key</c>.</summary>
public sealed class PhpApiKeyTests(ApiKeyNodeFixture fixture) : IClassFixture<ApiKeyNodeFixture>
{
    [Fact]
    public async Task The_key_is_sent_and_a_missing_or_wrong_key_is_refused()
    {
        var (directory, generation) = await Php.GenerateAsync(fixture.Node.AdminUrl, ApiKeyNodeFixture.ApiKey);
        try
        {
            Assert.True(generation.ExitCode == 0, generation.ToString());
            var port = fixture.Node.AdminUrl.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

            var run = await Php.RunAsync(
                Path.Combine(AppContext.BaseDirectory, "php", "api-key.php"),
                [directory, port],
                new Dictionary<string, string> { ["SOCKETPUSH_API_KEY"] = ApiKeyNodeFixture.ApiKey });

            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Equal(
                ["no-key unauthorized 401", "wrong-key forbidden 403", "right-key ok php-key-user"],
                run.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
