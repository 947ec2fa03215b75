using System.Collections;
using System.Collections.Frozen;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using YamlDotNet.RepresentationModel;

namespace SocketPush.Node.Configuration;

/// <summary>
/// The config as dotted keys (<c>options.maxMessageBytes</c>), read from <see cref="NodeConfig"/>'s sections by
/// reflection so that a new key needs no entry here: which keys differ between two configs, which of them need
/// a restart, and the config as JSON with its secrets hidden.
/// </summary>
internal static class ConfigKeys
{
    /// <summary>
    /// Keys the running node cannot take on: its sockets are bound, its id and URLs are in every peer's
    /// membership, and a ring setting or secret that differed between nodes would split the cluster.
    /// </summary>
    public static readonly FrozenSet<string> NeedRestart = new[]
    {
        "node.id", "node.bindAddress", "node.clientPort", "node.clusterPort", "node.advertisedClientUrl", "node.stateDir", "node.standby",
        "admin.bindAddress", "admin.port", "admin.advertisedUrl",
        "cluster.advertiseAddress", "cluster.virtualNodes", "cluster.replicas",
        "tls.client", "tls.admin",
    }.ToFrozenSet(StringComparer.Ordinal);

    /// <summary>
    /// Whether the running node cannot take this change of <paramref name="key"/>: the keys of <see cref="NeedRestart"/>;
    /// <c>cluster.secret</c> when it turns sealing on or off (a new secret is a rotation, taken live; whether datagrams
    /// are sealed sets the room left in each of them); <c>tls.certificate</c> set where there was none or emptied (a
    /// port's TLS is set up at start; another file is not).
    /// </summary>
    public static bool NeedsRestart(string key, NodeConfig before, NodeConfig after) =>
        NeedRestart.Contains(key)
        || (key == "cluster.secret" && (before.Cluster.Secret.Length == 0) != (after.Cluster.Secret.Length == 0))
        || (key == "tls.certificate" && (before.Tls.Certificate.Length == 0) != (after.Tls.Certificate.Length == 0));

    /// <summary>Keys whose values are never shown (getConfig, logs), only whether they are set.</summary>
    private static readonly HashSet<string> Secret = new(StringComparer.Ordinal)
    {
        "admin.apiKey", "admin.apiKeys", "cluster.secret", "cluster.previousSecret", "tls.password",
    };

    /// <summary>Every leaf key with its value as text, in declaration order.</summary>
    public static IReadOnlyList<(string Key, string Value)> Flatten(NodeConfig config)
    {
        var keys = new List<(string, string)>();
        Walk(config, "", (key, _, value) => keys.Add((key, Format(value))));
        return keys;
    }

    /// <summary>The keys whose values differ.</summary>
    public static IReadOnlyList<string> Differences(NodeConfig before, NodeConfig after)
    {
        var old = Flatten(before).ToDictionary(k => k.Key, k => k.Value, StringComparer.Ordinal);
        return [.. Flatten(after).Where(k => old[k.Key] != k.Value).Select(k => k.Key)];
    }

    /// <summary>Sets <paramref name="key"/> in <paramref name="target"/> to its value in <paramref name="source"/>.</summary>
    public static void Copy(string key, NodeConfig source, NodeConfig target)
    {
        object from = source, to = target;
        var parts = key.Split('.');
        foreach (var part in parts[..^1])
        {
            var section = Property(from.GetType(), part);
            from = section.GetValue(from)!;
            to = section.GetValue(to)!;
        }

        var leaf = Property(from.GetType(), parts[^1]);
        leaf.SetValue(to, leaf.GetValue(from));
    }

    /// <summary>A copy of <paramref name="config"/> whose keys can be set without touching it (lists are shared: a key is replaced, never edited in place).</summary>
    public static NodeConfig Clone(NodeConfig config)
    {
        var copy = new NodeConfig();
        foreach (var (key, _) in Flatten(config))
        {
            Copy(key, config, copy);
        }

        return copy;
    }

