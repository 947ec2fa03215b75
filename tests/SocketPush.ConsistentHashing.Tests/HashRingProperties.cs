using System.Text;
using FsCheck.Xunit;

namespace SocketPush.ConsistentHashing.Tests;

[Properties(Arbitrary = [typeof(RingGenerators)], MaxTest = 100)]
public sealed class HashRingProperties
{
    [Property]
    public void Same_members_in_any_insertion_order_give_the_same_ring(RingCase c)
    {
        var options = new HashRingOptions { VirtualNodesPerNode = c.VirtualNodes };
        var ring = HashRing.Create(c.Ids, options);
        var other = HashRing.Create(c.Shuffled, options);

        Assert.Equal(ring, other);
        Assert.Equal(ring.GetHashCode(), other.GetHashCode());
        Assert.True(ring.Points.SequenceEqual(other.Points), "the points differ");
        foreach (var key in c.Keys)
        {
            Assert.Equal(ring.Owner(key), other.Owner(key));
        }

        Assert.Empty(HashRing.Difference(ring, other, 3).Changes);
    }

    [Property]
    public void Preference_lists_hold_min_n_distinct_members_owner_first(RingCase c)
    {
        var ring = HashRing.Create(c.Ids, new HashRingOptions { VirtualNodesPerNode = c.VirtualNodes });
        var buffer = new string[c.Ids.Length + 2];
        foreach (var key in c.Keys)
        {
            var full = List(ring, HashRing.Position(key), c.Ids.Length);
            for (int n = 0; n <= buffer.Length; n++)
            {
                int written = ring.PreferenceList(key, buffer.AsSpan(0, n));
                var list = buffer[..written];

                Assert.Equal(Math.Min(n, c.Ids.Length), written);
                Assert.Equal(written, list.Distinct(StringComparer.Ordinal).Count());
                Assert.All(list, id => Assert.Contains(id, c.Ids));
                Assert.Equal(full[..written], list);
                if (written > 0)
                {
                    Assert.Equal(ring.Owner(key), list[0]);
                }
            }
        }
    }

    [Property]
    public void Preference_lists_are_the_first_distinct_nodes_clockwise(RingCase c)
    {
        var ring = HashRing.Create(c.Ids, new HashRingOptions { VirtualNodesPerNode = c.VirtualNodes });
        var model = new ClockwiseModel(c.Ids, c.VirtualNodes);
        foreach (uint position in Probes(c.Keys, ring))
        {
            Assert.Equal(model.PreferenceList(position, 4), List(ring, position, 4));
        }
    }

    [Property]
    public void A_joining_node_takes_keys_only_for_itself(ChangeCase c)
    {
        var options = new HashRingOptions { VirtualNodesPerNode = c.VirtualNodes };
        var before = HashRing.Create(c.Ids, options);
        var after = HashRing.Create(c.Ids.Append(c.Extra), options);
        foreach (uint position in Probes(c.Keys, before, after))
        {
            var old = List(before, position, c.Replicas);
            var now = List(after, position, c.Replicas);
            var others = now.Where(id => id != c.Extra).ToArray();

            // The others keep their places; the newcomer at most pushes the last one out.
            Assert.Equal(old[..others.Length], others);
            Assert.True(now[0] == old[0] || now[0] == c.Extra, $"owner moved from {old[0]} to {now[0]}");
            if (!now.Contains(c.Extra))
            {
                Assert.Equal(old, now);
            }
        }
    }

    [Property]
    public void A_leaving_node_gives_away_only_its_own_keys(ChangeCase c)
    {
        var options = new HashRingOptions { VirtualNodesPerNode = c.VirtualNodes };
        var before = HashRing.Create(c.Ids.Append(c.Extra), options);
        var after = HashRing.Create(c.Ids, options);
        foreach (uint position in Probes(c.Keys, before, after))
        {
            var old = List(before, position, c.Replicas);
            var now = List(after, position, c.Replicas);
            var stay = old.Where(id => id != c.Extra).ToArray();

            Assert.Equal(stay, now[..stay.Length]);
            if (old[0] != c.Extra)
            {
                Assert.Equal(old[0], now[0]);
            }

            if (!old.Contains(c.Extra))
            {
                Assert.Equal(old, now);
            }
        }
    }

