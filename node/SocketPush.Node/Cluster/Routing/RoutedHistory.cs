using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Cluster.Peers;

namespace SocketPush.Node.Cluster.Routing;

/// <summary>Reads a stream on the owner of its key, here or through a peer request: for the edge, and for channel.history and user.history.</summary>
internal sealed class RoutedHistory(ClusterRouter router, TimeProvider time) : IStreamHistory
{
    /// <summary>Most messages one read returns.</summary>
    public const int MaxLimit = 1000;

    /// <summary>Messages a history call returns without a limit.</summary>
    public const int DefaultLimit = 100;

    public async Task<StreamPage?> ReadAsync(PublicationKind kind, string id, StreamPosition? since, int limit, CancellationToken cancellationToken)
    {
        var key = kind == PublicationKind.User ? Keys.User(id) : Keys.Channel(id);
        var page = await FetchAsync(key, since, limit, cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// A history call's answer: <c>{epoch, offset, complete, messages: [{offset, id, publishedAt, data}]}</c>, or
    /// <c>invalid_argument</c> for a stream that keeps no history (naming the config key) or a bad since or limit.
    /// </summary>
    public async Task<JsonElement> PageAsync(string key, string stream, string rulesKey, string? since, int? limit, CancellationToken cancellationToken)
    {
        StreamPosition? position = null;
        if (since is not null)
        {
            if (!StreamPosition.TryParse(since, out var parsed))
            {
                throw new ServiceException(ErrorCodes.InvalidArgument, "since must be a stream position, epoch.offset, as messages and earlier history calls give them.");
            }

            position = parsed;
        }

        if (limit is < 0 or > MaxLimit)
        {
            throw new ServiceException(ErrorCodes.InvalidArgument, $"limit must be 0–{MaxLimit}.");
        }

        var page = await FetchAsync(key, position, limit ?? DefaultLimit, cancellationToken).ConfigureAwait(false);
        if (!page.Enabled)
        {
            throw new ServiceException(ErrorCodes.InvalidArgument, $"The {stream} keeps no history: no rule of {rulesKey} matches it, its rule's size is 0, or history.maxBytes is 0.");
        }

        return JsonSerializer.SerializeToElement(new
        {
            epoch = page.Epoch,
            offset = page.Offset,
            complete = page.Complete,
            messages = page.Entries.Select(e => new { offset = e.Offset, id = e.PublishId, publishedAt = e.PublishedAtUnixMs, data = PeerJson.Read(e.Data) }),
        });
    }

    /// <summary>
    /// Reads on the owner as a publish goes there: an owner that stops answering is waited out until the ring names
    /// the next one (within <c>cluster.publishTimeout</c>), which takes the stream over with every acknowledged
    /// message. A recovery or gap fill during a failover then completes instead of ending in <c>recovered: false</c>.
    /// </summary>
    private Task<HistoryPage> FetchAsync(string key, StreamPosition? since, int limit, CancellationToken cancellationToken)
    {
        var fetch = new HistoryFetch(key, since?.Epoch, since?.Offset ?? 0, Math.Clamp(limit, 0, MaxLimit), asOwner: true);
        return router.AskOwnerWithFailoverAsync(key, local => fetch.RunAsync(local, cancellationToken), () => fetch, cancellationToken);
    }
}
