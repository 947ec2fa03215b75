using System.Text.Json;
using MemoryPack;
using SocketPush.Client.Services;
using SocketPush.Node.Owner.History;
using SocketPush.Node.Owner.Records;
using SocketPush.Node.Cluster.ConfigLayer;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Cluster.Routing;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Cluster;

/// <summary>manager: the cluster as this node sees it, from gossip and the ring, and the cluster's config layer.</summary>
internal sealed class ManagerService(
    NodeIdentity identity,
    ClusterMembership membership,
    RecordStore store,
    HandoffSender handoff,
    ClusterRouter router,
    MissingCopies missing,
    AntiEntropy antiEntropy,
    ConfigReloader reloader,
    HistoryStore history,
    HistoryMetrics historyMetrics,
    LiveConfig live,
    ConfigLayerStore configLayer) : IManagerService
{
    /// <summary>How long manager.status waits for another member's record counts; a member slower than that shows none.</summary>
    private static readonly TimeSpan CountTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Keys below cluster.replicas copies that manager.status names (the count is of all of them).</summary>
    private const int UnderReplicatedSample = 20;

    public async Task<JsonElement> StatusAsync(CancellationToken cancellationToken = default)
    {
        var view = membership.View;
        var counts = await CountsAsync(view, cancellationToken);
        var shares = view.Shares();
        var members = view.Members.IsEmpty
            ? [new { nodeId = identity.NodeId, state = "alive", incarnation = 0u, address = identity.ClusterEndpoint, clientUrl = identity.ClientUrl, adminUrl = identity.AdminUrl, wireVersion = (int?)ClusterSettings.WireVersion, configVersion = (string?)configLayer.Layer.Version, standby = membership.Standby.Waiting, standsInFor = membership.Standby.StandsInFor, ringShare = 1.0m, local = true, records = counts.GetValueOrDefault(identity.NodeId) }]
            : view.Members.Select(m => new
            {
                nodeId = m.Name,
                state = m.State.ToString().ToLowerInvariant(),
                incarnation = m.Incarnation,
                address = m.Address,
                clientUrl = m.Metadata?.ClientUrl ?? "",
                adminUrl = m.Metadata?.AdminUrl ?? "",
                wireVersion = m.Metadata?.WireVersion,
                configVersion = m.Metadata?.ConfigVersion,
                standby = m.Metadata?.Standby ?? false,
                standsInFor = m.Metadata?.StandsInFor ?? "",
                ringShare = Share(shares.GetValueOrDefault(m.Name)),
                local = m.Name == view.LocalId,
                records = counts.GetValueOrDefault(m.Name),
            }).ToArray();
        // This node's own counts came with the others' (asked locally); counted here only if that failed.
        var held = counts.GetValueOrDefault(identity.NodeId) ?? HeldRecords.Of(store, view, missing);
        var (underReplicated, sample) = missing.Keys(UnderReplicatedSample);
        return JsonSerializer.SerializeToElement(new
        {
            nodeId = identity.NodeId,
            joined = membership.Joined,
            members,
            ringAgreed = view.RingProblem is null,
            ringProblem = view.RingProblem,
            virtualNodes = view.VirtualNodes,
            replicas = view.Replicas,
            writeQuorum = Replication.QuorumOf(view, live.Current),
            records = held,
            pendingHandoff = handoff.PendingHandoff,
            replication = new
            {
                replicas = view.Settings.Replicas,
                copiesPossible = view.Replicas,
                keysUnderReplicated = underReplicated,
                missingCopies = missing.Count,
                keysUnderReplicatedSample = sample,
            },
            antiEntropy = antiEntropy.LastRound?.ToJson(),
            history = new
            {
                streams = history.Streams,
                messages = history.Messages,
                bytes = history.Bytes,
                maxBytes = live.Current.History.MaxBytes,
                evicted = historyMetrics.EvictedByReason(),
            },
            config = new
            {
                version = reloader.Version,
                appliedAt = reloader.AppliedAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                lastReload = reloader.Last?.ToJson(),
            },
            clusterConfig = new
            {
                version = configLayer.Layer.Version,
                agreed = view.ConfigProblem is null,
                problem = view.ConfigProblem,
            },
        }, JsonSerializerOptions.Web);
    }

    public Task<JsonElement> SetConfigAsync(JsonElement changes, CancellationToken cancellationToken = default)
    {
        var problems = new List<ConfigProblem>();
        var read = ClusterLayer.ReadChanges(changes, problems);
        if (problems.Count > 0)
        {
            throw new ServiceException(ErrorCodes.InvalidArgument,
                "manager.setConfig refused, nothing was changed: " + string.Join(" ", problems.Select(p => $"{p.Key}: {p.Message}")));
        }

        return Task.FromResult(Describe(configLayer.Set(read)));
    }

    public Task<JsonElement> GetConfigAsync(CancellationToken cancellationToken = default) => Task.FromResult(Describe(configLayer.Layer));

    /// <summary>The layer with its values as JSON (not as text), each entry with when and where it was written, and where this node keeps it.</summary>
    private JsonElement Describe(StampedLayer layer)
    {
        static JsonElement? Value(string? json) => json is null ? null : JsonDocument.Parse(json).RootElement.Clone();
        return JsonSerializer.SerializeToElement(new
        {
            version = layer.Version,
            values = layer.Entries.Where(e => e.Value.Value is not null).ToDictionary(e => e.Key, e => Value(e.Value.Value)),
            entries = layer.Entries.Select(e => new
            {
                key = e.Key,
                value = Value(e.Value.Value),
                removed = e.Value.Value is null,
                setAt = StampedLayer.TimeOf(e.Value.Stamp).ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                setBy = e.Value.Stamp.Node,
            }),
            stateFile = configLayer.FilePath,
        }, JsonSerializerOptions.Web);
    }

    /// <summary>What each live member of the ring holds, asked of them all at once; a member that does not answer in time is left out.</summary>
    private async Task<Dictionary<string, HeldRecords>> CountsAsync(ClusterView view, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CountTimeout);
        var asked = view.Ring.Nodes.Select(async node =>
        {
            try
            {
                return (node, (HeldRecords?)await router.AskAsync(node, new RecordsCount(), timeout.Token).ConfigureAwait(false));
            }
            catch (Exception e) when (e is ServiceException or OperationCanceledException)
            {
                return (node, (HeldRecords?)null);
            }
        });
        var answers = await Task.WhenAll(asked).ConfigureAwait(false);
        return answers.Where(a => a.Item2 is not null).ToDictionary(a => a.node, a => a.Item2!, StringComparer.Ordinal);
    }

    /// <summary>A decimal with at least one digit after the point, so a share always decodes as a fraction (a float in PHP), never an int.</summary>
    private static decimal Share(double share)
    {
        var rounded = Math.Round((decimal)share, 6);
        return rounded.Scale == 0 ? rounded + 0.0m : rounded;
    }
}

/// <summary>
/// The records one node holds (with content; tombstones left out): all of them, and split into those of keys it owns
/// and the copies it holds as another replica; and the copies it still owes other replicas.
/// </summary>
[MemoryPackable]
internal sealed partial record HeldRecords(int Users, int Sessions, int Channels, int Owned, int Copies, int KeysUnderReplicated, int MissingCopies)
{
    public static HeldRecords Of(RecordStore store, ClusterView view, MissingCopies missing)
    {
        var (users, sessions, channels) = store.LiveCounts();
        var owned = view.RingProblem is null ? store.LiveKeys().Count(key => view.Owner(key) == view.LocalId) : users + sessions + channels;
        return new HeldRecords(users, sessions, channels, owned, users + sessions + channels - owned, missing.Keys(0).Keys, missing.Count);
    }
}
