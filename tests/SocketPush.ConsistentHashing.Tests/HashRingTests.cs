using System.Text;

namespace SocketPush.ConsistentHashing.Tests;

public sealed class HashRingTests
{
    private static readonly string[] FiveNodes = ["node-1", "node-2", "node-3", "node-4", "node-5"];

    [Fact]
    public void Positions_are_the_high_bits_of_the_published_XxHash3_test_vectors()
    {
        // XXH3_64bits("") = 0x2D06800538D394C2 and XXH3_64bits("a") = 0xE6C632B61E964E1F in the
        // reference implementation: positions are the same in every process and language.
        Assert.Equal(0x2D068005u, HashRing.Position(ReadOnlySpan<byte>.Empty));
        Assert.Equal(0xE6C632B6u, HashRing.Position("a"u8));
        Assert.Equal(0xE6C632B6u, HashRing.Position("a"));
    }

    [Fact]
    public void The_layout_of_a_default_ring_does_not_change_between_versions()
    {
        // Nodes of different versions share one ring during a rolling upgrade, so a change to
        // placement, tie-breaking or the default number of points is a breaking change. These
        // owners were computed once and pinned on purpose.
        var ring = HashRing.Create(FiveNodes);
        string[] keys = ["u:1", "u:42", "c:news", "s:abcdef", "", "u:ü"];
        string[] owners = ["node-2", "node-1", "node-4", "node-5", "node-2", "node-1"];
        Assert.Equal(owners, keys.Select(key => ring.Owner(key)).ToArray());
        Assert.Equal(["node-1", "node-4", "node-5"], HashRingProperties.List(ring, HashRing.Position("u:42"), 3));
    }

    [Fact]
    public void Points_at_the_same_position_go_to_the_ordinally_smaller_id_in_any_order()
    {
        // Positions have 32 bits, so among 240,000 points a few coincide (the birthday bound):
        // that is how this test finds real ties instead of faking them.
        var options = new HashRingOptions { VirtualNodesPerNode = 3000 };
        var ids = Enumerable.Range(0, 80).Select(i => $"tie-{i}").ToArray();
        var ring = HashRing.Create(ids, options);
        var reversed = HashRing.Create(ids.Reverse(), options);
        var points = ring.Points.ToArray();
        var ties = new List<(uint Position, string First, string Second)>();
        for (int i = 1; i < points.Length; i++)
        {
            if (points[i] >> 32 == points[i - 1] >> 32 && (uint)points[i] != (uint)points[i - 1])
            {
                ties.Add(((uint)(points[i] >> 32), ring.Nodes[(int)(uint)points[i - 1]], ring.Nodes[(int)(uint)points[i]]));
            }
        }

        Assert.NotEmpty(ties);
        foreach (var (position, first, second) in ties)
        {
            Assert.True(string.CompareOrdinal(first, second) < 0);
            Assert.Equal(first, ring.OwnerAt(position));
            Assert.Equal(first, reversed.OwnerAt(position));
            var pair = HashRing.Create([second, first], options);
            Assert.Equal(first, pair.OwnerAt(position));
            Assert.Equal([first, second], HashRingProperties.List(pair, position, 2));
            Assert.Equal(second, HashRing.Create([second], options).OwnerAt(position));
        }

        var (tiePosition, tieFirst, tieSecond) = ties[0];
        Assert.Equal(tieSecond, HashRing.Create(ids.Where(id => id != tieFirst), options).OwnerAt(tiePosition));
    }

