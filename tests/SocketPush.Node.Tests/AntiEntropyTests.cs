using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using SocketPush.Node.Cluster;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Owner.History;
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

/// <summary>
/// A replica that lost a stream's copy without a ring change (its store dropped it) gets the owner's whole copy back
/// from an anti-entropy round, and then, when the owner crashes, the survivors hold enough copies to go on in the same
/// epoch: the new owner serves every message. Without that round one copy of three is left besides the lost one, fewer
/// than a takeover must find, and the stream would start a new epoch.
/// </summary>
public sealed class StreamAntiEntropyTests
{
    [Fact]
    public async Task A_replica_that_lost_a_streams_copy_gets_it_back_and_the_survivor_of_the_owners_crash_serves_it_in_the_same_epoch()
    {
        await using var cluster = await TestCluster.StartAsync(3, c => c.Cluster.AntiEntropyInterval = TimeSpan.FromMilliseconds(200));
        var owner = cluster[1];
        var channel = cluster.ChannelOwnedBy(owner, "ae-stream/");
        var key = "c:" + channel;
        for (var n = 1; n <= 5; n++)
        {
            await cluster[0].CallAsync("channel", "publish", new { channelId = channel, message = new { n }, publishId = $"ae-{n}" });
        }

        (StreamPosition Top, IReadOnlyList<WriterTerm> Terms)? HeadOn(TestNode node) => node.Service<HistoryStore>().Head(key);
        var top = HeadOn(owner)!.Value.Top;
        Assert.Equal(5, top.Offset);
        await Eventually.TrueAsync(() => cluster.Nodes.All(n => HeadOn(n)?.Top == top), "every replica holds the five messages");

        // One replica loses its copy, the ring unchanged; nothing is published that would carry it back.
        var lost = cluster.Nodes.First(n => n != owner);
        var repairedBefore = await owner.MetricAsync("socketpush_antientropy_streams_repaired_total");
        lost.Service<HistoryStore>().Forget(key);
        Assert.Null(HeadOn(lost));

        await Eventually.TrueAsync(() => HeadOn(lost)?.Top == top, "anti-entropy gives the replica its copy back");
        var copy = lost.Service<HistoryStore>().Snapshot(key)!;
        Assert.Equal([1L, 2, 3, 4, 5], copy.Entries.Select(e => e.Offset));
        Assert.Equal(HeadOn(owner)!.Value.Terms, copy.Terms);
        Assert.True(await owner.MetricAsync("socketpush_antientropy_streams_repaired_total") > repairedBefore);
        var round = (await owner.CallAsync("manager", "status", new { })).GetProperty("antiEntropy");
        Assert.Equal(JsonValueKind.Number, round.GetProperty("streamsRepaired").ValueKind);

        await cluster.CrashNodeAsync(owner);
        var history = await cluster[0].CallAsync("channel", "history", new { channelId = channel });
        Assert.Equal(top.Epoch, history.GetProperty("epoch").GetString());
        Assert.Equal(5, history.GetProperty("offset").GetInt64());
        Assert.Equal(["ae-1", "ae-2", "ae-3", "ae-4", "ae-5"], history.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("id").GetString()));
    }
}

/// <summary>The parts of anti-entropy that need no cluster: bucket and stream digests, what a replica's copy needs, and the byte pacing.</summary>
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

    [Fact]
    public void The_owner_sends_its_copy_to_a_replica_that_has_none_another_epoch_a_shorter_one_or_other_terms()
    {
        WriterTerm[] one = [new("t1", 1)];
        var owner = StreamSummary.Of("c:news", new StreamPosition("e", 5), one);

        Assert.True(StreamSummary.ReplicaNeedsCopy(owner, null));
        Assert.True(StreamSummary.ReplicaNeedsCopy(owner, StreamSummary.Of("c:news", new StreamPosition("f", 5), one)));
        Assert.True(StreamSummary.ReplicaNeedsCopy(owner, StreamSummary.Of("c:news", new StreamPosition("e", 4), one)));
        // Another owner took over at 3 and wrote the same epoch (the other side of a partition).
        Assert.True(StreamSummary.ReplicaNeedsCopy(owner, StreamSummary.Of("c:news", new StreamPosition("e", 5), [new("t1", 1), new("t2", 3)])));

        Assert.False(StreamSummary.ReplicaNeedsCopy(owner, StreamSummary.Of("c:news", new StreamPosition("e", 5), one)));
        // A term the owner claimed after its last message says nothing about the messages: the copies are the same.
        Assert.False(StreamSummary.ReplicaNeedsCopy(StreamSummary.Of("c:news", new StreamPosition("e", 5), [new("t1", 1), new("t2", 6)]), owner));
        // A copy ahead of the owner's, written by the same owners, is left for the owner's next takeover.
        Assert.False(StreamSummary.ReplicaNeedsCopy(owner, StreamSummary.Of("c:news", new StreamPosition("e", 6), one)));
    }

    [Fact]
    public void Stream_digests_do_not_depend_on_order_and_a_changed_summary_changes_only_its_bucket()
    {
        WriterTerm[] one = [new("t1", 1)];
        var summaries = Enumerable.Range(0, 200).Select(i => StreamSummary.Of($"c:s{i}", new StreamPosition("e", i), one)).ToList();
        var digests = StreamSummary.Digests(summaries);

        Assert.Equal(digests, StreamSummary.Digests(Enumerable.Reverse(summaries)));
        Assert.True(digests.Count(d => d != 0) > 100);
        void AssertOnlyBucketDiffers(IEnumerable<StreamSummary> changed, string key)
        {
            var after = StreamSummary.Digests(changed);
            Assert.Equal(RecordDigest.BucketOf(key), Assert.Single(Enumerable.Range(0, RecordDigest.Buckets), b => after[b] != digests[b]));
        }

        AssertOnlyBucketDiffers(summaries.Select(s => s.Key == "c:s7" ? s with { Top = 8 } : s), "c:s7");
        AssertOnlyBucketDiffers(summaries.Where(s => s.Key != "c:s9"), "c:s9");
        AssertOnlyBucketDiffers(summaries.Select(s => s.Key == "c:s11" ? s with { Epoch = "f" } : s), "c:s11");
    }

    /// <summary>The record keys (<c>u:</c>, <c>s:</c>, <c>c:</c>) of a batch.</summary>
    internal static List<string> KeysOf(RecordBatch batch) =>
        [.. batch.Users.Keys.Select(Keys.User), .. batch.Sessions.Keys.Select(Keys.Session), .. batch.Channels.Keys.Select(Keys.Channel)];

    private static RecordBatch All(RecordStore store) => store.RecordsFor(_ => ["all"], int.MaxValue)["all"];
}
