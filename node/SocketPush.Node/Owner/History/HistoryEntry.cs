using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using MemoryPack;
using SocketPush.Node.Cluster.Delivery;

namespace SocketPush.Node.Owner.History;

/// <summary>One message kept in a stream.</summary>
/// <param name="Offset">Its place in the stream's epoch.</param>
/// <param name="PublishId">The publish's id: a retried publish with the same id is not appended again.</param>
/// <param name="Data">The message as published (a cloned element: it outlives the request).</param>
/// <param name="PublishedAtUnixMs">When it was appended, wall time, which ages it out and which clients are shown.</param>
/// <param name="Bytes">What it costs against <c>history.maxBytes</c>: the message's JSON, its id and a fixed overhead.</param>
/// <param name="Writer">The node that sequenced it (the stream's owner then): a new owner that finds another writer's entries last checks with the other replicas before it appends.</param>
internal sealed record HistoryEntry(long Offset, string PublishId, JsonElement Data, long PublishedAtUnixMs, int Bytes, string Writer);

/// <summary>What a read of a stream found.</summary>
/// <param name="Top">The stream's position now: its epoch and the offset of its last message.</param>
/// <param name="Complete">
/// Whether <see cref="Entries"/> hold every message after the position asked for (the history still holds them and
/// the epoch is the same); always true when no position was given.
/// </param>
/// <param name="Entries">The messages after the position (or the latest, without one), oldest first, at most the limit.</param>
/// <param name="Terms">The owners' stretches of the epoch, which a new owner compares between copies.</param>
internal sealed record HistoryRead(StreamPosition Top, bool Complete, IReadOnlyList<HistoryEntry> Entries, IReadOnlyList<WriterTerm> Terms);

/// <summary>What an append did.</summary>
/// <param name="Position">The message's position; for a duplicate, the position it had when first appended.</param>
/// <param name="Duplicate">The stream held a message with this publish id already, so nothing was appended.</param>
internal readonly record struct Appended(StreamPosition Position, bool Duplicate);

/// <summary>
/// A message appended on the owner, on its way to the replicas and then to the subscribers: its entry, and its turn
/// in the stream's deliveries (so that messages are handed to the fan-out in offset order whatever order their
/// copies complete in).
/// </summary>
/// <param name="Position">The message's position.</param>
/// <param name="Entry">The appended entry (for a retry of an unconfirmed one, the entry appended first).</param>
/// <param name="Previous">Completes when the stream's previous message was handed to the fan-out (or given up).</param>
/// <param name="Turn">Completed by the caller once this one was handed to the fan-out (or given up).</param>
/// <param name="Duplicate">A publish id the stream holds, already delivered, or one of a former epoch: nothing to do.</param>
internal sealed record Sequenced(
    StreamPosition Position, HistoryEntry? Entry, Task Previous, TaskCompletionSource Turn, [property: MemberNotNullWhen(false, nameof(Sequenced.Entry))] bool Duplicate);

/// <summary>
/// A publish id a stream holds, with when it was appended: what a new epoch inherits from the copies of the one it
/// replaces, so that a publish appended there is not appended again in the new one (a backend's retry, or a publish
/// a link delivers late, after a partition healed). Kept for the stream rule's age, at most its size of them.
/// </summary>
[MemoryPackable]
internal readonly partial record struct FormerId(string PublishId, long PublishedAtUnixMs);

/// <summary>A node's copy of a stream: its position, kept entries, terms, and the publish ids it inherited from former epochs.</summary>
internal sealed record StreamSnapshot(StreamPosition Top, IReadOnlyList<HistoryEntry> Entries, IReadOnlyList<WriterTerm> Terms, IReadOnlyList<FormerId> FormerIds);

/// <summary>What a copy of a stream's entries is.</summary>
internal enum CopyKind : byte
{
    /// <summary>The owner's newly sequenced entries, which must follow the replica's copy.</summary>
    Append,

    /// <summary>The owner's whole stream: replaces a copy of another epoch, extends a shorter one.</summary>
    WholeStream,

    /// <summary>
    /// A copy from a node that is no longer a replica (handoff): taken where the replica has none, or extends a
    /// shorter copy of the same epoch; another epoch stays as it is, the owner's copies decide.
    /// </summary>
    Offer,
}

/// <summary>How a replica took a copy of a stream's entries.</summary>
internal enum CopyResult : byte
{
    /// <summary>Applied, or held already.</summary>
    Applied,

    /// <summary>The replica's copy is of another epoch or misses entries before these: it needs the owner's whole stream.</summary>
    NeedsWholeStream,

    /// <summary>The replica holds another message at one of these offsets of the same epoch: two writers.</summary>
    Conflict,
}

/// <summary>
/// One owner's stretch of an epoch: the messages from <paramref name="Start"/> on were sequenced by the node that
/// took the stream over under <paramref name="Term"/> (a random id per takeover). Two copies of an epoch whose
/// stretches differ below both their ends were written on both sides of a partition: continuity is lost.
/// </summary>
[MemoryPackable]
internal readonly partial record struct WriterTerm(string Term, long Start)
{
    /// <summary>Terms as a log line shows them: each term's first characters and the offset it starts at.</summary>
    public static string Describe(IReadOnlyList<WriterTerm> terms) =>
        string.Join(",", terms.Select(t => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{t.Term[..Math.Min(6, t.Term.Length)]}@{t.Start}")));

    /// <summary>Whether two copies of one epoch (their terms and last offsets) hold different messages at some offset both have.</summary>
    public static bool Diverge(IReadOnlyList<WriterTerm> a, long topA, IReadOnlyList<WriterTerm> b, long topB)
    {
        var upTo = Math.Min(topA, topB);
        return !a.Where(t => t.Start <= upTo).SequenceEqual(b.Where(t => t.Start <= upTo));
    }
}
