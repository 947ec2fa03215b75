namespace SocketPush.Node.Cluster.Delivery;

/// <summary>A page of a stream's history, in no client's wire format.</summary>
/// <param name="Top">The stream's position when it was read.</param>
/// <param name="Complete">Whether the messages follow the position asked for without a gap (always, when none was).</param>
/// <param name="Messages">Oldest first, each with its position.</param>
internal sealed record StreamPage(StreamPosition Top, bool Complete, IReadOnlyList<Publication> Messages);

/// <summary>
/// The streams' history as the edge reads it, wherever the stream's owner is: the seam through which a connection
/// recovers what it missed and fills a gap in a live stream.
/// </summary>
internal interface IStreamHistory
{
    /// <summary>
    /// Reads the user's or the channel's stream after <paramref name="since"/> (or its latest messages without one),
    /// at most <paramref name="limit"/>; null when the stream keeps no history.
    /// </summary>
    Task<StreamPage?> ReadAsync(PublicationKind kind, string id, StreamPosition? since, int limit, CancellationToken cancellationToken);
}
