using System.Text;
using SocketPush.Node.Cluster.ConfigLayer;
using SocketPush.Node.Owner.Records;

namespace SocketPush.Node.Tests;

/// <summary>The cluster's config layer as nodes merge, exchange and keep it (<see cref="StampedLayer"/>).</summary>
public sealed class StampedLayerTests
{
    private static Stamp At(long ms, string node) => new(ms << 16, node);

    private static StampedLayer Layer(params (string Key, string? Json, Stamp Stamp)[] writes) =>
        writes.Aggregate(StampedLayer.Empty, (layer, w) => layer.Set(new Dictionary<string, string?> { [w.Key] = w.Json }, w.Stamp));

    [Fact]
    public void Merging_keeps_each_key_s_latest_write_in_any_order_and_twice_changes_nothing()
    {
        var a = Layer(("options.maxConnections", "10", At(1, "n1")), ("logging.level", "\"Debug\"", At(5, "n1")));
        var b = Layer(("options.maxConnections", "20", At(2, "n2")), ("cluster.movedPerSecond", "5", At(1, "n2")));
        var c = Layer(("logging.level", null, At(6, "n3")));

        var abc = a.Merge(b).Merge(c);
        var cba = c.Merge(b.Merge(a));

        Assert.Equal(abc.Version, cba.Version);
        Assert.Equal(abc.Version, abc.Merge(a).Merge(b).Merge(c).Version);
        Assert.Same(abc, abc.Merge(b));
        Assert.Equal("20", abc.Entries["options.maxConnections"].Value);
        Assert.Equal("5", abc.Entries["cluster.movedPerSecond"].Value);
        // Taken out later than it was set: gone from the values, kept as a tombstone against the older write.
        Assert.Null(abc.Entries["logging.level"].Value);
        Assert.False(abc.ToLayer().Values.ContainsKey("logging.level"));
        Assert.Equal(["cluster.movedPerSecond", "options.maxConnections"], abc.ToLayer().Values.Keys);
        Assert.NotEqual(a.Version, abc.Version);
        Assert.Equal("none", StampedLayer.Empty.Version);
        Assert.StartsWith("19700101T000000.006Z-", abc.Version, StringComparison.Ordinal);
    }

    [Fact]
    public void The_kept_file_reads_back_as_the_same_layer_with_the_same_version()
    {
        var layer = Layer(
            ("history.channels", """[{"match":"news/*","size":10,"age":"1m"}]""", At(1_765_000_000_000, "n1")),
            ("options.allowedOrigins", """["https://é.example"]""", At(1_765_000_000_001, "n2")),
            ("options.maxConnections", null, At(1_765_000_000_002, "n1")));

        var file = layer.ToFile();
        var back = StampedLayer.FromFile(file);

        Assert.Equal(layer.Version, back.Version);
        Assert.Equal(layer.Entries, back.Entries);
        Assert.Contains("\"removed\": true", Encoding.UTF8.GetString(file), StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => StampedLayer.FromFile("{\"format\": 1}"u8.ToArray()));
        Assert.Throws<FormatException>(() => StampedLayer.FromFile("not json"u8.ToArray()));
        Assert.Throws<FormatException>(() => StampedLayer.FromFile("{\"format\": 2, \"entries\": []}"u8.ToArray()));
    }
}
