using System.Text.Json;
using SocketPush.Node.Cluster.Delivery;

namespace SocketPush.Node.Owner.History;

/// <summary>One message kept in a stream.</summary>
/// <param name="Offset">Its place in the stream's epoch.</param>
/// <param name="PublishId">The publish's id: a retried publish with the same id is not appended again.</param>
/// <param name="Data">The message as published (a cloned element: it outlives the request).</param>
/// <param name="PublishedAtUnixMs">When it was appended, wall time, which ages it out and which clients are shown.</param>
/// <param name="Bytes">What it costs against <c>history.maxBytes</c>: the message's JSON, its id and a fixed overhead.</param>
internal sealed record HistoryEntry(long Offset, string PublishId, JsonElement Data, long PublishedAtUnixMs, int Bytes);

/// <summary>What a read of a stream found.</summary>
/// <param name="Top">The stream's position now: its epoch and the offset of its last message.</param>
/// <param name="Complete">
/// Whether <see cref="Entries"/> hold every message after the position asked for (the history still holds them and
/// the epoch is the same); always true when no position was given.
/// </param>
/// <param name="Entries">The messages after the position (or the latest, without one), oldest first, at most the limit.</param>
internal sealed record HistoryRead(StreamPosition Top, bool Complete, IReadOnlyList<HistoryEntry> Entries);

/// <summary>What an append did.</summary>
/// <param name="Position">The message's position; for a duplicate, the position it had when first appended.</param>
/// <param name="Duplicate">The stream held a message with this publish id already, so nothing was appended.</param>
internal readonly record struct Appended(StreamPosition Position, bool Duplicate);
