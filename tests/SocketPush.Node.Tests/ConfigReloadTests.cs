using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SocketPush.Gossip;
using SocketPush.Node.Cluster;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Tests;

/// <summary>
/// A node in this process that reads and watches a real config file (the platform's file watcher, real Kestrel):
/// edits apply without a restart, broken files are refused as a whole, keys that need a restart are refused alone.
/// </summary>
public sealed class ConfigReloadTests : IAsyncLifetime
{
    private const string Ports = "node:\n  clientPort: 0\n  clusterPort: 0\nadmin:\n  port: 0\n";

    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("socketpush-reload-");
    private TestNode? _node;

    private string ConfigPath => Path.Combine(_directory.FullName, "config.yml");

    private TestNode Node => _node!;

    private ConfigReloader Reloader => Node.Service<ConfigReloader>();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }

        _directory.Delete(recursive: true);
    }

    [Fact]
    public async Task A_lowered_maxMessageBytes_refuses_a_publish_that_was_accepted_before()
    {
        await StartAsync(Ports + "options:\n  maxMessageBytes: 1000\n");
        var message = new string('x', 500);
        Assert.Equal(0, (await Node.CallAsync("user", "publish", new { userId = "u1", message })).GetInt32());

        var outcome = await EditAsync(Ports + "options:\n  maxMessageBytes: 100\n");

        Assert.Equal("applied", outcome.Result);
        Assert.Equal(["options.maxMessageBytes"], outcome.Applied);
        using var refused = await Node.Admin.PostAsJsonAsync("/api/user/publish", new { userId = "u1", message });
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
        Assert.Contains("100", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string> BrokenFiles => new()
    {
        // name, the options section after the edit (its key on line 9 of the file), what the error must name
        { "broken YAML", "options:\n  maxMessageBytes: [1000\n", "line " },
        { "wrong type", "options:\n  maxMessageBytes: lots\n", "line 9" },
        { "out of range", "options:\n  maxMessageBytes: 0\n", "options.maxMessageBytes (" },
        { "unknown key", "options:\n  maxMesageBytes: 10\n", "unknown key 'maxMesageBytes'" },
    };

    [Theory]
    [MemberData(nameof(BrokenFiles))]
    public async Task A_broken_file_is_refused_as_a_whole_with_its_line_named_and_the_old_values_stay(string name, string options, string named)
    {
        await StartAsync(Ports + "options:\n  maxMessageBytes: 1000\n  authenticationTimeout: 7s\n");
        var refusedBefore = await Node.MetricAsync("socketpush_config_reloads_total{result=\"refused\"}");

        // The broken edit also changes a valid key: a refused file applies nothing of itself.
        var outcome = await EditAsync(Ports + "logging:\n  level: Debug\n" + options);

        Assert.Equal("refused", outcome.Result);
        Assert.NotNull(outcome.Error);
        Assert.Contains(named, outcome.Error, StringComparison.Ordinal);
        Assert.Contains(name == "broken YAML" ? "line " : "line 9", outcome.Error, StringComparison.Ordinal);
        Assert.Empty(outcome.Applied);
        var config = Node.Service<LiveConfig>().Current;
        Assert.Equal(1000, config.Options.MaxMessageBytes);
        Assert.Equal(TimeSpan.FromSeconds(7), config.Options.AuthenticationTimeout);
        Assert.Equal("Information", config.Logging.Level);
        Assert.Equal(refusedBefore + 1, await Node.MetricAsync("socketpush_config_reloads_total{result=\"refused\"}"));
        Assert.Equal(1, Reloader.Version);
        using var ready = await Node.Admin.GetAsync("/readyz");
        Assert.True(ready.IsSuccessStatusCode, $"{name}: the node stays ready");
    }

    [Fact]
    public async Task A_port_change_is_refused_with_the_restart_message_and_the_timeout_of_the_same_edit_applies()
    {
        await StartAsync(Ports + "options:\n  authenticationTimeout: 10s\n");

        var outcome = await EditAsync("node:\n  clientPort: 45999\n  clusterPort: 0\nadmin:\n  port: 0\noptions:\n  authenticationTimeout: 3s\n");

        Assert.Equal("applied", outcome.Result);
        Assert.Equal(["options.authenticationTimeout"], outcome.Applied);
        var refused = Assert.Single(outcome.Refused);
        Assert.Equal("node.clientPort", refused.Key);
        Assert.Contains("restart", refused.Reason, StringComparison.Ordinal);
        var config = Node.Service<LiveConfig>().Current;
        Assert.Equal(TimeSpan.FromSeconds(3), config.Options.AuthenticationTimeout);
        Assert.Equal(0, config.Node.ClientPort);
        Assert.Equal(2, Reloader.Version);
    }

    [Fact]
    public async Task Fifty_writes_in_quick_succession_end_on_the_last_version_and_no_reload_sees_half_a_file()
    {
        static string Version(int i) =>
            Ports + $"options:\n  maxMessageBytes: {1000 + i}\n  authenticationTimeout: 7s\nlogging:\n  level: Warning\n";
        await StartAsync(Version(0));
        var applied = new List<NodeConfig>();
        Node.Service<LiveConfig>().Changed += (_, after) =>
        {
            lock (applied)
            {
                applied.Add(after);
            }
        };

        for (var i = 1; i <= 50; i++)
        {
            await File.WriteAllTextAsync(ConfigPath, Version(i));
        }

        // The Changed event runs just after the new config is in force: wait for it, not only for Current.
        await Eventually.TrueAsync(
            () =>
            {
                lock (applied)
                {
                    return applied.Any(c => c.Options.MaxMessageBytes == 1050);
                }
            },
            "the last version was applied");
        Assert.Equal(1050, Node.Service<LiveConfig>().Current.Options.MaxMessageBytes);
        lock (applied)
        {
            Assert.InRange(applied.Count, 1, 49);
            Assert.All(applied, c =>
            {
                Assert.InRange(c.Options.MaxMessageBytes, 1001, 1050);
                Assert.Equal(TimeSpan.FromSeconds(7), c.Options.AuthenticationTimeout);
                Assert.Equal("Warning", c.Logging.Level);
            });
        }
    }

    [Fact]
    public async Task An_editor_save_that_writes_a_new_file_and_renames_it_over_the_config_is_seen()
    {
        await StartAsync(Ports + "options:\n  maxMessageBytes: 1000\n");
        var before = Reloader.Last;

        var saved = ConfigPath + ".swp";
        await File.WriteAllTextAsync(saved, Ports + "options:\n  maxMessageBytes: 3000\n");
        File.Move(saved, ConfigPath, overwrite: true);

        await Eventually.TrueAsync(() => !ReferenceEquals(Reloader.Last, before), "the watcher reloaded the replaced file");
        Assert.Equal(["options.maxMessageBytes"], Reloader.Last!.Applied);
        Assert.Equal(3000, Node.Service<LiveConfig>().Current.Options.MaxMessageBytes);
    }

    [Fact]
    public async Task A_rotated_admin_api_key_refuses_the_old_key_and_accepts_the_new_one()
    {
        const string OldKey = "old-key-0123456789", NewKey = "new-key-9876543210";
        await StartAsync(Ports.Replace("  port: 0\n", $"  port: 0\n  apiKey: {OldKey}\n", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, await StatusWithKeyAsync(OldKey));

        var outcome = await EditAsync(Ports.Replace("  port: 0\n", $"  port: 0\n  apiKey: {NewKey}\n", StringComparison.Ordinal));

        Assert.Equal(["admin.apiKey"], outcome.Applied);
        Assert.Equal(HttpStatusCode.Forbidden, await StatusWithKeyAsync(OldKey));
        Assert.Equal(HttpStatusCode.OK, await StatusWithKeyAsync(NewKey));
    }

    [Fact]
    public async Task Both_listed_api_keys_and_the_single_key_work_and_a_key_removed_from_the_list_stops_at_the_reload()
    {
        const string Single = "single-key-0123456789", First = "first-key-0123456789", Second = "second-key-0123456789";
        await StartAsync(Ports.Replace("  port: 0\n", $"  port: 0\n  apiKey: {Single}\n  apiKeys: [{First}, {Second}]\n", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, await StatusWithKeyAsync(Single));
        Assert.Equal(HttpStatusCode.OK, await StatusWithKeyAsync(First));
        Assert.Equal(HttpStatusCode.OK, await StatusWithKeyAsync(Second));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusWithKeyAsync(First + "x"));

        var outcome = await EditAsync(Ports.Replace("  port: 0\n", $"  port: 0\n  apiKey: {Single}\n  apiKeys: [{Second}]\n", StringComparison.Ordinal));

        Assert.Equal(["admin.apiKeys"], outcome.Applied);
        Assert.Equal(HttpStatusCode.Forbidden, await StatusWithKeyAsync(First));
        Assert.Equal(HttpStatusCode.OK, await StatusWithKeyAsync(Second));
        Assert.Equal(HttpStatusCode.OK, await StatusWithKeyAsync(Single));
        Node.Admin.DefaultRequestHeaders.Authorization = new("Bearer", Second);
        var config = (await Node.CallAsync("worker", "getConfig", new { })).GetProperty("config").GetProperty("admin");
        Assert.Equal(["(set)"], config.GetProperty("apiKeys").EnumerateArray().Select(k => k.GetString()));
        Assert.DoesNotContain("-key-", config.GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reload_that_would_leave_a_reachable_admin_port_without_a_key_is_refused_as_a_whole()
    {
        const string Key = "reachable-key-0123456789";
        var reachable = Ports.Replace("admin:\n", "admin:\n  bindAddress: 0.0.0.0\n", StringComparison.Ordinal);
        await StartAsync(reachable.Replace("  port: 0\n", $"  port: 0\n  apiKeys: [{Key}]\n", StringComparison.Ordinal));
        // The node advertises 0.0.0.0, which is no address to connect to.
        Node.Admin.BaseAddress = new Uri($"http://127.0.0.1:{new Uri(Node.Host.Identity.AdminUrl).Port}");

        // Valid as written (loopback needs no key), but admin.bindAddress needs a restart: the running port stays reachable.
        var outcome = await EditAsync(Ports + "options:\n  maxMessageBytes: 2000\n");

        Assert.Equal("refused", outcome.Result);
        Assert.Contains("admin.apiKey", outcome.Error, StringComparison.Ordinal);
        Assert.Empty(outcome.Applied);
        Assert.Equal(65536, Node.Service<LiveConfig>().Current.Options.MaxMessageBytes);
        using var keyless = await Node.Admin.PostAsJsonAsync("/api/manager/status", new { });
        Assert.Equal(HttpStatusCode.Unauthorized, keyless.StatusCode);
        Assert.Equal(HttpStatusCode.OK, await StatusWithKeyAsync(Key));
    }

    [Fact]
    public async Task A_request_rate_set_by_a_reload_answers_429_with_retry_after_and_a_reload_back_to_0_lifts_it()
    {
        await StartAsync(Ports);
        await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ => Assert.Equal(HttpStatusCode.OK, await StatusWithKeyAsync(""))));

        var outcome = await EditAsync(Ports.Replace("  port: 0\n", "  port: 0\n  requestsPerSecond: 2\n", StringComparison.Ordinal));

        Assert.Equal(["admin.requestsPerSecond"], outcome.Applied);
        // A burst of two per second: of 20 calls at once, most are refused, each with the JSON error and Retry-After.
        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Node.Admin.PostAsJsonAsync("/api/manager/status", new { })));
        var limited = answers.Where(a => a.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.InRange(limited.Count, 1, 18);
        foreach (var answer in limited)
        {
            Assert.True(int.Parse(answer.Headers.RetryAfter!.ToString(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
            var body = await answer.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("rate_limited", body.GetProperty("code").GetString());
            Assert.Contains("admin.requestsPerSecond (2)", body.GetProperty("error").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(limited.Count, await Node.MetricAsync("socketpush_api_calls_total{service=\"manager\",method=\"status\",code=\"rate_limited\"}"));
        foreach (var answer in answers)
        {
            answer.Dispose();
        }

        await EditAsync(Ports);
        await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ => Assert.Equal(HttpStatusCode.OK, await StatusWithKeyAsync(""))));
    }

    [Fact]
    public async Task The_cluster_secret_rotates_in_three_reloads_and_turning_sealing_off_is_refused()
    {
        static string Cluster(string secret, string previous) => Ports + $"cluster:\n  secret: \"{secret}\"\n  previousSecret: \"{previous}\"\n";
        await StartAsync(Cluster("old-secret", ""));
        var gossip = Node.Service<ClusterMembership>().Gossip;

        Assert.Equal(["cluster.previousSecret"], (await EditAsync(Cluster("old-secret", "new-secret"))).Applied);
        Assert.Equal(["cluster.secret", "cluster.previousSecret"], (await EditAsync(Cluster("new-secret", "old-secret"))).Applied);

        // The node now seals under the new secret: a member that has only that one joins it.
        await using (var fresh = Membership.Start(ClusterTests.StrangerOptions(Node, "new-secret", [gossip.Address]), "fresh", "x"u8.ToArray()))
        {
            await Eventually.TrueAsync(() => fresh.Snapshot.Live.Count() == 2, "a member with only the new secret joined");
        }

        // The old secret dropped: a member that has only that one never opens what the node answers.
        Assert.Equal(["cluster.previousSecret"], (await EditAsync(Cluster("new-secret", ""))).Applied);
        var refusedBefore = gossip.Counters.DroppedUnauthenticated;
        await using (var stale = Membership.Start(ClusterTests.StrangerOptions(Node, "old-secret", [gossip.Address]), "stale", "x"u8.ToArray()))
        {
            await Eventually.TrueAsync(() => gossip.Counters.DroppedUnauthenticated >= refusedBefore + 2, "the node refused the old secret");
            Assert.Equal(["stale"], stale.Snapshot.Members.Select(m => m.Name));
        }

        var off = await EditAsync(Cluster("", ""));
        Assert.Equal("cluster.secret", Assert.Single(off.Refused).Key);
        Assert.Contains("restart", off.Refused[0].Reason, StringComparison.Ordinal);
        Assert.Equal("new-secret", Node.Service<LiveConfig>().Current.Cluster.Secret);
    }

    [Fact]
    public async Task Flags_keep_their_precedence_over_the_file_across_reloads()
    {
        await File.WriteAllTextAsync(ConfigPath, Ports);
        _node = await TestNode.StartFromFileAsync(ConfigPath, "--seeds", "127.0.0.1:1");

        var outcome = await EditAsync(Ports + "cluster:\n  seeds: [\"127.0.0.1:2\"]\n  requestTimeout: 2s\n");

        Assert.Equal(["cluster.requestTimeout"], outcome.Applied);
        Assert.Equal(["127.0.0.1:1"], Node.Service<LiveConfig>().Current.Cluster.Seeds);
    }

    [Fact]
    public async Task Worker_reload_answers_over_both_http_forms_and_getConfig_hides_the_key()
    {
        await StartAsync(Ports.Replace("  port: 0\n", "  port: 0\n  apiKey: secret-key-0123456789\n", StringComparison.Ordinal));
        Node.Admin.DefaultRequestHeaders.Authorization = new("Bearer", "secret-key-0123456789");
        await File.WriteAllTextAsync(ConfigPath, (await File.ReadAllTextAsync(ConfigPath)) + "options:\n  maxMessageBytes: 2000\n");

        // Whichever comes first, the watcher or the call, the edit is applied once; the call reports it or finds nothing left.
        var posted = await Node.CallAsync("worker", "reload", new { });
        Assert.Equal("applied", posted.GetProperty("result").GetString());
        using var path = await Node.Admin.GetAsync("/worker/reload");
        var pathBody = await path.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.OK, path.StatusCode);
        Assert.Equal("applied", pathBody.GetProperty("result").GetProperty("result").GetString());
        Assert.Equal(0, pathBody.GetProperty("result").GetProperty("applied").GetArrayLength());
        Assert.Equal(2000, Node.Service<LiveConfig>().Current.Options.MaxMessageBytes);

        var config = await Node.CallAsync("worker", "getConfig", new { });
        Assert.Equal("(set)", config.GetProperty("config").GetProperty("admin").GetProperty("apiKey").GetString());
        Assert.Equal(2000, config.GetProperty("config").GetProperty("options").GetProperty("maxMessageBytes").GetInt32());
        Assert.Equal("10s", config.GetProperty("config").GetProperty("options").GetProperty("authenticationTimeout").GetString());
        Assert.DoesNotContain("secret-key", config.GetRawText(), StringComparison.Ordinal);
        var status = await Node.CallAsync("manager", "status", new { });
        Assert.Equal(2, status.GetProperty("config").GetProperty("version").GetInt32());
    }

    [Fact]
    public async Task A_reload_of_the_file_keeps_the_cluster_layer_over_it_and_the_flags_over_both()
    {
        await File.WriteAllTextAsync(ConfigPath, Ports + "options:\n  maxMessageBytes: 1000\n");
        _node = await TestNode.StartFromFileAsync(ConfigPath, "--seeds=127.0.0.1:9");
        await Node.CallAsync("manager", "setConfig", new
        {
            changes = new Dictionary<string, object> { ["options.maxMessageBytes"] = 300, ["cluster.seeds"] = new[] { "127.0.0.1:7" } },
        });

        var outcome = await EditAsync(Ports + "options:\n  maxMessageBytes: 5000\n  maxConnections: 50\n");

        Assert.Equal("applied", outcome.Result);
        Assert.Equal(["options.maxConnections"], outcome.Applied);
        var config = await Node.CallAsync("worker", "getConfig", new { });
        var options = config.GetProperty("config").GetProperty("options");
        var sources = config.GetProperty("sources");
        Assert.Equal(300, options.GetProperty("maxMessageBytes").GetInt32());
        Assert.Equal("cluster", sources.GetProperty("options.maxMessageBytes").GetString());
        Assert.Equal(50, options.GetProperty("maxConnections").GetInt32());
        Assert.Equal("file", sources.GetProperty("options.maxConnections").GetString());
        Assert.Equal("127.0.0.1:9", config.GetProperty("config").GetProperty("cluster").GetProperty("seeds")[0].GetString());
        Assert.Equal("flag", sources.GetProperty("cluster.seeds").GetString());
        Assert.Equal("default", sources.GetProperty("options.clientTimeout").GetString());
    }

    private async Task StartAsync(string yaml)
    {
        await File.WriteAllTextAsync(ConfigPath, yaml);
        _node = await TestNode.StartFromFileAsync(ConfigPath);
    }

    /// <summary>Writes the file and waits for the reload the watcher starts.</summary>
    private async Task<ReloadOutcome> EditAsync(string yaml)
    {
        var before = Reloader.Last;
        await File.WriteAllTextAsync(ConfigPath, yaml);
        await Eventually.TrueAsync(() => !ReferenceEquals(Reloader.Last, before), "the watcher reloaded the file");
        return Reloader.Last!;
    }

    private async Task<HttpStatusCode> StatusWithKeyAsync(string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/manager/status") { Content = JsonContent.Create(new { }) };
        if (key.Length > 0)
        {
            request.Headers.Authorization = new("Bearer", key);
        }

        using var response = await Node.Admin.SendAsync(request);
        return response.StatusCode;
    }
}
