using System.Text;
using FsCheck;
using FsCheck.Fluent;

namespace SocketPush.ConsistentHashing.Tests;

/// <summary>Members and keys that make rings collide and misbehave if they can.</summary>
public static class RingGenerators
{
    // Ids that are prefixes of one another, differ only in case, spacing, digits or Unicode
    // normalization, or are not ASCII, so that ordinal order and hashing both get near misses.
    private static readonly string[] ConfusableIds =
    [
        "a", "b", "A", "aa", "ab", "a ", " a", "node-1", "node-10", "node-1 ", "node-01", "Node-1",
        "node-2", "é", "e\u0301", "節點", "😀", "0", "00", "-", "node-1\0",
    ];

    public static Gen<string> NodeId { get; } = Gen.Frequency(
        (4, Gen.Elements(ConfusableIds)),
        (3, Gen.Choose(0, 40).Select(i => $"node-{i}")),
        (1, Gen.Choose(1, 24).SelectMany(length => Gen.ArrayOf(Gen.Choose(0x20, 0x2FFF).Select(c => (char)c), length)).Select(chars => new string(chars))));

    /// <summary>Between <paramref name="min"/> and <paramref name="max"/> distinct ids, in generated order.</summary>
    public static Gen<string[]> NodeIds(int min, int max) =>
        Gen.Choose(min, max)
            .SelectMany(count => Gen.ArrayOf(NodeId, count * 2))
            .Select(ids => ids.Distinct(StringComparer.Ordinal).Take(max).ToArray())
            .Where(ids => ids.Length >= min);

    /// <summary>Few points per node, so that arcs are long and neighbours often the same node.</summary>
    public static Gen<int> VirtualNodes { get; } = Gen.Elements(1, 2, 3, 8, 40);

    /// <summary>Empty, short, medium and huge keys; huge ones are filled from a generated seed to stay cheap.</summary>
    public static Gen<byte[]> Key { get; } = Gen.Frequency(
        (1, Gen.Constant(Array.Empty<byte>())),
        (12, Gen.Choose(1, 16).SelectMany(length => Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), length))),
        (4, Gen.Choose(17, 400).Select(length => Filled(length, length))),
        (1, Gen.Zip(Gen.Choose(20_000, 70_000), Gen.Choose(0, int.MaxValue)).Select(t => Filled(t.Item1, t.Item2))));

    public static Gen<byte[][]> Keys { get; } = Gen.ArrayOf(Key, 32);

    /// <summary>Text keys, some long enough to leave the stack buffer, some not valid UTF-16.</summary>
    public static Gen<string> TextKey { get; } = Gen.Frequency(
        (4, Gen.Choose(0, 20).SelectMany(length => Gen.ArrayOf(Gen.Choose(0, 0xFFFF).Select(c => (char)c), length)).Select(c => new string(c))),
        (2, Gen.Choose(0, 1_000_000).Select(i => $"u:{i}")),
        (1, Gen.Zip(Gen.Choose(80, 3000), Gen.Elements('x', 'é', '節', '\uD83D')).Select(t => new string(t.Item2, t.Item1))));

    public static Arbitrary<RingCase> RingCase() =>
        (from ids in NodeIds(1, 12)
         from shuffled in Gen.Shuffle(ids)
         from vnodes in VirtualNodes
         from keys in Keys
         select new RingCase(ids, shuffled, vnodes, keys)).ToArbitrary();

    public static Arbitrary<ChangeCase> ChangeCase() =>
        (from ids in NodeIds(2, 12)
         from vnodes in VirtualNodes
         from replicas in Gen.Choose(1, 4)
         from keys in Keys
         select new ChangeCase(ids[1..], ids[0], vnodes, replicas, keys)).ToArbitrary();

    public static Arbitrary<TwoRingsCase> TwoRingsCase() =>
        (from before in NodeIds(0, 8)
         from after in NodeIds(0, 8)
         from vnodes in VirtualNodes
         from replicas in Gen.Choose(1, 4)
         from keys in Keys
         select new TwoRingsCase(before, after, vnodes, replicas, keys)).ToArbitrary();

    public static Arbitrary<WeightedCase> WeightedCase() =>
        (from count in Gen.Choose(2, 6)
         from weights in Gen.ArrayOf(Gen.Choose(1, 4), count)
         from salt in Gen.Choose(0, int.MaxValue)
         select new WeightedCase(weights.Select((w, i) => new RingMember($"w{salt}-{i}", w)).ToArray())).ToArbitrary();

    public static Arbitrary<string> Text() => TextKey.ToArbitrary();

    private static byte[] Filled(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    internal static string Show(IEnumerable<string> ids) =>
        "[" + string.Join(", ", ids.Select(id => "\"" + Escape(id) + "\"")) + "]";

    private static string Escape(string id)
    {
        var text = new StringBuilder();
        foreach (char c in id)
        {
            text.Append(c is >= ' ' and < '\u007f' ? c.ToString() : $"\\u{(int)c:X4}");
        }

        return text.ToString();
    }
}

/// <summary>A set of members given in two different orders.</summary>
public sealed record RingCase(string[] Ids, string[] Shuffled, int VirtualNodes, byte[][] Keys)
{
    public override string ToString() => $"ids {RingGenerators.Show(Ids)}, shuffled {RingGenerators.Show(Shuffled)}, vnodes {VirtualNodes}, {Keys.Length} keys";
}

/// <summary><see cref="Extra"/> joins <see cref="Ids"/> (or, read backwards, leaves).</summary>
public sealed record ChangeCase(string[] Ids, string Extra, int VirtualNodes, int Replicas, byte[][] Keys)
{
    public override string ToString() => $"ids {RingGenerators.Show(Ids)}, extra {RingGenerators.Show([Extra])}, vnodes {VirtualNodes}, replicas {Replicas}";
}

/// <summary>Two unrelated member sets, either possibly empty.</summary>
public sealed record TwoRingsCase(string[] Before, string[] After, int VirtualNodes, int Replicas, byte[][] Keys)
{
    public override string ToString() => $"before {RingGenerators.Show(Before)}, after {RingGenerators.Show(After)}, vnodes {VirtualNodes}, replicas {Replicas}";
}

/// <summary>Members with integer weights 1 to 4.</summary>
public sealed record WeightedCase(RingMember[] Members)
{
    public override string ToString() => string.Join(", ", Members.Select(m => $"{m.Id}×{m.Weight}"));
}
