using System.IO.Hashing;
using MemoryPack;
using System.Runtime.CompilerServices;
using System.Text;
using SocketPush.Client.Services;
using SocketPush.ConsistentHashing;
using SocketPush.Node.Owner.History;
using SocketPush.Node.Owner.Records;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Cluster.Routing;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Cluster;

/// <summary>
/// Digests of records by bucket. A key's bucket is the top 8 bits of its ring position (the hash the ring places it
/// with), so a bucket is one 1/256 slice of the ring: the keys two nodes share fall into the same buckets on both,
/// whatever the ring looks like, and a bucket stays small enough to send whole when it differs. A bucket's digest is
/// the wrapping sum of the XxHash64 of each record's key and the XxHash64 of its full content (its MemoryPack form, stamps and
/// tombstones included): a sum does not depend on the order records were written or are enumerated in, and any record that
/// differs, is missing or is extra changes it.
/// </summary>
internal static class RecordDigest
{
    public const int Buckets = 256;

    private static readonly ConditionalWeakTable<object, StrongBox<ulong>> ContentHashes = new();

    public static int BucketOf(string key) => (int)(HashRing.Position(key) >> 24);

    /// <summary>The digest of every bucket of <paramref name="batch"/> (0 for a bucket without records).</summary>
    public static ulong[] Of(RecordBatch batch)
    {
        var digests = new ulong[Buckets];
        void Add<T>(Dictionary<string, T> records, Func<string, string> key)
            where T : class
        {
            foreach (var (id, record) in records)
            {
                var k = key(id);
                digests[BucketOf(k)] += HashOf(k, record);
            }
        }

        Add(batch.Users, Keys.User);
        Add(batch.Sessions, Keys.Session);
        Add(batch.Channels, Keys.Channel);
        return digests;
    }

    /// <summary>The records of <paramref name="batch"/> in each of <paramref name="buckets"/> that has any.</summary>
    public static Dictionary<int, RecordBatch> ByBucket(RecordBatch batch, IReadOnlySet<int> buckets)
    {
        var parts = new Dictionary<int, RecordBatch>();
        void Add<T>(Dictionary<string, T> records, Func<string, string> key, Func<RecordBatch, Dictionary<string, T>> into)
        {
            foreach (var (id, record) in records)
            {
                var bucket = BucketOf(key(id));
                if (buckets.Contains(bucket))
                {
                    into(parts.TryGetValue(bucket, out var part) ? part : parts[bucket] = new RecordBatch([], [], []))[id] = record;
                }
            }
        }

        Add(batch.Users, Keys.User, b => b.Users);
        Add(batch.Sessions, Keys.Session, b => b.Sessions);
        Add(batch.Channels, Keys.Channel, b => b.Channels);
        return parts;
    }

    /// <summary>
    /// The hash of a key and its record. Records are immutable, so the hash of a record's content is kept with the
    /// instance and computed once per write, not once per round; only the key's bytes are hashed again.
    /// </summary>
    private static ulong HashOf<T>(string key, T record)
        where T : class
    {
        var content = ContentHashes.GetValue(record, r => new StrongBox<ulong>(XxHash64.HashToUInt64(MemoryPackSerializer.Serialize(r.GetType(), r, MemoryPackSerializerOptions.Utf8)))).Value;
        var hash = new XxHash64();
        hash.Append(Encoding.UTF8.GetBytes(key));
        hash.Append(BitConverter.GetBytes(content));
        return hash.GetCurrentHashAsUInt64();
    }
}

/// <summary>
/// What <see cref="Peers.RecordsDigest"/> and <see cref="Peers.HistoryDigest"/> ask: the initiator's id, its bucket
/// digests (of records, of stream summaries) and how many bytes of records or summaries it takes at once.
/// </summary>
[MemoryPackable]
internal sealed partial record DigestRequest(string From, ulong[] Digests, int MaxBytes);

/// <summary>
/// What it answers: the buckets whose digests differ, those of them whose records it sent (whole buckets, until
/// <see cref="DigestRequest.MaxBytes"/>), and those records.
/// </summary>
[MemoryPackable]
internal sealed partial record DigestAnswer(int[] Differing, int[] Included, RecordBatch Records);

/// <summary>One anti-entropy round this node started, for manager.status.</summary>
internal sealed record AntiEntropyRound(
    string Peer, DateTimeOffset At, string Result, int BucketsDiffering, int RecordsReceived, int RecordsSent, int RecordsRepaired, int StreamsRepaired)
{
    public object ToJson() => new
    {
        peer = Peer,
        at = At.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        result = Result,
        bucketsDiffering = BucketsDiffering,
        recordsReceived = RecordsReceived,
        recordsSent = RecordsSent,
        recordsRepaired = RecordsRepaired,
        streamsRepaired = StreamsRepaired,
    };
}

