using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace SocketPush.Node.Configuration;

/// <summary>
/// The cluster's layer of the config: keys set for every node at once (<c>manager.setConfig</c>), over each node's file
/// and under its command-line flags: built-in defaults &lt; file &lt; cluster layer &lt; flags. It holds each key's value
/// as the JSON it was given in, read the way the file's YAML is read (JSON is YAML), so a value means the same and is
/// refused for the same reasons in both places. How the layer is versioned, kept and spread is the cluster's business.
/// </summary>
internal sealed partial class ClusterLayer(ImmutableSortedDictionary<string, string> values, string version)
{
    /// <summary>What the parse errors of a value name as their source (and what <see cref="Reason"/> takes off again).</summary>
    private const string ParseSource = "manager.setConfig";

    public static readonly ClusterLayer Empty = new(ImmutableSortedDictionary.Create<string, string>(StringComparer.Ordinal), "none");

    private static readonly FrozenSet<string> Keys = ConfigKeys.Flatten(new NodeConfig()).Select(k => k.Key).ToFrozenSet(StringComparer.Ordinal);

    /// <summary>
    /// Keys that reload but stay in each node's file. Secrets: the layer is kept in every state directory and shown by
    /// manager.getConfig, and a secret that changed on every node at once would lock out the nodes it has not reached
    /// yet (a rotation goes step by step, see cluster.previousSecret). Certificate files: a path on each machine.
    /// </summary>
    private static readonly FrozenDictionary<string, string> NodeOnly = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["admin.apiKey"] = SecretReason,
        ["admin.apiKeys"] = SecretReason,
        ["cluster.secret"] = SecretReason,
        ["cluster.previousSecret"] = SecretReason,
        ["tls.password"] = SecretReason,
        ["tls.certificate"] = FileReason,
        ["tls.key"] = FileReason,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private const string SecretReason = "a secret, which the cluster does not spread (the layer is kept on every node and shown by manager.getConfig): set it in each node's file";

    private const string FileReason = "names a file on each node's machine: set it in each node's file";

    /// <summary>Each key and its value as JSON text, in key order.</summary>
    public ImmutableSortedDictionary<string, string> Values { get; } = values;

    /// <summary>The version of the cluster's layer this holds (the cluster's way of writing it), <c>none</c> for no layer.</summary>
    public string Version { get; } = version;

    /// <summary>Why <paramref name="key"/> cannot be in the layer, or null when it can: every key that reloads, but secrets and files.</summary>
    public static string? Refusal(string key) =>
        !Keys.Contains(key) ? "not a config key (config.yml in the repository lists every key)"
        : ConfigKeys.NeedRestart.Contains(key) ? "needs a restart of the node to change: set it in each node's file and restart the node"
        : NodeOnly.GetValueOrDefault(key);

    /// <summary>
    /// The changes of a manager.setConfig call, by dotted key, each value as compact JSON, null for a key taken out of
    /// the layer (back to the file's value). Keys may be dotted (<c>{"options.maxConnections": 5000}</c>) or nested in
    /// their sections (<c>{"options": {"maxConnections": 5000}}</c>). What is refused is added to
    /// <paramref name="problems"/>, each with its key.
    /// </summary>
    public static IReadOnlyDictionary<string, string?> ReadChanges(JsonElement changes, List<ConfigProblem> problems)
    {
        var read = new Dictionary<string, string?>(StringComparer.Ordinal);
        if (changes.ValueKind == JsonValueKind.Array && changes.GetArrayLength() == 0)
        {
            // No change: PHP's json_encode writes an empty array [] where it meant an empty object.
            return read;
        }

        if (changes.ValueKind != JsonValueKind.Object)
        {
            problems.Add(new ConfigProblem("changes", "must be a JSON object of config keys and their values, e.g. {\"options.maxConnections\": 5000}."));
            return read;
        }

        void Walk(JsonElement section, string prefix)
        {
            foreach (var property in section.EnumerateObject())
            {
                var key = prefix + property.Name;
                if (!Keys.Contains(key) && property.Value.ValueKind == JsonValueKind.Object && Keys.Any(k => k.StartsWith(key + ".", StringComparison.Ordinal)))
                {
                    Walk(property.Value, key + ".");
                    continue;
                }

                if (read.ContainsKey(key))
                {
                    problems.Add(new ConfigProblem(key, "given twice."));
                }
                else if (Refusal(key) is { } refusal)
                {
                    problems.Add(new ConfigProblem(key, refusal + "."));
                }
                else if (property.Value.ValueKind == JsonValueKind.Null)
                {
                    read[key] = null;
                }
                else
                {
                    var json = JsonSerializer.Serialize(property.Value);
                    read[key] = json;
                    if (Parse(key, json) is (null, { } problem))
                    {
                        problems.Add(new ConfigProblem(key, problem));
                    }
                }
            }
        }

        Walk(changes, "");
        return read;
    }

    /// <summary>
    /// <paramref name="below"/> (the file and the flags) with this layer's keys over it, but <paramref name="flagKeys"/>:
    /// a flag wins over the layer. A key this node cannot take (unknown to its version, refused, a value it cannot
    /// read) stays as below and is named in <paramref name="refused"/>.
    /// </summary>
    public NodeConfig Over(NodeConfig below, IReadOnlySet<string> flagKeys, List<ConfigProblem> refused)
    {
        var config = ConfigKeys.Clone(below);
        foreach (var (key, json) in Values)
        {
            if (flagKeys.Contains(key))
            {
                continue;
            }

            var (parsed, problem) = Refusal(key) is { } refusal ? (null, refusal) : Parse(key, json);
            if (parsed is not null)
            {
                ConfigKeys.Copy(key, parsed, config);
            }
            else
            {
                refused.Add(new ConfigProblem(key, problem!));
            }
        }

        return config;
    }

    /// <summary>Reads one key's value as the file would: <c>{"options": {"maxConnections": 5000}}</c> is a YAML document too.</summary>
    private static (NodeConfig? Config, string? Problem) Parse(string key, string json)
    {
        // Written out with spaces (YAML wants a space after a flow mapping's colon where JSON does not).
        var text = JsonSerializer.Serialize(JsonDocument.Parse(json).RootElement, Indented);
        foreach (var part in key.Split('.').Reverse())
        {
            text = $"{{ {JsonSerializer.Serialize(part)}: {text} }}";
        }

        try
        {
            return (ConfigLoader.Parse(text, ParseSource), null);
        }
        catch (ConfigException e)
        {
            return (null, Reason(e.Message));
        }
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The parser's reason without the line and column of a document the caller never wrote.</summary>
    private static string Reason(string message) => ParseLocation().Replace(message, "");

    [GeneratedRegex(@"^(manager\.setConfig( line \d+(, column \d+)?)?|[\w.]+ \(manager\.setConfig line \d+\)): ")]
    private static partial Regex ParseLocation();
}
