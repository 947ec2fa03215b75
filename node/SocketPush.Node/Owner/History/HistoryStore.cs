using System.Collections.Concurrent;
using System.Text.Json;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Owner.History;

/// <summary>
/// The streams this node owns and the messages they keep, by the rules of <c>history:</c> (read at every use, so a
/// reload applies to the next message): per stream at most <c>size</c> messages for <c>age</c>, and at most
/// <c>history.maxBytes</c> over all streams, the oldest messages of the node evicted first. A stream is created by
/// its first message or read, and forgotten once it has kept nothing for its rule's age; a stream created again
/// starts a new epoch, so clients that held a position in the old one are told their recovery is incomplete.
/// </summary>
internal sealed class HistoryStore(LiveConfig config, TimeProvider time, HistoryMetrics metrics)
{
    private readonly ConcurrentDictionary<string, MessageStream> _streams = new(StringComparer.Ordinal);
    private readonly Lock _evictionGate = new();
    private long _bytes;
    private long _messages;
    private long _ownership;

    /// <summary>Messages kept over all streams.</summary>
    public long Messages => Interlocked.Read(ref _messages);

    /// <summary>What the kept messages cost, counted against <c>history.maxBytes</c>.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    public int Streams => _streams.Count;

    /// <summary>The rule of a stream key (<c>c:{channelId}</c> or <c>u:{userId}</c>), or null when it keeps no history.</summary>
    public HistoryRule? RuleFor(string key)
    {
        var history = config.Current.History;
        if (history.MaxBytes == 0 || key.Length < 2 || key[1] != ':')
        {
            return null;
        }

        var rules = key[0] switch
        {
            'c' => history.Channels,
            'u' => history.Users,
            _ => null,
        };
        return rules is null || HistorySection.RuleFor(rules, key[2..]) is not { Size: > 0 } rule ? null : rule;
    }

