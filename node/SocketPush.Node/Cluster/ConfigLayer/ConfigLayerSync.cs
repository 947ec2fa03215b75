using System.Threading.Channels;
using SocketPush.Client.Services;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Cluster.Routing;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Cluster.ConfigLayer;

/// <summary>
/// Spreads the cluster's config layer. Each node puts its layer's version in its gossip metadata, so every member
/// learns every other's version within a gossip round and nothing else travels while they agree. A node that sees a
/// live member with another version exchanges layers with it (one peer call: its layer there, the member's merged one
/// back). Merging only adds later writes, so the exchanges end with one layer everywhere, whatever the order. This
/// one path serves a set on any node, a node that missed a set while it was down (it keeps its layer in
/// <c>node.stateDir</c> and catches up when it rejoins) and a new node (it starts with none). Chosen over
/// replicating the layer as a record on the ring: every node needs all of it, and the version in the metadata is
/// also what manager.status and the cluster view show and compare.
/// </summary>
internal sealed class ConfigLayerSync(
    ClusterMembership membership, ConfigLayerStore store, ClusterRouter router, LiveConfig live, TimeProvider time, ILogger<ConfigLayerSync> logger)
    : BackgroundService
{
    /// <summary>How often the versions are compared when nothing changed: an exchange that failed is tried again then.</summary>
    public static readonly TimeSpan Recheck = TimeSpan.FromSeconds(1);

    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        membership.ViewChanged += Wake;
        store.Changed += Wake;
        using var tick = time.CreateTimer(_ => Wake(), null, Recheck, Recheck);
        try
        {
            while (await _wake.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                _wake.Reader.TryRead(out _);
                await SyncAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
        finally
        {
            membership.ViewChanged -= Wake;
            store.Changed -= Wake;
        }
    }

    private void Wake() => _wake.Writer.TryWrite(true);

    private async Task SyncAsync(CancellationToken stoppingToken)
    {
        await membership.AdvertiseConfigVersionAsync(store.Layer.Version).ConfigureAwait(false);
        var view = membership.View;
        foreach (var member in view.Members)
        {
            if (!member.IsLive || member.Name == view.LocalId || member.Metadata is not { Leaving: false } metadata || metadata.ConfigVersion == store.Layer.Version)
            {
                continue;
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(live.Current.Cluster.RequestTimeout);
            try
            {
                store.Merge(await router.AskAsync(member.Name, new ConfigExchange(store.Layer), timeout.Token).ConfigureAwait(false));
            }
            catch (Exception e) when (e is ServiceException || (e is OperationCanceledException && !stoppingToken.IsCancellationRequested))
            {
                // Tried again at the next check while the versions still differ.
                ConfigLayerLog.NotExchanged(logger, member.Name, e.Message);
            }
        }
    }
}
