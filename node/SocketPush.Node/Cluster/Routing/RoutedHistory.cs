using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Cluster.Peers;

namespace SocketPush.Node.Cluster.Routing;

/// <summary>Reads a stream on the owner of its key, here or through a peer request.</summary>
internal sealed class RoutedHistory(ClusterRouter router, TimeProvider time) : IStreamHistory
{
    /// <summary>Most messages one read returns.</summary>
    public const int MaxLimit = 1000;

    public async Task<StreamPage?> ReadAsync(PublicationKind kind, string id, StreamPosition? since, int limit, CancellationToken cancellationToken)
    {
        var key = kind == PublicationKind.User ? Keys.User(id) : Keys.Channel(id);
        var request = new HistoryFetch(key, since?.Epoch, since?.Offset ?? 0, Math.Clamp(limit, 0, MaxLimit));
        var page = await router.AskOwnerAsync(key, request, cancellationToken).ConfigureAwait(false);
        if (!page.Enabled)
        {
            return null;
        }

        var channelId = kind == PublicationKind.Channel ? id : null;
        var now = time.GetTimestamp();
        return new StreamPage(
            new StreamPosition(page.Epoch, page.Offset),
            page.Complete,
            [.. page.Entries.Select(e => new Publication(kind, channelId, PeerJson.Read(e.Data), now, new StreamPosition(page.Epoch, e.Offset)))]);
    }
}