    [Property]
    public void The_difference_agrees_with_lists_recomputed_key_by_key(TwoRingsCase c)
    {
        var options = new HashRingOptions { VirtualNodesPerNode = c.VirtualNodes };
        var before = HashRing.Create(c.Before, options);
        var after = HashRing.Create(c.After, options);
        var difference = HashRing.Difference(before, after, c.Replicas);

        Assert.Equal(c.Replicas, difference.Replicas);
        RingChange? previous = null;
        foreach (var change in difference.Changes)
        {
            Assert.True(change.Range.Start <= change.Range.End);
            Assert.NotEqual(change.Before.ToArray(), change.After.ToArray());
            Assert.Equal(change.After.Except(change.Before).ToArray(), change.Gained.ToArray());
            Assert.Equal(change.Before.Except(change.After).ToArray(), change.Lost.ToArray());
            if (previous is not null)
            {
                Assert.True(change.Range.Start > previous.Range.End, "ranges overlap or are out of order");
                Assert.False(change.Range.Start == previous.Range.End + 1 && change.Before.SequenceEqual(previous.Before) && change.After.SequenceEqual(previous.After), "adjacent ranges with the same lists were not merged");
            }

            previous = change;
        }

        var edges = difference.Changes.SelectMany(change => new[] { change.Range.Start - 1, change.Range.Start, change.Range.End, change.Range.End + 1 });
        foreach (uint position in Probes(c.Keys, before, after).Concat(edges))
        {
            var old = List(before, position, c.Replicas);
            var now = List(after, position, c.Replicas);
            var found = difference.Find(position);
            if (found is null)
            {
                Assert.Equal(old, now);
            }
            else
            {
                Assert.True(found.Range.Contains(position));
                Assert.Equal(old, found.Before.ToArray());
                Assert.Equal(now, found.After.ToArray());
            }
        }
    }

    [Property]
    public void A_join_difference_gains_only_the_newcomer_over_exactly_its_share(ChangeCase c)
    {
        var options = new HashRingOptions { VirtualNodesPerNode = c.VirtualNodes };
        var before = HashRing.Create(c.Ids, options);
        var after = HashRing.Create(c.Ids.Append(c.Extra), options);

        var replicas = HashRing.Difference(before, after, c.Replicas);
        Assert.All(replicas.Changes, change => Assert.Equal([c.Extra], change.Gained.ToArray()));
        Assert.All(replicas.Changes, change => Assert.Equal(c.Ids.Length >= c.Replicas ? 1 : 0, change.Lost.Length));

        var owners = HashRing.Difference(before, after);
        double newcomerShare = after.OwnedFractions()[after.RankOf(c.Extra)];
        Assert.Equal(newcomerShare, owners.ChangedFraction, 1e-9);
        Assert.All(owners.Changes, change => Assert.Equal(c.Extra, change.After[0]));
    }

    [Property(MaxTest = 30)]
    public void Weights_change_shares_in_proportion(WeightedCase c)
    {
        // 4,000 points per unit of weight: a node's share then strays about 1.6% from its due, so
        // the 10% tolerance of the balance goal sits six standard deviations out.
        var ring = HashRing.Create(c.Members, new HashRingOptions { VirtualNodesPerNode = 4000 });
        var shares = ring.OwnedFractions();
        double totalWeight = c.Members.Sum(m => m.Weight);
        foreach (var member in c.Members)
        {
            double due = member.Weight / totalWeight;
            Assert.InRange(shares[ring.RankOf(member.Id)] / due, 0.9, 1.1);
        }
    }

    [Property]
    public void A_heavier_weight_takes_keys_only_for_its_node(WeightedCase c)
    {
        var options = new HashRingOptions { VirtualNodesPerNode = 8 };
        var heavier = c.Members.ToArray();
        heavier[0] = heavier[0] with { Weight = heavier[0].Weight + 1 };
        var before = HashRing.Create(c.Members, options);
        var after = HashRing.Create(heavier, options);

        Assert.Equal(before.PointCount + 8, after.PointCount);
        foreach (var change in HashRing.Difference(before, after).Changes)
        {
            Assert.Equal(c.Members[0].Id, change.After[0]);
        }
    }

    [Property(MaxTest = 40)]
    public void Default_rings_are_balanced_within_a_wide_margin(WeightedCase c)
    {
        // At the default 2,000 points per node a share strays about 2.2% from the mean; 25% is
        // more than ten standard deviations, so this fails only if placement is broken.
        var ring = HashRing.Create(c.Members.Select(m => m.Id));
        var shares = ring.OwnedFractions();
        double mean = 1.0 / shares.Length;
        Assert.InRange(shares.Max() / mean, 1.0, 1.25);
        Assert.InRange(shares.Min() / mean, 0.75, 1.0);
        Assert.Equal(1.0, shares.Sum(), 1e-9);
    }

    [Property]
    public void Text_keys_hash_as_their_utf8_bytes(string key)
    {
        var bytes = Encoding.UTF8.GetBytes(key);
        Assert.Equal(HashRing.Position(bytes), HashRing.Position(key));

        var ring = HashRing.Create(["a", "b", "c"], new HashRingOptions { VirtualNodesPerNode = 3 });
        Assert.Equal(ring.Owner(bytes), ring.Owner(key));
    }

    internal static string[] List(HashRing ring, uint position, int count)
    {
        var list = new string[count];
        return list[..ring.PreferenceListAt(position, list)];
    }

    /// <summary>The key positions plus every point of the rings and its neighbours, where off-by-one errors live.</summary>
    private static List<uint> Probes(byte[][] keys, params HashRing[] rings)
    {
        var probes = new List<uint> { 0, 1, uint.MaxValue - 1, uint.MaxValue };
        probes.AddRange(keys.Select(key => HashRing.Position(key)));
        foreach (var ring in rings)
        {
            foreach (ulong point in ring.Points)
            {
                uint position = (uint)(point >> 32);
                probes.Add(position - 1);
                probes.Add(position);
                probes.Add(position + 1);
            }
        }

        return probes;
    }
}