    /// <summary>The dotted keys a YAML text writes (sections with their keys), as written; none when it does not parse.</summary>
    public static IReadOnlySet<string> WrittenIn(string yaml)
    {
        var keys = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        void Walk(YamlNode node, string prefix)
        {
            if (node is not YamlMappingNode mapping)
            {
                return;
            }

            foreach (var (name, value) in mapping.Children)
            {
                if (name is YamlScalarNode { Value: { } text })
                {
                    var key = prefix.Length == 0 ? text : prefix + "." + text;
                    keys.Add(key);
                    Walk(value, key);
                }
            }
        }

        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(yaml));
            if (stream.Documents.Count > 0)
            {
                Walk(stream.Documents[0].RootNode, "");
            }
        }
        catch (YamlDotNet.Core.YamlException)
        {
            keys.Clear();
        }

        return keys;
    }

    /// <summary>The config as JSON in the file's shape; durations as the file writes them; secrets only as whether they are set.</summary>
    public static JsonObject ToJson(NodeConfig config)
    {
        var root = new JsonObject();
        Walk(config, "", (key, path, value) =>
        {
            var node = root;
            foreach (var section in path[..^1])
            {
                node = node[section] as JsonObject ?? (JsonObject)(node[section] = new JsonObject());
            }

            node[path[^1]] = Secret.Contains(key) ? Hidden(value)
                : value switch
                {
                    int number => JsonValue.Create(number),
                    bool flag => JsonValue.Create(flag),
                    IEnumerable<string> list => new JsonArray([.. list.Select(v => (JsonNode)JsonValue.Create(v))]),
                    long number => JsonValue.Create(number),
                    IEnumerable<HistoryRule> rules => new JsonArray([.. rules.Select(r => (JsonNode)new JsonObject
                    {
                        ["match"] = r.Match,
                        ["size"] = r.Size,
                        ["age"] = FormatDuration(r.Age),
                    })]),
                    _ => JsonValue.Create(Format(value)),
                };
        });
        return root;
    }

    /// <summary>A secret as getConfig shows it: "(set)" for a key that is set, a list of as many "(set)" for a list of keys.</summary>
    private static JsonNode? Hidden(object? value) => value switch
    {
        IEnumerable<string> list => new JsonArray([.. list.Select(_ => (JsonNode)JsonValue.Create("(set)"))]),
        string { Length: > 0 } => JsonValue.Create("(set)"),
        _ => JsonValue.Create(""),
    };

    private static void Walk(object section, string prefix, Action<string, string[], object?> leaf)
    {
        foreach (var property in section.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var name = char.ToLowerInvariant(property.Name[0]) + property.Name[1..];
            var key = prefix.Length == 0 ? name : prefix + "." + name;
            var value = property.GetValue(section);
            if (value is not null && IsSection(property.PropertyType))
            {
                Walk(value, key, leaf);
            }
            else
            {
                leaf(key, key.Split('.'), value);
            }
        }
    }

    private static bool IsSection(Type type) =>
        type.IsClass && type != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(type);

    private static PropertyInfo Property(Type type, string camelName) =>
        type.GetProperty(char.ToUpperInvariant(camelName[0]) + camelName[1..])
        ?? throw new ArgumentException($"no config key '{camelName}' in {type.Name}", nameof(camelName));

    private static string Format(object? value) => value switch
    {
        null => "",
        TimeSpan duration => FormatDuration(duration),
        bool flag => flag ? "true" : "false",
        IEnumerable<string> list => "[" + string.Join(", ", list) + "]",
        IEnumerable<HistoryRule> rules => "[" + string.Join(", ", rules) + "]",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>The largest unit that writes the duration exactly: <c>1h</c>, <c>5m</c>, <c>10s</c>, <c>500ms</c>.</summary>
    public static string FormatDuration(TimeSpan duration)
    {
        var ms = duration.TotalMilliseconds;
        var (amount, unit) = ms % 3_600_000 == 0 && ms > 0 ? (ms / 3_600_000, "h")
            : ms % 60_000 == 0 && ms > 0 ? (ms / 60_000, "m")
            : ms % 1000 == 0 ? (ms / 1000, "s")
            : (ms, "ms");
        return string.Create(CultureInfo.InvariantCulture, $"{amount}{unit}");
    }
}
