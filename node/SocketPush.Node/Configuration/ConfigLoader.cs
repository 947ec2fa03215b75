using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace SocketPush.Node.Configuration;

/// <summary>A configuration that cannot be used; the message names the key (and line, when known).</summary>
internal sealed class ConfigException(string message) : Exception(message);

/// <summary>The config file (full path, or null when there is none) and the command-line flags applied over it, in force at every reload.</summary>
internal sealed record ConfigSource(string? Path, IReadOnlyDictionary<string, string> Flags)
{
    /// <summary>No file and no flags: a node configured in code (tests).</summary>
    public static ConfigSource None { get; } = new(null, new Dictionary<string, string>());
}

/// <summary>A command-line flag that sets one config key over the file.</summary>
/// <param name="Key">The key it sets; <c>worker.getConfig</c> names the flag as that key's source.</param>
/// <param name="ValueName">Its value as the help shows it.</param>
/// <param name="Note">What the help adds after "KEY, over the file's".</param>
/// <param name="Apply">Sets the key from the flag's value.</param>
internal sealed record ConfigFlag(string Key, string ValueName, string Note, Action<NodeConfig, string> Apply);

/// <summary>Reads <c>config.yml</c>, applies command-line flags over it and validates the result.</summary>
internal static class ConfigLoader
{
    /// <summary>The file read when <c>--config</c> is not given.</summary>
    public const string DefaultPath = "config.yml";

    /// <summary>
    /// The flags that set a key over the file (<c>--client-port</c>, ...), each with its key: the one table the
    /// loader, the command line's help and <c>worker.getConfig</c>'s sources read. <c>--config</c> names the file.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, ConfigFlag> Flags = new Dictionary<string, ConfigFlag>(StringComparer.Ordinal)
    {
        ["--node-id"] = new("node.id", "ID", "", (c, v) => c.Node.Id = v),
        ["--client-port"] = new("node.clientPort", "PORT", " (0: the OS picks one)", (c, v) => c.Node.ClientPort = ParsePort("--client-port", v)),
        ["--admin-port"] = new("admin.port", "PORT", " (0: the OS picks one)", (c, v) => c.Admin.Port = ParsePort("--admin-port", v)),
        ["--cluster-port"] = new("node.clusterPort", "PORT", " (0: the OS picks one)", (c, v) => c.Node.ClusterPort = ParsePort("--cluster-port", v)),
        ["--seeds"] = new("cluster.seeds", "HOST:PORT,...", ": other nodes' cluster ports",
            (c, v) => c.Cluster.Seeds = [.. v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]),
    };

    /// <summary>Loads the config file named by <c>--config</c> (or <c>config.yml</c> if present) and applies the flags.</summary>
    public static NodeConfig Load(IReadOnlyList<string> args) => Load(SourceOf(args));

    /// <summary>Where a node's config comes from: the file <c>--config</c> names (or <c>config.yml</c> if present) and the other flags.</summary>
    public static ConfigSource SourceOf(IReadOnlyList<string> args)
    {
        var flags = ParseFlags(args);
        string? path = flags.Remove("--config", out var explicitPath) ? explicitPath : null;
        if (path is not null && !File.Exists(path))
        {
            throw new ConfigException($"--config: the file '{path}' does not exist.");
        }

        path ??= File.Exists(DefaultPath) ? DefaultPath : null;
        return new ConfigSource(path is null ? null : Path.GetFullPath(path), flags);
    }

    /// <summary>Reads the source's file (at start or on a reload), applies its flags over it and validates the result.</summary>
    public static NodeConfig Load(ConfigSource source) => Load(source, source.Path is null ? null : File.ReadAllText(source.Path));

    /// <summary>The same, from the file's text already read (a reload looks at it first).</summary>
    public static NodeConfig Load(ConfigSource source, string? yaml)
    {
        var config = yaml is null ? new NodeConfig() : Parse(yaml, source.Path!);
        foreach (var (flag, value) in source.Flags)
        {
            Flags[flag].Apply(config, value);
        }

        var problems = ConfigValidator.Validate(config);
        if (problems.Count > 0)
        {
            throw new ConfigException(string.Join(Environment.NewLine, problems.Select(p => Describe(p, yaml, source.Path))));
        }

        return config;
    }

    /// <summary>Parses YAML text into a config without validating it.</summary>
    public static NodeConfig Parse(string yaml, string sourceName)
    {
        // The syntax on its own first: the deserializer reports some syntax errors (a tab) at the file's start.
        var root = ConfigFileErrors.ReadSyntax(yaml, sourceName);
        var deserializer = new DeserializerBuilder()
            .WithNamingConvention(CamelCaseNamingConvention.Instance)
            .WithTypeConverter(new DurationConverter())
            // A key given twice is a mistake (which one was meant?), not a rule that the last one wins.
            .WithDuplicateKeyChecking()
            .Build();
        NodeConfig config;
        try
        {
            config = deserializer.Deserialize<NodeConfig?>(yaml) ?? new NodeConfig();
        }
        catch (YamlException e)
        {
            throw new ConfigException(ConfigFileErrors.Describe(e, root, sourceName));
        }

        KeepDefaultsForEmptyValues(config, "", yaml, sourceName);
        return config;
    }