/// <summary>
/// Anti-entropy: replicas that diverged (a copy lost while a node was unreachable, a partition that healed)
/// converge without a ring change. Every <c>cluster.antiEntropyInterval</c> this node takes the next other ring
/// member in turn and sends it the digests of the records both should hold (<see cref="RecordDigest"/>); the peer
/// answers which buckets differ and its records in them, this node merges those and sends its own records of the
/// same buckets back. Records are CRDTs, so both then hold the merge of both. Then streams: this node sends the
/// digests of the summaries (<see cref="StreamSummary"/>) of the streams it owns that the peer should hold too, the
/// peer answers its summaries of the buckets that differ, and this node sends its whole copy of each stream whose
/// copy there is missing, of another epoch or behind (only streams it writes now: a copy not yet checked against the
/// replicas after a ring change is no reference). The records and copies a round carries, both ways, are paced to
/// <c>cluster.antiEntropyBytesPerSecond</c>, and a round sends copies of at most the bytes an answer may have (at
/// least one); buckets and streams left out for that wait for a later round. A failed round is logged and counted,
/// and the next goes on.
/// </summary>
internal sealed class AntiEntropy : BackgroundService
{
    /// <summary>
    /// The most bytes of records or stream summaries asked for in one answer (at least one whole bucket always comes),
    /// and of stream copies one round sends (at least one); less when <c>cluster.antiEntropyBytesPerSecond</c> is less.
    /// </summary>
    internal const int MaxAnswerBytes = 256 * 1024;

    private readonly ClusterMembership _membership;
    private readonly ClusterRouter _router;
    private readonly RecordStore _store;
    private readonly HistoryStore _history;
    private readonly StreamReplication _replication;
    private readonly LiveConfig _live;
    private readonly ClusterMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<AntiEntropy> _logger;
    private readonly RatePacer _pacer;
    private int _next;

    public AntiEntropy(
        ClusterMembership membership, ClusterRouter router, RecordStore store, HistoryStore history, StreamReplication replication, LiveConfig live, ClusterMetrics metrics,
        TimeProvider time, ILogger<AntiEntropy> logger)
    {
        _membership = membership;
        _router = router;
        _store = store;
        _history = history;
        _replication = replication;
        _live = live;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _pacer = new RatePacer(time);
    }

    /// <summary>The last round this node started, or null before the first (read by manager.status).</summary>
    public AntiEntropyRound? LastRound { get; private set; }

    /// <summary>Serves a peer's round: compares its digests with this node's and answers with the records of buckets that differ.</summary>
    public DigestAnswer Answer(DigestRequest request)
    {
        var view = _membership.View;
        var shared = Shared(view, request.From, _ => true);
        var digests = RecordDigest.Of(shared);
        var differing = Differing(digests, request.Digests);
        var records = new RecordBatch([], [], []);
        var included = Include(differing, RecordDigest.ByBucket(shared, differing.ToHashSet()), request.MaxBytes, records.Add);
        return new DigestAnswer(differing, included, records);
    }

    /// <summary>Serves a peer's round of streams: compares the digests of the streams it owns and this node holds, and answers with this node's summaries of the buckets that differ.</summary>
    public StreamDigestAnswer AnswerStreams(DigestRequest request)
    {
        var summaries = Summaries(_membership.View, owner: request.From, replica: _membership.View.LocalId);
        var differing = Differing(StreamSummary.Digests(summaries), request.Digests);
        var wanted = differing.ToHashSet();
        var parts = summaries.Where(s => wanted.Contains(RecordDigest.BucketOf(s.Key)))
            .GroupBy(s => RecordDigest.BucketOf(s.Key))
            .ToDictionary(g => g.Key, g => g.ToArray());
        var copies = new List<StreamSummary>();
        var included = Include(differing, parts, request.MaxBytes, copies.AddRange);
        return new StreamDigestAnswer(differing, included, [.. copies]);
    }

    private static int[] Differing(ulong[] mine, ulong[] theirs) =>
        [.. Enumerable.Range(0, RecordDigest.Buckets).Where(b => mine[b] != theirs.ElementAtOrDefault(b))];

