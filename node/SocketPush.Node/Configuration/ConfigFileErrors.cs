using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace SocketPush.Node.Configuration;

/// <summary>
/// Says what is wrong with a config file in the file's own terms: the line, the dotted key and what the key takes.
/// YamlDotNet's messages name .NET types and, for some syntax errors, the start of the file instead of the place.
/// </summary>
internal static partial class ConfigFileErrors
{
    /// <summary>Reads the file's YAML structure (no config yet), or throws a <see cref="ConfigException"/> naming the line.</summary>
    public static YamlNode? ReadSyntax(string yaml, string sourceName)
    {
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(yaml));
            return stream.Documents.Count > 0 ? stream.Documents[0].RootNode : null;
        }
        catch (YamlException e)
        {
            throw new ConfigException(SyntaxProblem(Innermost(e), yaml.Split('\n'), sourceName));
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner fails this way, without a place, on a {section} left open before a plain key
            // (`a:` / `{x` / `b:`): the place is the bracket.
            var lines = yaml.Split('\n');
            var line = OpenedOn(lines, lines.Length) ?? lines.Length;
            throw new ConfigException(Located(lines, line, 1, UnclosedBracket, sourceName));
        }
    }

    private const string UnclosedBracket = "a [list] or {section} opened on this line is not closed where it should be.";

    /// <summary>
    /// A syntax error at the line a reader would look at: YamlDotNet reports a tab at the start of the mapping it
    /// is in, and a list or section left open at the end of the file.
    /// </summary>
    private static string SyntaxProblem(YamlException e, string[] lines, string sourceName)
    {
        var line = (int)e.Start.Line;
        string reason;
        if (Array.FindIndex(lines, l => TabIndent().IsMatch(l)) is var tab and >= 0)
        {
            line = tab + 1;
            reason = "a tab indents this line; YAML indents with spaces only.";
        }
        else if (e.Message.Contains("flow sequence", StringComparison.Ordinal) || e.Message.Contains("flow mapping", StringComparison.Ordinal))
        {
            line = OpenedOn(lines, line) ?? line;
            reason = UnclosedBracket;
        }
        else
        {
            reason = e.Message;
        }

        return Located(lines, line, e.Start.Column, reason, sourceName);
    }

    /// <summary>A problem at a line: named by the key that line is in, or by its line and column outside any key.</summary>
    private static string Located(string[] lines, int line, long column, string reason, string sourceName) =>
        KeyPathAt(lines, line - 1) is { } key
            ? $"{key} ({sourceName} line {line}): {reason}"
            : $"{sourceName} line {line}, column {column}: {reason}";

    /// <summary>The line (1-based) of the first bracket still open at <paramref name="line"/>, if any.</summary>
    private static int? OpenedOn(string[] lines, int line)
    {
        var depth = 0;
        int? opened = null;
        for (var i = 0; i < Math.Min(line, lines.Length); i++)
        {
            foreach (var c in lines[i].Split('#')[0])
            {
                if (c is '[' or '{' && depth++ == 0)
                {
                    opened = i + 1;
                }
                else if (c is ']' or '}' && depth > 0)
                {
                    depth--;
                }
            }
        }

        return depth > 0 ? opened : null;
    }

    /// <summary>The dotted key of a <c>key:</c> line, from the keys less indented above it; null for a line without a key.</summary>
    private static string? KeyPathAt(string[] lines, int index)
    {
        if (index < 0 || index >= lines.Length || KeyOnLine().Match(lines[index]) is not { Success: true } match)
        {
            return null;
        }

        var path = match.Groups["key"].Value;
        var indent = match.Groups["indent"].Length;
        for (var i = index - 1; i >= 0 && indent > 0; i--)
        {
            if (KeyOnLine().Match(lines[i]) is { Success: true } parent && parent.Groups["indent"].Length < indent)
            {
                path = parent.Groups["key"].Value + "." + path;
                indent = parent.Groups["indent"].Length;
            }
        }

        return path;
    }

    /// <summary>A value the config cannot take: its dotted key, its line, and what the key takes instead.</summary>
    public static string Describe(YamlException e, YamlNode? root, string sourceName)
    {
        var at = Innermost(e).Start;
        var message = Innermost(e).InnerException?.Message ?? Innermost(e).Message;
        // A block section starts where its first key does: an unknown key is that key, a wrong value the section.
        var keyProblem = message.Contains("uplicate key", StringComparison.Ordinal) || message.Contains("not found on type", StringComparison.Ordinal);
        var places = new List<(string Key, YamlNode Node, bool IsKey)>();
        Find(root, at, "", places);
        if ((keyProblem ? places.LastOrDefault(p => p.IsKey) : places.FirstOrDefault(p => !p.IsKey)) is not { Key: not null } place)
        {
            return $"{sourceName} line {at.Line}, column {at.Column}: this value cannot be read here.";
        }

        var (key, node, isKey) = place;
        var where = $"{key} ({sourceName} line {at.Line})";
        if (isKey)
        {
            var name = key[(key.LastIndexOf('.') + 1)..];
            return message.Contains("uplicate key", StringComparison.Ordinal)
                ? $"{where}: the key '{name}' is given twice; which one was meant?"
                : $"{where}: unknown key '{name}' (see config.yml in the repository for every key).";
        }

        var found = node switch
        {
            YamlScalarNode scalar => $"'{scalar.Value}'",
            YamlSequenceNode => "a list",
            _ => "a section of keys",
        };
        return TypeAt(key) is { } type
            ? $"{where}: expected {Expected(type)}, found {found}."
            : $"{where}: {found} cannot be read here.";
    }

    private static YamlException Innermost(YamlException e)
    {
        while (e.InnerException is YamlException inner)
        {
            e = inner;
        }

        return e;
    }

    /// <summary>Every key (or list item) whose key or value starts at <paramref name="at"/>, as dotted paths, outermost first.</summary>
    private static void Find(YamlNode? node, Mark at, string prefix, List<(string Key, YamlNode Node, bool IsKey)> places)
    {
        IEnumerable<(string Key, YamlNode? KeyNode, YamlNode Value)> children = node switch
        {
            YamlMappingNode mapping => mapping.Children.Select(c => (prefix + ((c.Key as YamlScalarNode)?.Value ?? "?"), (YamlNode?)c.Key, c.Value)),
            YamlSequenceNode sequence => sequence.Children.Select((item, i) => (string.Create(CultureInfo.InvariantCulture, $"{prefix.TrimEnd('.')}[{i}]"), (YamlNode?)null, item)),
            _ => [],
        };
        foreach (var (key, keyNode, value) in children)
        {
            if (keyNode is not null && Same(keyNode.Start, at))
            {
                places.Add((key, keyNode, true));
            }

            if (Same(value.Start, at))
            {
                places.Add((key, value, false));
            }

            Find(value, at, key + ".", places);
        }
    }

    private static bool Same(Mark a, Mark b) => a.Line == b.Line && a.Column == b.Column;

    /// <summary>The config type a dotted path (<c>history.channels[0].size</c>) leads to, or null for a key there is none of.</summary>
    private static Type? TypeAt(string key)
    {
        Type? type = typeof(NodeConfig);
        foreach (var part in key.Split('.'))
        {
            var bracket = part.IndexOf('[', StringComparison.Ordinal);
            var name = bracket < 0 ? part : part[..bracket];
            type = type?.GetProperties().FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))?.PropertyType;
            if (bracket >= 0)
            {
                type = type is { IsGenericType: true } list ? list.GetGenericArguments()[0] : null;
            }
        }

        return type;
    }

    private static string Expected(Type type) =>
        type == typeof(int) ? "a whole number (at most 2147483647)"
        : type == typeof(long) ? "a whole number"
        : type == typeof(bool) ? "true or false"
        : type == typeof(double) ? "a number"
        : type == typeof(string) ? "a single value"
        : type == typeof(TimeSpan) ? "a duration (write 500ms, 10s, 5m or 1h)"
        : type.IsGenericType ? "a list ([a, b], or one '- item' per line)"
        : "a section of keys";

    [GeneratedRegex(@"^(?<indent>[ \t-]*)(?<key>[A-Za-z_][A-Za-z0-9_]*)\s*:")]
    private static partial Regex KeyOnLine();

    [GeneratedRegex(@"^ *\t[ \t]*[^#\s]")]
    private static partial Regex TabIndent();
}
