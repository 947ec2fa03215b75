using System.Text.Json;
using SocketPush.Node.Cluster.Delivery;

namespace SocketPush.Node.Owner.History;

/// <summary>
/// One stream's history on its owner: its epoch, its last offset and the messages it still keeps, oldest first, with
/// contiguous offsets. Callers hold <see cref="Gate"/> around every use; the store trims it by count, age and bytes.
/// </summary>
internal sealed class MessageStream(string key, string epoch)
{
    /// <summary>What an entry costs beyond its message and id: the entry, its element and its id's place in the index.</summary>
    internal const int EntryOverheadBytes = 160;

    private readonly List<HistoryEntry> _entries = [];
    private readonly Dictionary<string, long> _offsetsById = new(StringComparer.Ordinal);
    private readonly HashSet<long> _unconfirmed = [];
    private readonly Dictionary<string, long> _formerIds = new(StringComparer.Ordinal);
    private int _head;

    public Lock Gate { get; } = new();

    /// <summary>The stream's key: <c>c:{channelId}</c> or <c>u:{userId}</c>.</summary>
    public string Key { get; } = key;

    public string Epoch { get; } = epoch;

    /// <summary>The offset of the last message appended in this epoch (0 before the first).</summary>
    public long LastOffset { get; private set; }

    /// <summary>Wall time of the last append or of the stream's creation, which decides when an idle stream is forgotten.</summary>
    public long TouchedAtUnixMs { get; private set; }

    /// <summary>Set when the store forgot the stream; an appender that still held it takes the stream anew.</summary>
    public bool Forgotten { get; set; }

    /// <summary>Messages kept.</summary>
    public int Count => _entries.Count - _head;

    /// <summary>What the kept messages cost.</summary>
    public long Bytes { get; private set; }

    public StreamPosition Top => new(Epoch, LastOffset);

    /// <summary>The node that sequenced the stream's last message, or took the stream over since (null before either).</summary>
    public string? LastWriter { get => LastWriterField; private set => Volatile.Write(ref LastWriterField, value); }

    /// <summary>Read without the lock by <see cref="HistoryStore.NeedsTakeover"/>.</summary>
    internal string? LastWriterField;

    // Replaced, never changed in place: readers (every copy to a replica) take it without copying.
    private WriterTerm[] _terms = [];

    /// <summary>The owners' stretches of this epoch, oldest first.</summary>
    public IReadOnlyList<WriterTerm> Terms => _terms;

    /// <summary>The store's ownership generation at this node's last takeover (see <see cref="HistoryStore.NeedsTakeover"/>).</summary>
    public long ClaimedGeneration { get; private set; } = -1;

    /// <summary>This node took the stream over under a new term: it writes the stream from now on.</summary>
    public void ClaimWriter(string node, long generation)
    {
        // A term that wrote nothing (a takeover the ring undid before its first message) says nothing about any
        // offset: dropped, so that it cannot tell two copies apart that hold the same messages.
        _terms = [.. _terms.Where(t => t.Start <= LastOffset), new WriterTerm(StreamPosition.NewEpoch(), LastOffset + 1)];
        ClaimedGeneration = generation;
        LastWriter = node;
    }

    /// <summary>
    /// Takes the terms of a copy known compatible with this one (the same messages up to the shorter one's end) that
    /// reaches at least as far (<paramref name="top"/>): its terms describe every offset this copy holds. Taken even
    /// when they are not more: a term this copy holds but the owner's does not is a takeover that wrote nothing, and
    /// keeping it would make this copy differ from the owner's at the next offset, which the owner then writes.
    /// </summary>
    public void AdoptTerms(IReadOnlyList<WriterTerm> terms, long top)
    {
        if (top >= LastOffset)
        {
            _terms = [.. terms];
        }
    }

    /// <summary>A takeover must check with the other replicas again (this node's copy of a copy failed, or the ring moved).</summary>
    public void Unclaim() => ClaimedGeneration = -1;

    /// <summary>Completes when the last message sequenced here was handed to the fan-out: the next one waits for it.</summary>
    public Task DeliveryTail { get; set; } = Task.CompletedTask;

    /// <summary>The kept entry at <paramref name="offset"/>, if any.</summary>
    public HistoryEntry? EntryAt(long offset)
    {
        var index = Count > 0 ? offset - _entries[_head].Offset : -1;
        return index >= 0 && index < Count ? _entries[_head + (int)index] : null;
    }

    /// <summary>The kept entries, oldest first.</summary>
    public IReadOnlyList<HistoryEntry> Entries => Slice(0, Count);

    /// <summary>Whether the message at <paramref name="offset"/> was appended but not yet confirmed handed to the fan-out (its publish failed, or is under way).</summary>
    public bool IsUnconfirmed(long offset) => _unconfirmed.Contains(offset);

    /// <summary>The message at <paramref name="offset"/> reached its quorum and was handed to the fan-out.</summary>
    public void Confirm(long offset) => _unconfirmed.Remove(offset);

    /// <summary>Wall time of the oldest kept message, or null when none is kept.</summary>
    public long? OldestAtUnixMs => Count > 0 ? _entries[_head].PublishedAtUnixMs : null;

    public void Touch(long nowUnixMs) => TouchedAtUnixMs = Math.Max(TouchedAtUnixMs, nowUnixMs);

    /// <summary>Publish ids of former epochs this one refuses (see <see cref="FormerId"/>); their messages are not kept here.</summary>
    public void Inherit(IEnumerable<FormerId> ids)
    {
        foreach (var id in ids)
        {
            if (!_offsetsById.ContainsKey(id.PublishId))
            {
                _formerIds[id.PublishId] = Math.Max(_formerIds.GetValueOrDefault(id.PublishId), id.PublishedAtUnixMs);
            }
        }
    }

