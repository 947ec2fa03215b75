namespace SocketPush.EndToEnd.Tests;

/// <summary>
/// The executable publish.sh makes (linux-x64 here), copied to a folder of its own with no repository around it:
/// it starts from a config file, serves its pages and delivers a publish to an SSE client.
/// </summary>
public sealed class PublishedExecutableTests : IClassFixture<PublishedExecutableTests.Published>
{
    private readonly Published _published;

    public PublishedExecutableTests(Published published) => _published = published;

    [Fact]
    public async Task The_single_file_runs_the_single_node_demo_from_a_folder_without_the_repository()
    {
        Assert.Equal(["socketpush"], Directory.EnumerateFiles(_published.Folder).Select(Path.GetFileName));
        await using var node = await NodeProcess.StartAsync(new NodeProcessOptions { NodeId = "published", Executable = _published.Executable });
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        foreach (var url in new[]
                 {
                     new Uri(node.AdminUrl, "/readyz"), new Uri(node.AdminUrl, "/"), new Uri(node.ClientUrl, "/"), new Uri(node.ClientUrl, "/lib/signalr.min.js"),
                 })
        {
            using var response = await http.GetAsync(url);
            Assert.True(response.IsSuccessStatusCode, $"GET {url} answered {(int)response.StatusCode}");
        }

        using var api = new AdminApi(node.AdminUrl);
        await api.CallAsync("auth", "set", new { userId = "1", sessionId = "test" });
        using var sse = await http.GetAsync(new Uri(node.ClientUrl, "/sse?userId=1&sessionId=test"), HttpCompletionOption.ResponseHeadersRead);
        Assert.True(sse.IsSuccessStatusCode, $"/sse answered {(int)sse.StatusCode}");
        using var events = new StreamReader(await sse.Content.ReadAsStreamAsync());
        await Eventually.TrueAsync(async () => (await api.ConnectionsAsync()) == 1, "the SSE client is connected");
        Assert.Equal(1, (await api.CallAsync("user", "publish", new { userId = "1", message = new { text = "from the single file" } })).GetInt32());

        var data = await ReadDataLineAsync(events).WaitAsync(Eventually.DefaultTimeout);
        Assert.Contains("\"text\":\"from the single file\"", data, StringComparison.Ordinal);
        Assert.Equal(0, await node.StopAsync());
    }

    private static async Task<string> ReadDataLineAsync(StreamReader events)
    {
        while (await events.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal) && line.Contains("text", StringComparison.Ordinal))
            {
                return line;
            }
        }

        throw new InvalidOperationException("The SSE stream ended without the message.");
    }

    /// <summary>publish.sh run once for the class, its output copied to a folder outside the repository.</summary>
    public sealed class Published : IAsyncLifetime
    {
        private readonly string _root = Directory.CreateTempSubdirectory("socketpush-published-").FullName;

        /// <summary>The copied folder: the executable and its wwwroot.</summary>
        public string Folder => Path.Combine(_root, "copy");

        public string Executable => Path.Combine(Folder, "socketpush");

        public async Task InitializeAsync()
        {
            var output = Path.Combine(_root, "dist");
            var run = await ProcessRunner.RunAsync(
                "bash", [Repository.Path("publish.sh"), "linux-x64"], new Dictionary<string, string> { ["OUT"] = output }, timeout: TimeSpan.FromMinutes(15));
            Assert.True(run.ExitCode == 0, run.ToString());
            // File.Copy keeps the executable's mode on Linux.
            Copy(Path.Combine(output, "linux-x64"), Folder);
        }

        public Task DisposeAsync()
        {
            Directory.Delete(_root, recursive: true);
            return Task.CompletedTask;
        }

        private static void Copy(string from, string to)
        {
            Directory.CreateDirectory(to);
            foreach (var file in Directory.EnumerateFiles(from))
            {
                File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
            }

            foreach (var directory in Directory.EnumerateDirectories(from))
            {
                Copy(directory, Path.Combine(to, Path.GetFileName(directory)));
            }
        }
    }
}