    /// <summary>
    /// Sequences a message on the owner: appends it to its stream (unless the stream holds its publish id already,
    /// delivered) and gives it its turn in the stream's deliveries. Null without history for the key.
    /// </summary>
    public Sequenced? Sequence(string key, string publishId, JsonElement data, string writer)
    {
        if (RuleFor(key) is not { } rule)
        {
            return null;
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var sequenced = WithStream(key, now, stream =>
        {
            if (stream.IsFormer(publishId))
            {
                // Appended in the epoch this one replaced: it reached that epoch's subscribers.
                metrics.Deduplicated();
                return new Sequenced(stream.Top, null, Task.CompletedTask, new TaskCompletionSource(), Duplicate: true);
            }

            var bytesBefore = stream.Bytes;
            var countBefore = stream.Count;
            var appended = stream.Append(publishId, data, now, writer);
            var entry = stream.EntryAt(appended.Position.Offset)!;
            if (appended.Duplicate && !stream.IsUnconfirmed(appended.Position.Offset))
            {
                metrics.Deduplicated();
                return new Sequenced(appended.Position, entry, Task.CompletedTask, new TaskCompletionSource(), Duplicate: true);
            }

            // A new message, or the retry of one whose publish did not complete: it takes the next turn.
            var turn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var next = new Sequenced(appended.Position, entry, stream.DeliveryTail, turn, Duplicate: false);
            stream.DeliveryTail = turn.Task;
            var trimmed = stream.Trim(rule.Size, now - (long)rule.Age.TotalMilliseconds);
            metrics.Evicted(trimmed, "size");
            Account(stream.Count - countBefore, stream.Bytes - bytesBefore);
            return next;
        });

        if (!sequenced.Duplicate)
        {
            EnforceMaxBytes();
        }

        return sequenced;
    }

    /// <summary>The message reached its quorum and was handed to the fan-out: a retry of its publish id is a duplicate from now on.</summary>
    public void Confirm(string key, StreamPosition position)
    {
        if (_streams.TryGetValue(key, out var stream))
        {
            lock (stream.Gate)
            {
                if (stream.Epoch == position.Epoch)
                {
                    stream.Confirm(position.Offset);
                }
            }
        }
    }

    /// <summary>
    /// Whether this node must check with the key's other replicas before it sequences or answers as the stream's
    /// owner: it holds no copy, did not write the stream's last message, or the ring moved since it took it over
    /// (the other side of a healed partition may have written the same epoch).
    /// </summary>
    public bool NeedsTakeover(string key, string localId) =>
        !_streams.TryGetValue(key, out var stream)
        || Volatile.Read(ref stream.LastWriterField) != localId
        || stream.ClaimedGeneration != Interlocked.Read(ref _ownership);

    /// <summary>The ring changed: every stream's owner checks with the other replicas before its next message.</summary>
    public void OwnersMayHaveMoved() => Interlocked.Increment(ref _ownership);

    /// <summary>A copy of the stream found another writer's messages: its owner checks with the replicas again.</summary>
    public void Unclaim(string key)
    {
        if (_streams.TryGetValue(key, out var stream))
        {
            lock (stream.Gate)
            {
                stream.Unclaim();
            }
        }
    }

    /// <summary>The terms of this node's copy of the stream (none without one).</summary>
    public IReadOnlyList<WriterTerm> TermsOf(string key) => WithCopy(key, s => s.Terms) ?? [];

    /// <summary>This node's copy of the stream; null without one.</summary>
    public StreamSnapshot? Snapshot(string key) => WithCopy(key, s => new StreamSnapshot(s.Top, s.Entries, s.Terms, s.FormerIds));

    /// <summary>Every publish id this node's copy of the stream refuses (see <see cref="FormerId"/>): what a new owner inherits into a new epoch.</summary>
    public IReadOnlyList<FormerId> PublishIdsOf(string key) => WithCopy(key, s => s.PublishIds) ?? [];

    /// <summary>This node's copy's position and terms, without its entries (what anti-entropy compares); null without one.</summary>
    public (StreamPosition Top, IReadOnlyList<WriterTerm> Terms)? Head(string key) =>
        WithCopy(key, s => ((StreamPosition Top, IReadOnlyList<WriterTerm> Terms)?)(s.Top, s.Terms));

    /// <summary>
    /// Ends a takeover: continues <paramref name="epoch"/> with the entries the other replicas had beyond this
    /// node's copy (a copy made from them if it had none), or starts a new epoch when <paramref name="epoch"/> is null.
    /// From now on this node writes the stream. It refuses the publish ids of <paramref name="formerIds"/>, which the
    /// copies held (a new epoch would otherwise append them again).
    /// </summary>
    public void TakeOver(
        string key, string? epoch, long top, IReadOnlyList<HistoryEntry> entries, IReadOnlyList<WriterTerm> terms, IReadOnlyList<FormerId> formerIds, string localId)
    {
        if (RuleFor(key) is null)
        {
            return;
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var current = _streams.TryGetValue(key, out var existing) ? existing : null;
        if (epoch is not null && current is not null && current.Epoch == epoch)
        {
            lock (current.Gate)
            {
                if (!current.Forgotten && current.Epoch == epoch)
                {
                    var (count, bytes) = (current.Count, current.Bytes);
                    if (current.Apply(entries) == CopyResult.Applied)
                    {
                        current.StartAt(top);
                        current.AdoptTerms(terms, top);
                        current.Inherit(formerIds);
                        current.ClaimWriter(localId, Interlocked.Read(ref _ownership));
                        Account(current.Count - count, current.Bytes - bytes);
                        return;
                    }
                }
            }
        }

        var replacement = new MessageStream(key, epoch ?? StreamPosition.NewEpoch());
        replacement.Touch(now);
        if (epoch is not null)
        {
            replacement.Apply(entries);
            replacement.StartAt(top);
            replacement.AdoptTerms(terms, top);
        }

        replacement.Inherit(formerIds);
        replacement.ClaimWriter(localId, Interlocked.Read(ref _ownership));
        Replace(key, current, replacement);
    }

    /// <summary>
    /// A replica takes a copy of a stream's entries (see <see cref="CopyKind"/>). A copy whose terms differ from this
    /// node's at offsets both hold (two owners wrote the epoch) is a conflict, whatever its kind.
    /// </summary>
    public CopyResult ApplyCopy(
        string key, string epoch, long top, IReadOnlyList<HistoryEntry> entries, IReadOnlyList<WriterTerm> terms, IReadOnlyList<FormerId> formerIds, CopyKind kind)
    {
        if (RuleFor(key) is null)
        {
            // This node's rules keep nothing of it (a config that differs between nodes): nothing to hold.
            return CopyResult.Applied;
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var current = _streams.TryGetValue(key, out var existing) ? existing : null;
        if (current is not null)
        {
            lock (current.Gate)
            {
                if (!current.Forgotten)
                {
                    if (current.Epoch == epoch && WriterTerm.Diverge(current.Terms, current.LastOffset, terms, top))
                    {
                        // Two owners wrote this epoch (the two sides of a partition): the owner must not go on as if not.
                        return CopyResult.Conflict;
                    }

                    if (current.Epoch == epoch && (kind == CopyKind.Append || top <= current.LastOffset))
                    {
                        // Entries after this copy's end are taken (for a whole stream or an offer, only when they follow it).
                        var (count, bytes) = (current.Count, current.Bytes);
                        var result = current.Apply(entries.Where(e => e.Offset > current.LastOffset || kind == CopyKind.Append));
                        current.AdoptTerms(terms, top);
                        current.Inherit(formerIds);
                        current.Touch(now);
                        Account(current.Count - count, current.Bytes - bytes);
                        return kind == CopyKind.Append ? result : CopyResult.Applied;
                    }

                    if (current.Epoch != epoch && kind != CopyKind.WholeStream)
                    {
                        return kind == CopyKind.Append ? CopyResult.NeedsWholeStream : CopyResult.Applied;
                    }
                }
            }
        }
        else if (kind == CopyKind.Append && entries.Count > 0 && entries[0].Offset != 1)
        {
            // A first copy that would miss the epoch's earlier messages: the owner sends what it keeps.
            return CopyResult.NeedsWholeStream;
        }

        // No copy, one of another epoch (the owner's whole stream), or a shorter one of this epoch.
        var replacement = new MessageStream(key, epoch);
        replacement.Touch(now);
        var applied = replacement.Apply(entries);
        replacement.StartAt(top);
        replacement.AdoptTerms(terms, top);
        replacement.Inherit(formerIds);
        Replace(key, current, replacement);
        return applied;
    }

    /// <summary>The keys of the streams this node holds a copy of.</summary>
    public IReadOnlyList<string> Keys() => [.. _streams.Keys];

    /// <summary>Drops this node's copy of a stream (it is no longer one of the key's replicas, and they have it).</summary>
    public void Forget(string key)
    {
        if (_streams.TryGetValue(key, out var stream))
        {
            lock (stream.Gate)
            {
                if (!stream.Forgotten)
                {
                    ForgetLocked(stream, "moved");
                }
            }
        }
    }

    private void Replace(string key, MessageStream? current, MessageStream replacement)
    {
        if (current is not null)
        {
            lock (current.Gate)
            {
                if (!current.Forgotten)
                {
                    var (count, bytes) = (current.Count, current.Bytes);
                    current.Forgotten = true;
                    Account(-count, -bytes);
                }
            }
        }

        _streams[key] = replacement;
        Account(replacement.Count, replacement.Bytes);
    }

    /// <summary>
    /// Reads a stream: the messages after <paramref name="since"/> or the latest ones (see <see cref="MessageStream.Read"/>).
    /// Null when the key keeps no history. A stream that has no epoch yet gets one, so that a client can hold a
    /// position in it before its first message.
    /// </summary>
    public HistoryRead? Read(string key, StreamPosition? since, int limit)
    {
        if (RuleFor(key) is not { } rule)
        {
            return null;
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        return WithStream(key, now, stream =>
        {
            TrimLocked(stream, rule, now);
            stream.Touch(now);
            return stream.Read(since, limit);
        });
    }

    /// <summary>
    /// Reads this node's copy of a stream without creating one (a new owner asking the other replicas): an empty
    /// epoch when there is none; null when the key keeps no history here.
    /// </summary>
    public HistoryRead? ReadCopy(string key, StreamPosition? since, int limit)
    {
        if (RuleFor(key) is null)
        {
            return null;
        }

        return WithCopy(key, s => s.Read(since, limit)) ?? new HistoryRead(new StreamPosition("", 0), Complete: false, [], []);
    }

    /// <summary>Trims every stream by its rule's age (and a changed rule's size) and forgets streams that have kept nothing for that age.</summary>
    public void Sweep()
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var stream in _streams.Values)
        {
            var rule = RuleFor(stream.Key);
            lock (stream.Gate)
            {
                if (rule is null)
                {
                    ForgetLocked(stream, "rule");
                    continue;
                }

                TrimLocked(stream, rule, now);
                if (stream.Count == 0 && stream.TouchedAtUnixMs < now - (long)rule.Age.TotalMilliseconds)
                {
                    ForgetLocked(stream, "age");
                }
            }
        }

        EnforceMaxBytes();
    }

    /// <summary>Runs <paramref name="use"/> on the key's stream under its lock, creating the stream if there is none (a new epoch).</summary>
    private T WithStream<T>(string key, long now, Func<MessageStream, T> use)
    {
        while (true)
        {
            var stream = StreamOf(key, now);
            lock (stream.Gate)
            {
                // A stream forgotten meanwhile was replaced or dropped: take the key's stream again.
                if (!stream.Forgotten)
                {
                    return use(stream);
                }
            }
        }
    }

    /// <summary>Runs <paramref name="use"/> on this node's copy of the key's stream under its lock; default without one.</summary>
    private T? WithCopy<T>(string key, Func<MessageStream, T> use)
    {
        while (_streams.TryGetValue(key, out var stream))
        {
            lock (stream.Gate)
            {
                if (!stream.Forgotten)
                {
                    return use(stream);
                }
            }
        }

        return default;
    }

    private MessageStream StreamOf(string key, long now) =>
        _streams.GetOrAdd(key, static (k, now) =>
        {
            var stream = new MessageStream(k, StreamPosition.NewEpoch());
            stream.Touch(now);
            return stream;
        }, now);

    private void TrimLocked(MessageStream stream, HistoryRule rule, long now)
    {
        var bytesBefore = stream.Bytes;
        var trimmed = stream.Trim(rule.Size, now - (long)rule.Age.TotalMilliseconds);
        metrics.Evicted(trimmed, "age");
        Account(-trimmed, stream.Bytes - bytesBefore);
    }

    private void ForgetLocked(MessageStream stream, string reason)
    {
        var (count, bytes) = (stream.Count, stream.Bytes);
        while (stream.RemoveOldest() > 0)
        {
        }

        metrics.Evicted(count, reason);
        Account(-count, -bytes);
        stream.Forgotten = true;
        _streams.TryRemove(new KeyValuePair<string, MessageStream>(stream.Key, stream));
    }

    private void Account(long messages, long bytes)
    {
        Interlocked.Add(ref _messages, messages);
        Interlocked.Add(ref _bytes, bytes);
    }

    /// <summary>Over <c>history.maxBytes</c>: evicts the node's oldest messages, stream by stream, down to 90 % of it, so one scan serves many appends.</summary>
    private void EnforceMaxBytes()
    {
        var max = config.Current.History.MaxBytes;
        if (Bytes <= max || !_evictionGate.TryEnter())
        {
            return;
        }

        try
        {
            var target = max - (max / 10);
            // Oldest first: the streams ordered by their oldest message, each emptied down to what the target allows.
            var byAge = _streams.Values
                .Select(s => (Stream: s, Oldest: s.OldestAtUnixMs))
                .Where(s => s.Oldest is not null)
                .OrderBy(s => s.Oldest)
                .Select(s => s.Stream)
                .ToList();
            foreach (var stream in byAge)
            {
                if (Bytes <= target)
                {
                    break;
                }

                lock (stream.Gate)
                {
                    var count = 0;
                    long freed = 0;
                    while (Bytes - freed > target && stream.RemoveOldest() is var bytes and > 0)
                    {
                        freed += bytes;
                        count++;
                    }

                    metrics.Evicted(count, "bytes");
                    Account(-count, -freed);
                }
            }
        }
        finally
        {
            _evictionGate.Exit();
        }
    }
}
