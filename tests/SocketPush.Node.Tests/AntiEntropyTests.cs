using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using SocketPush.Node.Cluster;
using SocketPush.Node.Owner.Records;
using SocketPush.Node.Configuration;
using SocketPush.Node.Cluster.Routing;

namespace SocketPush.Node.Tests;

/// <summary>Three nodes that run anti-entropy every 200 ms; every node holds every key (cluster.replicas = 3).</summary>
public sealed class AntiEntropyClusterFixture : ThreeNodeClusterFixture
{
    private protected override void Configure(NodeConfig config) => config.Cluster.AntiEntropyInterval = TimeSpan.FromMilliseconds(200);
}

/// <summary>
/// Replicas that diverged behind replication's back (a write put into one node's store only) converge by
/// anti-entropy: the same records on every node, tombstones included, and the same answers from every node.
/// </summary>
public sealed class AntiEntropyTests(AntiEntropyClusterFixture fixture) : IClassFixture<AntiEntropyClusterFixture>
{
    private TestCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Records_written_on_one_replica_only_reach_the_others_and_every_node_answers_the_same()
    {
        var node = Cluster[1];
        var store = node.Service<RecordStore>();
        store.SetSession("ae-user", "ae-session");
        store.BindSession("ae-session", "ae-user");
        store.SetSubscription("ae-user", "ae/news", subscribed: true);
        store.SetSubscriber("ae/news", "ae-user", subscribed: true);

        await AssertConvergedAsync(["u:ae-user", "s:ae-session", "c:ae/news"]);
        foreach (var each in Cluster.Nodes)
        {
            Assert.Equal("ae-user", (await each.CallAsync("auth", "check", new { sessionId = "ae-session" })).GetString());
            Assert.Equal(["ae/news"], (await each.CallAsync("channel", "getSubscriptions", new { userId = "ae-user" })).Deserialize<string[]>()!);
            Assert.Equal(["ae-user"], (await each.CallAsync("channel", "getSubscribers", new { channelId = "ae/news" })).Deserialize<string[]>()!);
        }

        // The repair is counted and shown by the nodes that started the rounds which carried it.
        await Eventually.PassesAsync(
            async () =>
            {
                Assert.True(await SumAsync(n => n.MetricAsync("socketpush_antientropy_records_repaired_total")) >= 3);
                Assert.True(await SumAsync(n => n.MetricAsync("socketpush_antientropy_rounds_total{result=\"repaired\"}")) >= 1);
                var round = (await node.CallAsync("manager", "status", new { })).GetProperty("antiEntropy");
                Assert.Contains(round.GetProperty("peer").GetString(), new[] { "n1", "n3" });
                Assert.Contains(round.GetProperty("result").GetString(), new[] { "in_sync", "repaired" });
            },
            "the rounds are counted and manager.status shows the last one");
    }

    [Fact]
    public async Task An_unsubscribe_written_on_one_replica_only_wins_on_the_others()
    {
        await Cluster[0].CallAsync("channel", "subscribe", new { userId = "ae-gone", channelId = "ae/old" });
        await AssertConvergedAsync(["u:ae-gone", "c:ae/old"]);

        var store = Cluster[2].Service<RecordStore>();
        store.SetSubscription("ae-gone", "ae/old", subscribed: false);
        store.SetSubscriber("ae/old", "ae-gone", subscribed: false);

        await AssertConvergedAsync(["u:ae-gone", "c:ae/old"]);
        foreach (var each in Cluster.Nodes)
        {
            Assert.False(each.Service<RecordStore>().Snapshot("u:ae-gone").Users["ae-gone"].Subscriptions.Elements["ae/old"].Present);
            Assert.Empty((await each.CallAsync("channel", "getSubscriptions", new { userId = "ae-gone" })).Deserialize<string[]>()!);
            Assert.Empty((await each.CallAsync("channel", "getSubscribers", new { channelId = "ae/old" })).Deserialize<string[]>()!);
        }
    }

    [Fact]
    public void An_answer_carries_whole_differing_buckets_up_to_the_bytes_asked_for_and_at_least_one()
    {
        var node = Cluster[0];
        var store = node.Service<RecordStore>();
        for (var i = 0; i < 20; i++)
        {
            store.SetSubscriber($"ae-bound/{i}", "someone", subscribed: true);
        }

        // Digests of nothing: every bucket with a record differs.
        var answer = node.Service<AntiEntropy>().Answer(new DigestRequest("n2", new ulong[RecordDigest.Buckets], MaxBytes: 1));
        Assert.True(answer.Differing.Length >= 2, string.Join(",", answer.Differing));
        var bucket = Assert.Single(answer.Included);
        var keys = AntiEntropyUnitTests.KeysOf(answer.Records);
        Assert.NotEmpty(keys);
        Assert.All(keys, key => Assert.Equal(bucket, RecordDigest.BucketOf(key)));
    }

