using System.Collections.Immutable;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;
using MemoryPack;
using SocketPush.Node.Configuration;
using SocketPush.Node.Owner.Records;

namespace SocketPush.Node.Cluster.ConfigLayer;

/// <summary>
/// The cluster's config layer as the nodes keep and exchange it: per key a last-writer-wins register (the JSON value,
/// or null for a key taken out of the layer) stamped with the hybrid clock the records use. Merging keeps each key's
/// latest write, so it is commutative, associative and idempotent: nodes that exchanged what they have hold the same
/// layer whatever the order, and two sets made at once on two nodes both survive when they set different keys (the
/// later one wins a key both set). A removed key stays as a tombstone, so an older copy cannot bring it back.
/// </summary>
[MemoryPackable]
internal sealed partial record StampedLayer
{
    public static readonly StampedLayer Empty = new(ImmutableSortedDictionary.Create<string, Register>(StringComparer.Ordinal));

    public StampedLayer(ImmutableSortedDictionary<string, Register> entries)
    {
        Entries = entries;
        Version = VersionOf(entries);
    }

    /// <summary>Rebuilds a layer from the wire with the ordinal comparer; a null entry (a corrupt peer) is refused.</summary>
    [MemoryPackConstructor]
    private StampedLayer(KeyValuePair<string, Register>[] wire)
        : this(wire.All(e => e.Key is not null && e.Value is not null)
            ? wire.ToImmutableSortedDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal)
            : throw new ArgumentException("a config layer entry without its key or value", nameof(wire)))
    {
    }

    [MemoryPackIgnore]
    public ImmutableSortedDictionary<string, Register> Entries { get; }

    /// <summary>The entries as they travel, in key order: the same layer always has the same bytes.</summary>
    [MemoryPackInclude]
    private KeyValuePair<string, Register>[] Wire => [.. Entries];

    /// <summary>
    /// When the latest write was made (UTC) and a hash of the whole layer, e.g. <c>20261207T195049.123Z-3f9a1c2b</c>;
    /// <c>none</c> for a node that never had a layer. Two nodes with the same version hold the same layer, which is
    /// what gossip compares (a node whose peer shows another version exchanges layers with it).
    /// </summary>
    [MemoryPackIgnore]
    public string Version { get; }

    /// <summary>The latest stamp of the layer (<see cref="Stamp.Zero"/> when empty).</summary>
    [MemoryPackIgnore]
    public Stamp Latest => LatestOf(Entries);

    /// <summary>The layer with <paramref name="changes"/> (key → JSON value, null to take the key out) written at <paramref name="stamp"/>.</summary>
    public StampedLayer Set(IReadOnlyDictionary<string, string?> changes, Stamp stamp) =>
        changes.Count == 0 ? this : new(Entries.SetItems(changes.Select(c => KeyValuePair.Create(c.Key, new Register(c.Value, stamp)))));

    /// <summary>Each key's latest write of the two; this same layer when <paramref name="other"/> adds nothing.</summary>
    public StampedLayer Merge(StampedLayer other)
    {
        var merged = Entries;
        foreach (var (key, theirs) in other.Entries)
        {
            if (!merged.TryGetValue(key, out var ours) || theirs.Stamp.CompareTo(ours.Stamp) > 0)
            {
                merged = merged.SetItem(key, theirs);
            }
        }

        return merged == Entries ? this : new(merged);
    }

    /// <summary>The values in force (the keys set, not the removed ones), for the config.</summary>
    public ClusterLayer ToLayer() =>
        new(Entries.Where(e => e.Value.Value is not null).ToImmutableSortedDictionary(e => e.Key, e => e.Value.Value!, StringComparer.Ordinal), Version);

    /// <summary>A stamp's wall-clock part.</summary>
    public static DateTimeOffset TimeOf(Stamp stamp) => DateTimeOffset.FromUnixTimeMilliseconds(stamp.Time >> 16);

    /// <summary>
    /// The file a node keeps the layer in, JSON for people to read: each value as it was given, with its stamp.
    /// Values are written as they are held, so reading them back gives the same bytes and the same version.
    /// </summary>
    public byte[] ToFile()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteNumber("format", 1);
            json.WriteString("version", Version);
            json.WriteStartArray("entries");
            foreach (var (key, register) in Entries)
            {
                json.WriteStartObject();
                json.WriteString("key", key);
                json.WritePropertyName("value");
                if (register.Value is { } value)
                {
                    json.WriteRawValue(value, skipInputValidation: false);
                }
                else
                {
                    json.WriteNullValue();
                }

                json.WriteBoolean("removed", register.Value is null);
                json.WriteString("setAt", TimeOf(register.Stamp).ToString("O", CultureInfo.InvariantCulture));
                json.WriteNumber("stamp", register.Stamp.Time);
                json.WriteString("node", register.Stamp.Node);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>Reads what <see cref="ToFile"/> wrote.</summary>
    /// <exception cref="FormatException">It is not such a file; the message says what is wrong.</exception>
    public static StampedLayer FromFile(ReadOnlyMemory<byte> file)
    {
        try
        {
            using var document = JsonDocument.Parse(file);
            var root = document.RootElement;
            if (root.GetProperty("format").GetInt32() != 1)
            {
                throw new FormatException($"format {root.GetProperty("format").GetRawText()} is not one this node reads (1)");
            }

            var entries = ImmutableSortedDictionary.CreateBuilder<string, Register>(StringComparer.Ordinal);
            foreach (var entry in root.GetProperty("entries").EnumerateArray())
            {
                var value = entry.GetProperty("removed").GetBoolean() ? null : entry.GetProperty("value").GetRawText();
                var stamp = new Stamp(entry.GetProperty("stamp").GetInt64(), entry.GetProperty("node").GetString() ?? "");
                entries.Add(entry.GetProperty("key").GetString() ?? throw new FormatException("an entry without its key"), new Register(value, stamp));
            }

            return new StampedLayer(entries.ToImmutable());
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException)
        {
            throw new FormatException(e.Message, e);
        }
    }

    private static string VersionOf(ImmutableSortedDictionary<string, Register> entries)
    {
        if (entries.IsEmpty)
        {
            return "none";
        }

        var hash = new XxHash64();
        foreach (var (key, register) in entries)
        {
            hash.Append(Encoding.UTF8.GetBytes($"{key}\n{register.Value ?? "\u0000"}\n{register.Stamp.Time}\n{register.Stamp.Node}\n"));
        }

        return string.Create(CultureInfo.InvariantCulture, $"{TimeOf(LatestOf(entries)):yyyyMMdd'T'HHmmss.fff'Z'}-{hash.GetCurrentHashAsUInt64() & 0xFFFF_FFFF:x8}");
    }

    private static Stamp LatestOf(ImmutableSortedDictionary<string, Register> entries) => entries.Values.Select(r => r.Stamp).Aggregate(Stamp.Zero, Stamp.Max);
}