    public static TheoryData<RingMember[], string> BadMembers => new()
    {
        { [new("a"), new("b"), new("a")], "Ring member 'a' is listed more than once." },
        { [new("a", 1), new("a", 2)], "Ring member 'a' is listed more than once." },
        { [new("")], "A ring member has a null or empty id." },
        { [new(null!)], "A ring member has a null or empty id." },
        { [new("a", 0)], "The weight of ring member 'a' must be a finite number greater than zero, not 0." },
        { [new("a", -1)], "The weight of ring member 'a' must be a finite number greater than zero, not -1." },
        { [new("a", double.NaN)], "The weight of ring member 'a' must be a finite number greater than zero, not NaN." },
        { [new("a", double.PositiveInfinity)], "The weight of ring member 'a' must be a finite number greater than zero, not Infinity." },
        { [new("a\uD800b")], "contains a lone surrogate; ids must be well-formed UTF-16." },
        { [new("a", 5000), new("b", 5000)], "The ring would hold more than 16777216 points" },
    };

    [Theory]
    [MemberData(nameof(BadMembers))]
    public void Bad_members_are_refused_with_a_clear_message(RingMember[] members, string message)
    {
        var error = Assert.Throws<ArgumentException>(() => HashRing.Create(members));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void More_nodes_than_the_lookup_tables_can_name_are_refused()
    {
        var members = Enumerable.Range(0, HashRingOptionsValidator.MaxNodes + 1).Select(i => new RingMember($"n{i}"));

        var error = Assert.Throws<ArgumentException>(() => HashRing.Create(members, new HashRingOptions { VirtualNodesPerNode = 1 }));
        Assert.StartsWith("A ring holds at most 65536 nodes, not 65537.", error.Message, StringComparison.Ordinal);
        var largest = HashRing.Create(members.Take(HashRingOptionsValidator.MaxNodes), new HashRingOptions { VirtualNodesPerNode = 1 });
        Assert.Equal(HashRingOptionsValidator.MaxNodes, largest.NodeCount);

        // "n9999" sorts last, so its index is the largest there is: 65535.
        uint position = RingHash.VirtualNodePosition(RingHash.NodeSeed("n9999"u8), 0);
        Assert.Equal("n9999", largest.Nodes[^1]);
        Assert.Equal("n9999", largest.OwnerAt(position));
        Assert.Equal("n9999", HashRingProperties.List(largest, position, 2)[0]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(HashRingOptionsValidator.MaxVirtualNodesPerNode + 1)]
    public void Bad_options_are_refused_with_a_clear_message(int virtualNodes)
    {
        var options = new HashRingOptions { VirtualNodesPerNode = virtualNodes };
        Assert.Equal([$"VirtualNodesPerNode must be between 1 and 65536, not {virtualNodes}."], HashRingOptionsValidator.Validate(options));
        var error = Assert.Throws<ArgumentException>(() => HashRing.Create(["a"], options));
        Assert.StartsWith($"VirtualNodesPerNode must be between 1 and 65536, not {virtualNodes}.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Default_options_are_valid()
    {
        Assert.Empty(HashRingOptionsValidator.Validate(new HashRingOptions()));
        Assert.Equal(HashRingOptions.DefaultVirtualNodesPerNode, HashRing.Create(["a"]).VirtualNodesPerNode);
    }

    [Fact]
    public void An_empty_ring_has_no_owner_and_empty_lists()
    {
        var ring = HashRing.Create(Array.Empty<string>());

        Assert.True(ring.IsEmpty);
        Assert.Equal(0, ring.PointCount);
        var error = Assert.Throws<InvalidOperationException>(() => ring.Owner("u:1"));
        Assert.Equal("The ring has no nodes.", error.Message);
        Assert.Equal(0, ring.PreferenceList("u:1", new string[3]));
        Assert.Empty(HashRing.Difference(ring, HashRing.Create(Array.Empty<string>())).Changes);
    }

    [Fact]
    public void The_difference_from_an_empty_ring_covers_every_position_with_gains_only()
    {
        var ring = HashRing.Create(FiveNodes, new HashRingOptions { VirtualNodesPerNode = 10 });
        var grown = HashRing.Difference(HashRing.Create(Array.Empty<string>()), ring, 2);
        var emptied = HashRing.Difference(ring, HashRing.Create(Array.Empty<string>()), 2);

        Assert.Equal(1.0, grown.ChangedFraction, 1e-12);
        Assert.Equal(0u, grown.Changes[0].Range.Start);
        Assert.Equal(uint.MaxValue, grown.Changes[^1].Range.End);
        Assert.All(grown.Changes, change => Assert.Empty(change.Before));
        Assert.All(grown.Changes, change => Assert.Equal(change.After.ToArray(), change.Gained.ToArray()));
        Assert.All(grown.Changes, change => Assert.True(change.OwnerChanged));
        Assert.Equal(1.0, emptied.ChangedFraction, 1e-12);
        Assert.All(emptied.Changes, change => Assert.Equal(change.Before.ToArray(), change.Lost.ToArray()));
    }

    [Fact]
    public void A_ring_of_one_node_owns_everything()
    {
        var ring = HashRing.Create(["only"], new HashRingOptions { VirtualNodesPerNode = 1 });

        Assert.Equal("only", ring.OwnerAt(0));
        Assert.Equal("only", ring.OwnerAt(uint.MaxValue));
        Assert.Equal(["only"], HashRingProperties.List(ring, 12345, 3));
        Assert.Equal([1.0], ring.OwnedFractions());
    }

    [Fact]
    public void Long_ids_and_keys_take_the_pooled_path_and_hash_like_short_ones()
    {
        string longId = new('n', 2000);
        var ring = HashRing.Create([longId, "short"], new HashRingOptions { VirtualNodesPerNode = 50 });
        var model = new ClockwiseModel([longId, "short"], 50);
        string longKey = string.Concat(Enumerable.Repeat("ключ-", 400));

        Assert.Equal(HashRing.Position(Encoding.UTF8.GetBytes(longKey)), HashRing.Position(longKey));
        Assert.Equal(model.PreferenceList(HashRing.Position(longKey), 2), HashRingProperties.List(ring, HashRing.Position(longKey), 2));
    }

    [Fact]
    public void Lookups_allocate_nothing()
    {
        var ring = HashRing.Create(Enumerable.Range(1, 100).Select(i => $"node-{i}"));
        byte[][] byteKeys = Enumerable.Range(0, 64).Select(i => Encoding.UTF8.GetBytes($"u:{i}")).ToArray();
        string[] textKeys = Enumerable.Range(0, 64).Select(i => $"c:{i}").Append(new string('x', 1000)).ToArray();
        var three = new string[3];
        var twenty = new string[20];
        int written = 0;

        void Lookups()
        {
            foreach (var key in byteKeys)
            {
                written += ring.Owner(key).Length + ring.PreferenceList(key, three) + ring.PreferenceList(key, twenty);
            }

            foreach (var key in textKeys)
            {
                written += ring.Owner(key).Length + ring.PreferenceList(key, three) + (int)(HashRing.Position(key) & 1);
            }
        }

        Lookups();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Lookups();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.True(written > 0);
    }

    [Fact]
    public void Key_ranges_include_both_ends()
    {
        var range = new KeyRange(10, 20);

        Assert.Equal(11ul, range.Length);
        Assert.True(range.Contains(10));
        Assert.True(range.Contains(20));
        Assert.False(range.Contains(9));
        Assert.False(range.Contains(21));
        Assert.Equal(1.0, new KeyRange(0, uint.MaxValue).Fraction);
    }

    [Fact]
    public void Rings_describe_themselves()
    {
        var ring = HashRing.Create([new RingMember("b", 2), new RingMember("a")], new HashRingOptions { VirtualNodesPerNode = 10 });

        Assert.Equal(["a", "b"], ring.Nodes.ToArray());
        Assert.Equal([new RingMember("a"), new RingMember("b", 2)], ring.Members.ToArray());
        Assert.Equal(30, ring.PointCount);
        Assert.Equal("HashRing(2 nodes, 30 points)", ring.ToString());
        Assert.NotEqual(ring, HashRing.Create(["a", "b"], new HashRingOptions { VirtualNodesPerNode = 10 }));
    }
}