    /// <summary>
    /// The differing buckets an answer includes, each part handed to <paramref name="add"/>: whole buckets until
    /// <paramref name="maxBytes"/> (at least one), from a random one on, so that buckets left out get their turn.
    /// A bucket without a part is included too: the peer holds nothing there.
    /// </summary>
    private static int[] Include<T>(int[] differing, Dictionary<int, T> parts, int maxBytes, Action<T> add)
    {
        var included = new List<int>();
        var bytes = 0L;
        var start = differing.Length == 0 ? 0 : Random.Shared.Next(differing.Length);
        for (var i = 0; i < differing.Length; i++)
        {
            var bucket = differing[(start + i) % differing.Length];
            if (parts.TryGetValue(bucket, out var part))
            {
                var size = MemoryPackSerializer.Serialize(part, MemoryPackSerializerOptions.Utf8).Length;
                if (included.Count > 0 && bytes + size > maxBytes)
                {
                    continue;
                }

                bytes += size;
                add(part);
            }

            included.Add(bucket);
        }

        return [.. included];
    }

    /// <summary>One round with the next peer; null when there is none (a ring of one, or a ring this node does not route with).</summary>
    internal async Task<AntiEntropyRound?> RunRoundAsync(CancellationToken cancellationToken)
    {
        var view = _membership.View;
        var peers = view.Ring.Nodes.Where(n => n != view.LocalId).Order(StringComparer.Ordinal).ToList();
        if (view.RingProblem is not null || peers.Count == 0)
        {
            return null;
        }

        var peer = peers[(int)((uint)_next++ % (uint)peers.Count)];
        var rate = _live.Current.Cluster.AntiEntropyBytesPerSecond;
        int differing = 0, received = 0, sent = 0, repaired = 0, streamsSent = 0, streamsRepaired = 0;
        AntiEntropyRound Round(string result) => new(peer, _time.GetUtcNow(), result, differing, received, sent, repaired, streamsRepaired);
        try
        {
            var request = new DigestRequest(view.LocalId, RecordDigest.Of(Shared(view, peer, _ => true)), Math.Min(MaxAnswerBytes, rate));
            var answer = await _router.AskAsync(peer, new RecordsDigest(request), cancellationToken).ConfigureAwait(false);
            _pacer.Charge(MemoryPackSerializer.Serialize(answer.Records, MemoryPackSerializerOptions.Utf8).Length, rate);
            differing = answer.Differing.Length;
            if (differing > 0)
            {
                received = answer.Records.Count;
                repaired = _store.Merge(answer.Records);

                // This node's records of those buckets, the peer's already merged in: the peer then holds the merge of both.
                var included = answer.Included.ToHashSet();
                var ours = Shared(_membership.View, peer, key => included.Contains(RecordDigest.BucketOf(key)));
                foreach (var part in ours.Split(HandoffSender.HandoffBatch))
                {
                    await _pacer.PaceAsync(MemoryPackSerializer.Serialize(part, MemoryPackSerializerOptions.Utf8).Length, rate, cancellationToken).ConfigureAwait(false);
                    repaired += await _router.AskAsync(peer, new RecordsMerge(part), cancellationToken).ConfigureAwait(false);
                    sent += part.Count;
                }
            }

            (streamsSent, streamsRepaired) = await RepairStreamsAsync(peer, rate, cancellationToken).ConfigureAwait(false);
            if (differing == 0 && streamsSent == 0)
            {
                return Round("in_sync");
            }

            ClusterLog.AntiEntropyRepaired(_logger, peer, differing, received, sent, repaired, streamsRepaired);
            return Round("repaired");
        }
        catch (PeerUnreachableException e) when (e.Leaving)
        {
            // It is leaving and hands everything over; the next round takes a member that stays.
            return Round("failed");
        }
        catch (ServiceException e)
        {
            ClusterLog.AntiEntropyFailed(_logger, peer, e.Message);
            return Round("failed");
        }
    }

