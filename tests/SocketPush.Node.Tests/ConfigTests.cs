using SocketPush.Node.Configuration;

namespace SocketPush.Node.Tests;

public sealed class ConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("socketpush-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string yaml)
    {
        var path = Path.Combine(_dir, "config.yml");
        File.WriteAllText(path, yaml);
        return path;
    }

    [Fact]
    public void Every_key_of_the_repository_config_is_listed_with_its_built_in_default()
    {
        var loaded = ConfigLoader.Load(["--config", Path.Combine(RepositoryRoot(), "config.yml")]);

        Assert.Equal(ConfigKeys.Flatten(new NodeConfig()), ConfigKeys.Flatten(loaded));
        Assert.Empty(ConfigKeys.Differences(new NodeConfig(), loaded));
    }

    [Fact]
    public void The_repository_config_marks_exactly_the_keys_that_need_a_restart()
    {
        // Each line "  key: value  # [restart] ..." under its sections, by indentation.
        var marked = new List<string>();
        var sections = new List<(int Indent, string Name)>();
        foreach (var line in File.ReadAllLines(Path.Combine(RepositoryRoot(), "config.yml")))
        {
            var text = line.TrimStart();
            if (text.Length == 0 || text[0] == '#' || !text.Contains(':', StringComparison.Ordinal))
            {
                continue;
            }

            var indent = line.Length - text.Length;
            sections.RemoveAll(s => s.Indent >= indent);
            var key = text[..text.IndexOf(':', StringComparison.Ordinal)];
            var dotted = string.Join('.', sections.Select(s => s.Name).Append(key));
            if (text.Contains("# [restart]", StringComparison.Ordinal))
            {
                marked.Add(dotted);
            }

            sections.Add((indent, key));
        }

        Assert.Equal(ConfigKeys.NeedRestart.Order(StringComparer.Ordinal), marked.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_repository_default_config_is_valid_and_matches_the_built_in_defaults()
    {
        var repoConfig = Path.Combine(RepositoryRoot(), "config.yml");
        var loaded = ConfigLoader.Load(["--config", repoConfig]);
        var builtIn = new NodeConfig();

        Assert.Equal(builtIn.Node.ClientPort, loaded.Node.ClientPort);
        Assert.Equal(8080, loaded.Node.ClientPort);
        Assert.Equal(8181, loaded.Admin.Port);
        Assert.Equal(7946, loaded.Node.ClusterPort);
        Assert.Equal("127.0.0.1", loaded.Node.BindAddress);
        Assert.Equal(builtIn.Options.AuthenticationTimeout, loaded.Options.AuthenticationTimeout);
        Assert.Equal(builtIn.Options.RemoveUserAfterDisconnectTimeout, loaded.Options.RemoveUserAfterDisconnectTimeout);
        Assert.Equal(65536, loaded.Options.MaxMessageBytes);
    }

    [Fact]
    public void Durations_and_nested_sections_are_read()
    {
        var config = ConfigLoader.Load(["--config", Write("""
            node:
              id: edge-7
            options:
              authenticationTimeout: 1500ms
              removeUserAfterDisconnectTimeout: 2m
              maxMessageBytes: 1024
            cluster:
              seeds: [10.0.0.1:7946, "10.0.0.2:7946"]
            """)]);

        Assert.Equal("edge-7", config.Node.Id);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), config.Options.AuthenticationTimeout);
        Assert.Equal(TimeSpan.FromMinutes(2), config.Options.RemoveUserAfterDisconnectTimeout);
        Assert.Equal(1024, config.Options.MaxMessageBytes);
        Assert.Equal(["10.0.0.1:7946", "10.0.0.2:7946"], config.Cluster.Seeds);
    }

    [Fact]
    public void Flags_override_the_file()
    {
        var config = ConfigLoader.Load([
            "--config", Write("node:\n  clientPort: 9000\n"),
            "--client-port", "9100", "--admin-port=9101", "--cluster-port", "9102", "--node-id", "n2", "--seeds", "127.0.0.1:1,127.0.0.1:2",
        ]);

        Assert.Equal(9100, config.Node.ClientPort);
        Assert.Equal(9101, config.Admin.Port);
        Assert.Equal(9102, config.Node.ClusterPort);
        Assert.Equal("n2", config.Node.Id);
        Assert.Equal(["127.0.0.1:1", "127.0.0.1:2"], config.Cluster.Seeds);
    }

    [Fact]
    public void A_bad_value_is_refused_with_its_key_and_line()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(["--config", Write("options:\n  maxMessageBytes: -5\n")]));
        Assert.Contains("options.maxMessageBytes", e.Message, StringComparison.Ordinal);
        Assert.Contains("line 2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_key_is_refused_by_name_and_line()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(["--config", Write("options:\n  maxMessageByte: 5\n")]));
        Assert.Contains("'maxMessageByte'", e.Message, StringComparison.Ordinal);
        Assert.Contains("line 2", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("options:\n  authenticationTimeout: soon\n", "soon")]
    [InlineData("node:\n  clientPort: eighty\n", "line 2")]
    [InlineData("node: [unclosed\n", "line")]
    public void Unparseable_files_are_refused_with_the_position(string yaml, string expected)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(["--config", Write(yaml)]));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("options:\n  maxMessageBytes: lots\n", "options.maxMessageBytes (", "line 2)", "expected a whole number")]
    [InlineData("options:\n  maxMessageBytes: [500\n", "options.maxMessageBytes (", "line 2)", "not closed")]
    [InlineData("options:\n  maxMessageBytes: [500]\n", "options.maxMessageBytes (", "line 2)", "found a list")]
    [InlineData("options:\n  allowedOrigins: http://a.example\n", "options.allowedOrigins (", "line 2)", "expected a list")]
    [InlineData("node:\n  id: n1\n  spare: yes\n", "node.spare (", "line 3)", "unknown key 'spare'")]
    [InlineData("history:\n  channels:\n    - match: 'news/*'\n      size: many\n", "history.channels[0].size (", "line 4)", "expected a whole number")]
    [InlineData("options: 5\n", "options (", "line 1)", "expected a section of keys")]
    public void A_value_of_the_wrong_kind_names_its_key_and_line_in_the_files_words(string yaml, string key, string line, string what)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(["--config", Write(yaml)]));

        Assert.StartsWith(key, e.Message, StringComparison.Ordinal);
        Assert.Contains(line, e.Message, StringComparison.Ordinal);
        Assert.Contains(what, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_section_left_open_before_a_plain_key_names_its_line_where_the_yaml_library_throws_without_a_place()
    {
        // Found by the config fuzzer (a line of noise `{QX` before logging:): the YAML scanner threw InvalidOperationException.
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(["--config", Write("options:\n{x\nlogging:\n")]));

        Assert.Contains("line 2, column 1: a [list] or {section} opened on this line is not closed", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tab_is_reported_on_its_own_line()
    {
        var lines = File.ReadAllLines(Path.Combine(RepositoryRoot(), "config.yml")).ToList();
        var at = lines.FindIndex(29, l => l.StartsWith("  ", StringComparison.Ordinal) && l.Contains(':', StringComparison.Ordinal));
        lines[at] = "\t" + lines[at].TrimStart();

        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(["--config", Write(string.Join('\n', lines))]));

        Assert.Contains($"line {at + 1})", e.Message, StringComparison.Ordinal);
        Assert.Contains("tab", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_admin_port_beyond_loopback_without_api_key_is_refused_and_says_why()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(["--config", Write("admin:\n  bindAddress: 0.0.0.0\n")]));
        Assert.Contains("admin.apiKey", e.Message, StringComparison.Ordinal);
        Assert.Contains("0.0.0.0", e.Message, StringComparison.Ordinal);

        var withKey = ConfigLoader.Load(["--config", Write("admin:\n  bindAddress: 0.0.0.0\n  apiKey: 0123456789abcdef0123\n")]);
        Assert.Equal("0.0.0.0", withKey.Admin.BindAddress);
        var withListedKey = ConfigLoader.Load(["--config", Write("admin:\n  bindAddress: 0.0.0.0\n  apiKeys: [0123456789abcdef0123]\n")]);
        Assert.Equal(["0123456789abcdef0123"], withListedKey.Admin.AllApiKeys());
    }

    [Theory]
    [InlineData("admin:\n  apiKeys: [0123456789abcdef0123, short]\n", "admin.apiKeys")]
    [InlineData("admin:\n  apiKeys: [\"0123456789 abcdef0123\"]\n", "admin.apiKeys")]
    [InlineData("admin:\n  apiKey: short\n", "admin.apiKey")]
    [InlineData("admin:\n  requestsPerSecond: -1\n", "admin.requestsPerSecond")]
    [InlineData("options:\n  maxConnectionsPerUser: -1\n", "options.maxConnectionsPerUser")]
    [InlineData("options:\n  maxSubscriptionsPerUser: -1\n", "options.maxSubscriptionsPerUser")]
    [InlineData("options:\n  maxConnections: -1\n", "options.maxConnections")]
    [InlineData("history:\n  maxBytes: -1\n", "history.maxBytes")]
    [InlineData("history:\n  channels:\n    - match: news\n", "history.channels")]
    [InlineData("history:\n  channels:\n    - match: 'a*b*'\n", "history.channels")]
    [InlineData("history:\n  users:\n    - match: '*'\n      size: -1\n", "history.users")]
    [InlineData("history:\n  users:\n    - match: '*'\n      age: 0s\n", "history.users")]
    [InlineData("history:\n  channels:\n    - match: 'a*'\n    - match: 'a*'\n      size: 5\n", "history.channels")]
    public void Short_or_spaced_api_keys_and_negative_limits_are_refused_by_key(string yaml, string key)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(["--config", Write(yaml)]));
        Assert.StartsWith(key + " ", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--client-port", "70000", "node.clientPort")]
    [InlineData("--client-port", "x", "--client-port")]
    [InlineData("--seeds", "nohost", "cluster.seeds")]
    [InlineData("--node-id", "bad id", "node.id")]
    public void Bad_flags_are_refused_by_name(string flag, string value, string named)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(["--config", Write(""), flag, value]));
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_flags_and_missing_files_are_refused()
    {
        Assert.Contains("--port", Assert.Throws<ConfigException>(() => ConfigLoader.Load(["--port", "1"])).Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", Assert.Throws<ConfigException>(() => ConfigLoader.Load(["--config", Path.Combine(_dir, "none.yml")])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_previous_cluster_secret_without_a_current_one_is_refused_and_both_are_hidden()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(["--config", Write("cluster:\n  previousSecret: old\n")]));
        Assert.Contains("cluster.previousSecret", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("cluster.swim", e.Message, StringComparison.Ordinal);

        var rotating = ConfigLoader.Load(["--config", Write("cluster:\n  secret: new\n  previousSecret: old\n")]);
        var gossip = GossipSettings.Of(rotating, []);
        Assert.Equal(("new", "old"), (gossip.Secret, gossip.PreviousSecret));
        var shown = ConfigKeys.ToJson(rotating)["cluster"]!;
        Assert.Equal("(set)", shown["secret"]!.GetValue<string>());
        Assert.Equal("(set)", shown["previousSecret"]!.GetValue<string>());
    }

    [Fact]
    public void Same_client_and_admin_port_is_refused()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(["--config", Write(""), "--client-port", "9000", "--admin-port", "9000"]));
        Assert.Contains("admin.port", e.Message, StringComparison.Ordinal);
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SocketPush.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("SocketPush.sln not found above the test binaries.");
    }
}
