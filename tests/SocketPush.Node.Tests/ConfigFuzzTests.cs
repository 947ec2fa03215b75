using System.Text;
using System.Text.RegularExpressions;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Tests;

/// <summary>
/// Broken config files generated from the repository's config.yml, one mutation each, loaded as a node loads its file:
/// wrong types, values out of range, bad durations, unknown and doubled keys, tabs, truncation, garbage bytes. The
/// loader never fails with anything but a <see cref="ConfigException"/> whose message names the line, and every
/// mutation that makes the file wrong is refused.
/// </summary>
[Collection(FuzzCollection.Name)]
[Trait("Category", "Fuzz")]
public sealed partial class ConfigFuzzTests
{
    private static readonly string[] Lines = File.ReadAllLines(Repository.Path("config.yml"));
    private static readonly ConfigSource Source = new("/etc/socketpush/config.yml", new Dictionary<string, string>());

    /// <summary>A line <c>key: value</c> (the value may be empty: a section), with its indentation and comment.</summary>
    [GeneratedRegex(@"^(?<indent> *)(?<key>[A-Za-z]+):(?: +(?<value>[^#\s][^#]*?))?\s*(?<comment>#.*)?$")]
    private static partial Regex KeyLine();

    [GeneratedRegex(@"line \d+")]
    private static partial Regex LineNumber();

    [Fact]
    public void Every_broken_config_is_refused_with_a_message_naming_the_line_and_nothing_else_escapes()
    {
        var refused = 0;
        Fuzz.Run("config files", 800, random =>
        {
            var (yaml, what, mustRefuse, named) = Mutate(random);
            var thrown = Record.Exception(() => ConfigLoader.Load(Source, yaml));
            if (thrown is null)
            {
                Assert.False(mustRefuse, $"{what}: the file was accepted");
                return;
            }

            Assert.True(thrown is ConfigException, $"{what}: the loader threw {thrown.GetType().Name}: {thrown.Message}");
            Assert.True(LineNumber().IsMatch(thrown.Message), $"{what}: the message names no line: {thrown.Message}");
            foreach (var name in named)
            {
                Assert.True(thrown.Message.Contains(name, StringComparison.Ordinal), $"{what}: the message does not name {name}: {thrown.Message}");
            }

            Assert.DoesNotContain("System.", thrown.Message, StringComparison.Ordinal); // the user's words, not .NET's types
            refused++;
        });

        Assert.True(refused > 0);
    }