    /// <summary>Waits until every node's store holds the same record for each key.</summary>
    private Task AssertConvergedAsync(string[] keys) =>
        Eventually.TrueAsync(
            () => keys.All(key => Cluster.Nodes.Select(n => JsonSerializer.Serialize(n.Service<RecordStore>().Snapshot(key))).Distinct().Count() == 1
                && Cluster[0].Service<RecordStore>().Snapshot(key).Count == 1),
            $"every node holds the same record of {string.Join(", ", keys)}");

    private async Task<double> SumAsync(Func<TestNode, Task<double>> metric)
    {
        var sum = 0.0;
        foreach (var node in Cluster.Nodes)
        {
            sum += await metric(node);
        }

        return sum;
    }
}

/// <summary>The parts of anti-entropy that need no cluster: bucket digests and the byte pacing.</summary>
public sealed class AntiEntropyUnitTests
{
    [Fact]
    public void Equal_stores_give_equal_digests_whatever_the_order_records_came_in_and_any_difference_changes_its_bucket()
    {
        var time = new FakeTimeProvider();
        var source = new RecordStore(new HybridClock(time), "a");
        foreach (var i in Enumerable.Range(0, 50))
        {
            source.SetSession($"user{i}", $"session{i}");
            source.BindSession($"session{i}", $"user{i}");
            source.SetSubscription($"user{i}", $"ch{i % 7}", subscribed: true);
            source.SetSubscription($"user{i}", $"ch{(i + 1) % 7}", subscribed: i % 2 == 0);
            source.SetSubscriber($"ch{i % 7}", $"user{i}", subscribed: true);
        }

        var all = All(source);
        var keys = KeysOf(all);

        // One key at a time in reverse order; a user's subscriptions an element at a time, last first.
        var reversed = new RecordStore(new HybridClock(time), "b");
        foreach (var key in Enumerable.Reverse(keys))
        {
            var record = source.Snapshot(key);
            if (key[0] == 'u')
            {
                var (id, user) = record.Users.Single();
                foreach (var element in user.Subscriptions.Elements.Reverse())
                {
                    var one = ElementSet.Empty.Set(element.Key, element.Value.Present, element.Value.Stamp);
                    reversed.Merge(new RecordBatch(new() { [id] = user with { Subscriptions = one } }, [], []));
                }
            }

            reversed.Merge(record);
        }

        var digests = RecordDigest.Of(all);
        Assert.Equal(digests, RecordDigest.Of(All(reversed)));
        Assert.True(digests.Count(d => d != 0) > 10);

        // A tombstone on one element, a missing record, an extra record: only that key's bucket changes.
        void AssertOnlyBucketDiffers(Action<RecordStore> change, string key)
        {
            var copy = new RecordStore(new HybridClock(time), "c");
            copy.Merge(all);
            change(copy);
            var changed = RecordDigest.Of(All(copy));
            var differing = Enumerable.Range(0, RecordDigest.Buckets).Where(b => changed[b] != digests[b]).ToList();
            Assert.Equal(RecordDigest.BucketOf(key), Assert.Single(differing));
        }

        AssertOnlyBucketDiffers(s => s.SetSubscription("user3", "ch3", subscribed: false), "u:user3");
        AssertOnlyBucketDiffers(s => s.Forget(s.Snapshot("s:session4")), "s:session4");
        AssertOnlyBucketDiffers(s => s.SetSubscriber("ch-new", "user1", subscribed: false), "c:ch-new");
    }

    /// <summary>The record keys (<c>u:</c>, <c>s:</c>, <c>c:</c>) of a batch.</summary>
    internal static List<string> KeysOf(RecordBatch batch) =>
        [.. batch.Users.Keys.Select(Keys.User), .. batch.Sessions.Keys.Select(Keys.Session), .. batch.Channels.Keys.Select(Keys.Channel)];

    private static RecordBatch All(RecordStore store) => store.RecordsFor(_ => ["all"], int.MaxValue)["all"];
}