    /// <summary>
    /// Sends the peer this node's whole copy of each stream it owns whose copy there is missing, of another epoch or
    /// behind, paced, until the bytes an answer may have (at least one copy); answers how many copies it sent and how many
    /// the peer took. Only streams this node writes now are sent: one it has not checked with the replicas since the
    /// ring moved may be behind them, or of an older epoch.
    /// </summary>
    private async Task<(int Sent, int Taken)> RepairStreamsAsync(string peer, int rate, CancellationToken cancellationToken)
    {
        int sent = 0, taken = 0;
        var bytes = 0L;
        foreach (var key in await StaleStreamsAsync(peer, rate, cancellationToken).ConfigureAwait(false))
        {
            if (_history.NeedsTakeover(key, _membership.View.LocalId) || _history.Snapshot(key) is not { } whole)
            {
                continue;
            }

            // Counted as the history counts its messages (JSON, id and overhead): close to the copy's size on the wire.
            var size = whole.Entries.Sum(e => (long)e.Bytes);
            if (sent > 0 && bytes + size > Math.Min(MaxAnswerBytes, rate))
            {
                continue;
            }

            bytes += size;
            await _pacer.PaceAsync(size, rate, cancellationToken).ConfigureAwait(false);
            var result = await _replication.SendWholeAsync(peer, key, whole, CopyKind.WholeStream).ConfigureAwait(false);
            sent++;
            if (result == CopyResult.Applied)
            {
                taken++;
            }
            else if (result == CopyResult.Conflict)
            {
                // Two owners wrote the epoch (a healed partition): this node checks with the replicas before its next message.
                ClusterLog.StreamCopyConflict(_logger, peer, key, whole.Top.ToString(), WriterTerm.Describe(whole.Terms));
                _history.Unclaim(key);
            }
        }

        return (sent, taken);
    }

    /// <summary>
    /// The streams this node owns whose copy on <paramref name="peer"/> is missing, of another epoch or behind, in the
    /// buckets the peer's answer included, from a random one on (so that those left out for the round's bound get their turn).
    /// </summary>
    private async Task<List<string>> StaleStreamsAsync(string peer, int rate, CancellationToken cancellationToken)
    {
        var view = _membership.View;
        var mine = Summaries(view, owner: view.LocalId, replica: peer);
        var request = new DigestRequest(view.LocalId, StreamSummary.Digests(mine), Math.Min(MaxAnswerBytes, rate));
        var answer = await _router.AskAsync(peer, new HistoryDigest(request), cancellationToken).ConfigureAwait(false);
        _pacer.Charge(MemoryPackSerializer.Serialize(answer.Copies, MemoryPackSerializerOptions.Utf8).Length, rate);

        var included = answer.Included.ToHashSet();
        var theirs = new Dictionary<string, StreamSummary>(StringComparer.Ordinal);
        foreach (var copy in answer.Copies)
        {
            theirs.TryAdd(copy.Key, copy);
        }

        var stale = mine.Where(s => included.Contains(RecordDigest.BucketOf(s.Key)) && StreamSummary.ReplicaNeedsCopy(s, theirs.TryGetValue(s.Key, out var copy) ? copy : null))
            .Select(s => s.Key)
            .ToList();
        var start = stale.Count == 0 ? 0 : Random.Shared.Next(stale.Count);
        return [.. stale.Skip(start), .. stale.Take(start)];
    }

    /// <summary>This node's summaries of the streams it holds that <paramref name="owner"/> owns and <paramref name="replica"/> should hold, as <paramref name="view"/> places them.</summary>
    private List<StreamSummary> Summaries(ClusterView view, string owner, string replica) =>
        [.. _history.Keys()
            .Where(key => view.Owner(key) == owner && view.ReplicasOf(key).Contains(replica))
            .Select(key => _history.Head(key) is { } head ? StreamSummary.Of(key, head.Top, head.Terms) : (StreamSummary?)null)
            .OfType<StreamSummary>()];

    /// <summary>This node's records of keys that both it and <paramref name="peer"/> should hold, as <paramref name="view"/> places them.</summary>
    private RecordBatch Shared(ClusterView view, string peer, Func<string, bool> filter)
    {
        string[] only = [peer];
        return _store.RecordsFor(
                key =>
                {
                    var replicas = view.ReplicasOf(key);
                    return replicas.Contains(view.LocalId) && replicas.Contains(peer) && filter(key) ? only : null;
                },
                int.MaxValue)
            .GetValueOrDefault(peer) ?? new RecordBatch([], [], []);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_live.Current.Cluster.AntiEntropyInterval, _time, stoppingToken).ConfigureAwait(false);
                if (await RunRoundAsync(stoppingToken).ConfigureAwait(false) is { } round)
                {
                    LastRound = round;
                    _metrics.AntiEntropyRound(round.Result, round.BucketsDiffering, round.RecordsReceived, round.RecordsSent, round.RecordsRepaired, round.StreamsRepaired);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The loop outlives any one round: whatever a round throws is logged and counted, and the next one runs.
            catch (Exception e)
#pragma warning restore CA1031
            {
                ClusterLog.AntiEntropyCrashed(_logger, e);
                _metrics.AntiEntropyRound("failed", 0, 0, 0, 0, 0);
            }
        }
    }
}