    [Fact]
    public void A_key_given_twice_is_refused_with_the_line_of_the_second()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(Source, "options:\n  maxMessageBytes: 1000\n  maxMessageBytes: 2000\n"));

        Assert.Contains("line 3", e.Message, StringComparison.Ordinal);
        Assert.Contains("maxMessageBytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_or_section_written_without_a_value_keeps_its_defaults()
    {
        // Each of these read as null and failed with a NullReferenceException.
        var config = ConfigLoader.Load(Source, "node:\n  advertisedClientUrl:\nadmin:\n  apiKey:\ncluster:\n  seeds:\n  swim:\noptions:\nlogging:\n");

        Assert.Equal("", config.Node.AdvertisedClientUrl);
        Assert.Equal("", config.Admin.ApiKey);
        Assert.Empty(config.Cluster.Seeds);
        Assert.Equal(new NodeConfig().Cluster.Swim.ProbeInterval, config.Cluster.Swim.ProbeInterval);
        Assert.Equal(new NodeConfig().Options.MaxMessageBytes, config.Options.MaxMessageBytes);
        Assert.Equal("Information", config.Logging.Level);
    }

    [Fact]
    public void An_empty_item_in_a_list_is_refused_with_its_line()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(Source, "cluster:\n  seeds: [\"a:1\", ~]\n"));

        Assert.Contains("line 2", e.Message, StringComparison.Ordinal);
        Assert.Contains("cluster.seeds has an empty item", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_default_made_wrong_by_another_key_names_the_line_of_its_section()
    {
        // writeQuorum keeps its default, 2, which is above the replicas the file sets.
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(Source, "# comment\ncluster:\n  replicas: 1\n"));

        Assert.StartsWith($"cluster.writeQuorum ({Source.Path} line 2)", e.Message, StringComparison.Ordinal);
    }

    /// <summary>The file with one mutation, what it was, whether it certainly makes the file wrong, and what its refusal must name.</summary>
    private static (string Yaml, string What, bool MustRefuse, string[] Named) Mutate(Random random)
    {
        var lines = Lines.ToList();
        var keyed = lines.Select((line, i) => (Match: KeyLine().Match(line), Index: i)).Where(x => x.Match.Success).ToList();
        var (match, index) = keyed[random.Next(keyed.Count)];
        var indent = match.Groups["indent"].Value;
        var key = match.Groups["key"].Value;
        var value = match.Groups["value"].Success ? match.Groups["value"].Value : null;
        string Replace(string newValue) => $"{indent}{key}: {newValue}";
        var kind = random.Next(10);
        var what = $"line {index + 1} ({key}), mutation {kind}";
        switch (kind)
        {
            case 0 when value is not null:
                // A value of the wrong type for the key.
                var wrong = IsNumber(value) ? new[] { "abc", "[1]", "{a: 1}", "1.5", "0x1G", "true" }
                    : IsDuration(value) ? new[] { "abc", "10x", "-5s", "[1]", "{a: 1}", "1e400s", "NaNs", "5 parsecs" }
                    : value.StartsWith('[') ? new[] { "{a: 1}", "[[1]]" }
                    : new[] { "[a, b]", "{a: 1}" };
                var bad = wrong[random.Next(wrong.Length)];
                lines[index] = Replace(bad);
                return (Text(lines), $"{what}: {key}: {bad}", true, [$"line {index + 1})", $".{key}"]);
            case 1 when value is not null && IsNumber(value):
                // history.maxBytes is a long: only a negative size is out of its range.
                var outOfRange = key == "maxBytes" ? "-1" : new[] { "-1", "99999999999", "2147483648", "-2147483649" }[random.Next(4)];
                lines[index] = Replace(outOfRange);
                return (Text(lines), $"{what}: {key}: {outOfRange}", true, []);
            case 2:
                lines.Insert(index + 1, $"{indent}bogus{key}: 1");
                return (Text(lines), $"{what}: an unknown key", true, []);
            case 3 when indent.Length > 0:
                lines[index] = "\t" + lines[index].TrimStart(' ');
                return (Text(lines), $"{what}: a tab for indentation", true, [$"line {index + 1}"]);
            case 4:
                lines.Insert(index + 1, lines[index]);
                return (Text(lines), $"{what}: the line twice", true, []);
            case 5:
                var text = Text(lines);
                var cut = random.Next(text.Length);
                return (text[..cut], $"cut after {cut} characters", false, []);
            case 6:
                var garbage = new byte[1 + random.Next(16)];
                random.NextBytes(garbage);
                var whole = Text(lines);
                var at = random.Next(whole.Length);
                return (whole[..at] + Encoding.Latin1.GetString(garbage) + whole[at..], $"{garbage.Length} garbage bytes at {at}", false, []);
            case 7:
                lines[index] = (random.Next(2) == 0 ? " " : "") + (indent.Length > 0 && random.Next(2) == 0 ? lines[index][1..] : lines[index]);
                return (Text(lines), $"{what}: indentation changed by one", false, []);
            case 8 when value is not null:
                lines[index] = Replace(value + (random.Next(2) == 0 ? ": x" : " - y"));
                return (Text(lines), $"{what}: a value continued", false, []);
            default:
                var noise = new string(Enumerable.Range(0, 1 + random.Next(20)).Select(_ => (char)random.Next(1, 128)).ToArray());
                lines.Insert(index, noise);
                return (Text(lines), $"{what}: a line of ASCII noise {noise}", false, []);
        }
    }

    private static bool IsNumber(string value) => value.All(char.IsAsciiDigit);

    private static bool IsDuration(string value) => ConfigLoader.TryParse(value, out _) && !IsNumber(value);

    private static string Text(List<string> lines) => string.Join("\n", lines) + "\n";
}