    /// <summary>
    /// A key written with no value (<c>apiKey:</c>, or a section whose keys are all commented out) reads as null; it
    /// keeps its default, as if it were not written. An empty item in a list (<c>seeds: [~]</c>) is refused.
    /// </summary>
    private static void KeepDefaultsForEmptyValues(object section, string prefix, string yaml, string sourceName)
    {
        var defaults = Activator.CreateInstance(section.GetType())!;
        foreach (var property in section.GetType().GetProperties().Where(p => p.CanWrite && !p.PropertyType.IsValueType))
        {
            var key = prefix + char.ToLowerInvariant(property.Name[0]) + property.Name[1..];
            switch (property.GetValue(section))
            {
                case null:
                    property.SetValue(section, property.GetValue(defaults));
                    break;
                case List<string> list when list.Contains(null!):
                    throw new ConfigException($"{sourceName} line {FindLine(yaml, key)}: {key} has an empty item.");
                case string or List<string>:
                    break;
                case List<HistoryRule> rules when rules.Contains(null!):
                    throw new ConfigException($"{sourceName} line {FindLine(yaml, key)}: {key} has an empty item.");
                case List<HistoryRule> rules:
                    foreach (var rule in rules)
                    {
                        KeepDefaultsForEmptyValues(rule, key + ".", yaml, sourceName);
                    }

                    break;
                case var nested:
                    KeepDefaultsForEmptyValues(nested, key + ".", yaml, sourceName);
                    break;
            }
        }
    }

    private static Dictionary<string, string> ParseFlags(IReadOnlyList<string> args)
    {
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            var name = eq > 0 ? arg[..eq] : arg;
            if (name != "--config" && !Flags.ContainsKey(name))
            {
                throw new ConfigException($"unknown argument '{arg}'. Flags: --config, {string.Join(", ", Flags.Keys)}.");
            }

            if (eq > 0)
            {
                flags[name] = arg[(eq + 1)..];
            }
            else if (i + 1 < args.Count)
            {
                flags[name] = args[++i];
            }
            else
            {
                throw new ConfigException($"{name} needs a value.");
            }
        }

        return flags;
    }

    private static int ParsePort(string flag, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            ? port
            : throw new ConfigException($"{flag}: '{value}' is not a port number.");

    private static string Describe(ConfigProblem problem, string? yaml, string? path)
    {
        var line = yaml is null ? null : FindLineOfKeyOrSection(yaml, problem.Key);
        return line is null
            ? $"{problem.Key}: {problem.Message}"
            : $"{problem.Key} ({path} line {line}): {problem.Message}";
    }

    /// <summary>
    /// The line of the key, or of its section when the file leaves the key out: a problem can lie in a default that
    /// other keys make wrong (<c>cluster.writeQuorum</c> above a <c>cluster.replicas</c> of 1).
    /// </summary>
    private static long? FindLineOfKeyOrSection(string yaml, string dottedKey)
    {
        for (var key = dottedKey; ; key = key[..key.LastIndexOf('.')])
        {
            if (FindLine(yaml, key) is { } line)
            {
                return line;
            }

            if (!key.Contains('.', StringComparison.Ordinal))
            {
                return null;
            }
        }
    }

    /// <summary>The line of a dotted key such as <c>options.maxMessageBytes</c>, if the YAML spells it out.</summary>
    internal static long? FindLine(string yaml, string dottedKey)
    {
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(yaml));
            YamlNode? node = stream.Documents.Count > 0 ? stream.Documents[0].RootNode : null;
            YamlScalarNode? key = null;
            foreach (var part in dottedKey.Split('.'))
            {
                if (node is not YamlMappingNode mapping)
                {
                    return null;
                }

                var entry = mapping.Children.FirstOrDefault(c => c.Key is YamlScalarNode s && string.Equals(s.Value, part, StringComparison.OrdinalIgnoreCase));
                key = entry.Key as YamlScalarNode;
                node = entry.Value;
            }

            return key?.Start.Line;
        }
        catch (YamlException)
        {
            return null;
        }
    }

    /// <summary>Durations are written <c>500ms</c>, <c>10s</c>, <c>5m</c>, <c>1h</c>, or a bare number of seconds.</summary>
    private sealed class DurationConverter : IYamlTypeConverter
    {
        public bool Accepts(Type type) => type == typeof(TimeSpan);

        public object ReadYaml(IParser parser, Type type, ObjectDeserializer rootDeserializer)
        {
            var scalar = parser.Consume<Scalar>();
            return TryParse(scalar.Value, out var value)
                ? value
                : throw new YamlException(scalar.Start, scalar.End, $"'{scalar.Value}' is not a duration (write 500ms, 10s, 5m or 1h).");
        }

        public void WriteYaml(IEmitter emitter, object? value, Type type, ObjectSerializer serializer) =>
            emitter.Emit(new Scalar(Format((TimeSpan)value!)));

        private static string Format(TimeSpan value) => $"{value.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}ms";
    }

    internal static bool TryParse(string text, out TimeSpan value)
    {
        var units = new (string Suffix, double Milliseconds)[] { ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000) };
        foreach (var (suffix, ms) in units)
        {
            if (text.EndsWith(suffix, StringComparison.Ordinal)
                && double.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var n)
                && n >= 0 && double.IsFinite(n))
            {
                value = TimeSpan.FromMilliseconds(n * ms);
                return true;
            }
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0 && double.IsFinite(seconds))
        {
            value = TimeSpan.FromSeconds(seconds);
            return true;
        }

        value = default;
        return false;
    }
}