    /// <summary>Whether the publish id was appended in a former epoch (and is still within the rule's age).</summary>
    public bool IsFormer(string publishId) => _formerIds.ContainsKey(publishId);

    /// <summary>The publish ids inherited from former epochs.</summary>
    public IReadOnlyList<FormerId> FormerIds => [.. _formerIds.Select(f => new FormerId(f.Key, f.Value))];

    /// <summary>Every publish id the stream refuses: its former ones and those of its kept messages.</summary>
    public IReadOnlyList<FormerId> PublishIds => [.. FormerIds, .. Entries.Select(e => new FormerId(e.PublishId, e.PublishedAtUnixMs))];

    /// <summary>Appends the message unless its publish id is in the history already; returns its position either way.</summary>
    public Appended Append(string publishId, JsonElement data, long nowUnixMs, string writer)
    {
        if (_offsetsById.TryGetValue(publishId, out var offset))
        {
            return new Appended(new StreamPosition(Epoch, offset), Duplicate: true);
        }

        Add(new HistoryEntry(LastOffset + 1, publishId, data.Clone(), nowUnixMs, CostOf(publishId, data), writer));
        _unconfirmed.Add(LastOffset);
        Touch(nowUnixMs);
        return new Appended(new StreamPosition(Epoch, LastOffset), Duplicate: false);
    }

    /// <summary>
    /// Takes entries the owner sequenced (a replica's copy, or what a new owner fetched from the other replicas):
    /// each must follow this copy's last offset, or be one it holds already with the same publish id.
    /// </summary>
    public CopyResult Apply(IEnumerable<HistoryEntry> entries)
    {
        foreach (var entry in entries)
        {
            if (entry.Offset <= LastOffset)
            {
                if (EntryAt(entry.Offset) is { } held && held.PublishId != entry.PublishId)
                {
                    return CopyResult.Conflict;
                }

                continue;
            }

            if (entry.Offset != LastOffset + 1 && !(Count == 0 && LastOffset == 0))
            {
                return CopyResult.NeedsWholeStream;
            }

            Add(entry);
        }

        return CopyResult.Applied;
    }

    /// <summary>A new copy of a stream starts where its first entry is (a replica that was not there from the epoch's start).</summary>
    public void StartAt(long offset) => LastOffset = Math.Max(LastOffset, offset);

    private void Add(HistoryEntry entry)
    {
        _entries.Add(entry);
        _offsetsById[entry.PublishId] = entry.Offset;
        Bytes += entry.Bytes;
        LastOffset = entry.Offset;
        LastWriter = entry.Writer;
    }

    /// <summary>Bytes a message is counted for: its raw JSON, its id (UTF-16) and the fixed overhead.</summary>
    internal static int CostOf(string publishId, JsonElement data) =>
        EntryOverheadBytes + (2 * publishId.Length) + System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(data).Length;

    /// <summary>Drops the oldest messages beyond <paramref name="size"/> and those published before <paramref name="cutoffUnixMs"/>; returns how many.</summary>
    public int Trim(int size, long cutoffUnixMs)
    {
        if (_formerIds.Count > 0)
        {
            foreach (var (id, _) in _formerIds.Where(f => f.Value < cutoffUnixMs).OrderBy(f => f.Value).Concat(_formerIds.OrderBy(f => f.Value).SkipLast(size)).ToList())
            {
                _formerIds.Remove(id);
            }
        }

        var removed = 0;
        while (Count > 0 && (Count > size || _entries[_head].PublishedAtUnixMs < cutoffUnixMs))
        {
            RemoveOldest();
            removed++;
        }

        return removed;
    }

    /// <summary>Drops the oldest message (the store is over <c>history.maxBytes</c>); returns the bytes freed, 0 when none was kept.</summary>
    public int RemoveOldest()
    {
        if (Count == 0)
        {
            return 0;
        }

        var entry = _entries[_head];
        _entries[_head++] = null!;
        _offsetsById.Remove(entry.PublishId);
        _unconfirmed.Remove(entry.Offset);
        Bytes -= entry.Bytes;
        // Compacted when half the list is gone, so trimming costs O(1) per message on average.
        if (_head > 32 && _head * 2 > _entries.Count)
        {
            _entries.RemoveRange(0, _head);
            _head = 0;
        }

        return entry.Bytes;
    }

    /// <summary>
    /// The messages after <paramref name="since"/> (at most <paramref name="limit"/>, oldest first), or the latest
    /// <paramref name="limit"/> without a position. Incomplete, with no messages, when the position is of another
    /// epoch, beyond the stream's end, or older than what the history still holds.
    /// </summary>
    public HistoryRead Read(StreamPosition? since, int limit)
    {
        if (since is not { } position)
        {
            return new HistoryRead(Top, Complete: true, Slice(Math.Max(0, Count - limit), limit), Terms);
        }

        var firstKept = Count > 0 ? _entries[_head].Offset : LastOffset + 1;
        if (position.Epoch != Epoch || position.Offset > LastOffset || position.Offset + 1 < firstKept)
        {
            return new HistoryRead(Top, Complete: false, [], Terms);
        }

        return new HistoryRead(Top, Complete: true, Slice((int)(position.Offset + 1 - firstKept), limit), Terms);
    }

    private HistoryEntry[] Slice(int skip, int limit)
    {
        var count = Math.Max(0, Math.Min(limit, Count - skip));
        var slice = new HistoryEntry[count];
        _entries.CopyTo(_head + skip, slice, 0, count);
        return slice;
    }
}
