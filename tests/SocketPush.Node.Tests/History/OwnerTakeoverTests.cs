using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using SocketPush.Client.Services;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Configuration;
using SocketPush.Node.Owner.History;

namespace SocketPush.Node.Tests.History;

/// <summary>
/// The owner's takeover with the real store and <see cref="OwnerStreams"/>, the other replicas played by the test
/// (what each answers, or that it does not): the seam the cluster implements with peer calls.
/// </summary>
public sealed class OwnerTakeoverTests : IDisposable
{
    private readonly ServiceProvider _meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-07T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    public void Dispose() => _meters.Dispose();

    /// <summary>The other replicas: their answers to a new owner, a copy is taken by all, quorum 2 of 3.</summary>
    private sealed class Replicas : IStreamReplicas
    {
        public List<ReplicaStream?> Answers { get; set; } = [];

        public int TakeoverQuorum => 2;

        public bool Owner { get; set; } = true;

        public bool OwnsNow(string key) => Owner;

        public Task CopyAsync(string key, string epoch, HistoryEntry entry) => Task.CompletedTask;

        public Task CopyWholeAsync(string key) => Task.CompletedTask;

        public Task<IReadOnlyList<ReplicaStream?>> AskOthersAsync(string key, StreamPosition? mine) => Task.FromResult<IReadOnlyList<ReplicaStream?>>([.. Answers]);
    }

    [Fact]
    public async Task A_new_owner_whose_replica_does_not_answer_refuses_for_now_instead_of_starting_a_new_epoch_and_continues_once_it_answers()
    {
        var config = new NodeConfig();
        config.Node.Id = "n1";
        var store = new HistoryStore(new LiveConfig(config), _time, new HistoryMetrics(_meters.GetRequiredService<IMeterFactory>()));
        var epoch = "kept1";
        var terms = new WriterTerm[] { new("t1", 1) };
        Assert.Equal(CopyResult.Applied, store.ApplyCopy("c:news", epoch, 3, [Entry(1), Entry(2), Entry(3)], terms, [], CopyKind.WholeStream));
        var replicas = new Replicas { Answers = [null] };
        var owner = new OwnerStreams(store, replicas, new LiveConfig(config), NullLogger<OwnerStreams>.Instance);
        StreamPosition? delivered = null;
        Task<int> FanOut(StreamPosition? position)
        {
            delivered = position;
            return Task.FromResult(1);
        }

        // Only this node's copy is known (quorum 2): not enough to continue, and a new epoch would lose the stream.
        var refused = await Assert.ThrowsAsync<ServiceException>(() => owner.PublishAsync("c:news", "p4", JsonSerializer.SerializeToElement(4), FanOut));
        Assert.Equal(ErrorCodes.Unavailable, refused.Code);
        Assert.Null(delivered);
        Assert.Equal(new StreamPosition(epoch, 3), store.Snapshot("c:news")!.Top);

        // The replica answers with its copy of the same epoch: the owner continues it.
        replicas.Answers = [new ReplicaStream(epoch, 3, true, [], terms)];
        Assert.Equal(1, await owner.PublishAsync("c:news", "p4", JsonSerializer.SerializeToElement(4), FanOut));
        Assert.Equal(new StreamPosition(epoch, 4), delivered);

        // A replica that answers it holds no copy is an answer: continuity cannot be shown, a new epoch starts.
        store.OwnersMayHaveMoved();
        replicas.Answers = [new ReplicaStream("", 0, false, [], [])];
        Assert.Equal(1, await owner.PublishAsync("c:news", "p5", JsonSerializer.SerializeToElement(5), FanOut));
        Assert.NotEqual(epoch, delivered!.Value.Epoch);
        Assert.Equal(1, delivered.Value.Offset);
    }

    private static HistoryEntry Entry(long offset) =>
        new(offset, $"p{offset}", JsonSerializer.SerializeToElement(offset), 1_700_000_000_000, 100, "n0");

    [Fact]
    public async Task A_node_the_ring_moved_the_key_away_from_refuses_to_write_or_read_the_stream_as_its_owner()
    {
        var config = new NodeConfig();
        config.Node.Id = "n1";
        var store = new HistoryStore(new LiveConfig(config), _time, new HistoryMetrics(_meters.GetRequiredService<IMeterFactory>()));
        var replicas = new Replicas { Owner = false };
        var owner = new OwnerStreams(store, replicas, new LiveConfig(config), NullLogger<OwnerStreams>.Instance);
        var fannedOut = false;

        // A call that reached this node as the owner after the ring moved the key: a second writer of the epoch otherwise.
        var refused = await Assert.ThrowsAsync<ServiceException>(() => owner.PublishAsync("c:news", "p1", JsonSerializer.SerializeToElement(1), _ =>
        {
            fannedOut = true;
            return Task.FromResult(1);
        }));
        Assert.Equal(ErrorCodes.Unavailable, refused.Code);
        Assert.Contains("no longer owns c:news", refused.Message, StringComparison.Ordinal);
        Assert.False(fannedOut);
        Assert.Null(store.Snapshot("c:news"));
        Assert.Equal(ErrorCodes.Unavailable, (await Assert.ThrowsAsync<ServiceException>(() => owner.ReadAsync("c:news", null, 10))).Code);

        // Owner again: it takes the stream over and writes.
        replicas.Owner = true;
        Assert.Equal(1, await owner.PublishAsync("c:news", "p1", JsonSerializer.SerializeToElement(1), _ => Task.FromResult(1)));
        Assert.Equal(1, store.Snapshot("c:news")!.Top.Offset);
    }
}
