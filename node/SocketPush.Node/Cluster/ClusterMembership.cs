using System.Net;
using System.Net.Sockets;
using SocketPush.Gossip;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Cluster;

/// <summary>
/// This node's member of the gossip cluster and the ring built from it. The view is replaced as a whole on every
/// membership change; <see cref="RingChanged"/> says when owners may have moved.
/// </summary>
internal sealed class ClusterMembership(LiveConfig live, NodeIdentity identity, ILoggerFactory loggers, TimeProvider time) : IAsyncDisposable
{
    private readonly ILogger _logger = loggers.CreateLogger("SocketPush.Node.Cluster");
    private readonly RingSettings _ring = RingSettings.Of(live.Current);
    private readonly SemaphoreSlim _applying = new(1, 1);
    private readonly SemaphoreSlim _announcing = new(1, 1);
    private readonly Lock _viewGate = new();
    private volatile bool _leaving;
    private StandbyState _standby = new(live.Current.Node.Standby, "");
    private volatile string _configVersion = "none";
    private volatile string? _advertised;
    private long _peersRefused;
    private Membership? _gossip;
    private bool _alone = true;
    private ClusterView _view = ClusterView.Alone(identity.NodeId, RingSettings.Of(live.Current));

    // Members that refused records because they are leaving, with the incarnation they had then; guarded by
    // _viewGate. A note ends when the member is no longer that live incarnation (it left, or came back anew).
    private readonly Dictionary<string, uint> _heardLeaving = new(StringComparer.Ordinal);

    /// <summary>Raised with the view before and after, on the gossip loop, when the ring's members changed: keep handlers short.</summary>
    public event Action<ClusterView, ClusterView>? RingChanged;

    /// <summary>Raised on the gossip loop after any change of the view (a member's metadata too): keep handlers short.</summary>
    public event Action? ViewChanged;

    /// <summary>Raised on the gossip loop when a member was declared dead or left.</summary>
    public event Action<string>? MemberGone;

    public ClusterView View => Volatile.Read(ref _view);

    /// <summary>How many times a member was refused because this node cannot read its format (once per member and format).</summary>
    public long PeersRefused => Interlocked.Read(ref _peersRefused);

    public PeerChannel Peers => Gossip.Peers;

    public Membership Gossip => _gossip ?? throw new InvalidOperationException("The cluster port is not open yet.");

    /// <summary>Whether the cluster port is open and gossip runs.</summary>
    public bool Started => _gossip is not null;

    /// <summary>Alone on purpose (no seeds but itself), or in touch with at least one other member.</summary>
    public bool Joined => _alone || View.Members.Any(m => m.IsLive && m.Name != View.LocalId);

    /// <summary>Opens the cluster port and starts joining; the client and admin URLs must be known by now (metadata).</summary>
    public async Task StartAsync()
    {
        var config = live.Current;
        var seeds = await ResolveAllAsync(config.Cluster.Seeds);
        var options = GossipSettings.Of(config, seeds);
        var version = _configVersion;
        var metadata = Metadata();
        Membership gossip;
        try
        {
            gossip = Membership.Start(options, identity.NodeId, metadata, loggers, time);
        }
        catch (InvalidOperationException e)
        {
            throw new IOException(
                $"port {config.Node.ClusterPort} (node.clusterPort, UDP) on {config.Node.BindAddress} cannot be bound: another program may be using it; stop it, or choose another port (node.clusterPort in the config file, or --cluster-port).",
                e);
        }

        _alone = config.Cluster.Seeds.Count == seeds.Count && seeds.All(s => s == gossip.Address);
        identity.ClusterEndpoint = gossip.Address;
        _gossip = gossip;
        _advertised = version;
        gossip.Changed += (_, change) => OnChanged(change);
        OnChanged(null);
        live.Changed += (before, after) => _ = ApplyAsync(before, after);
    }

    /// <summary>A reloaded config: new SWIM timings from each timer's next run, and seeds listed since are joined.</summary>
    private async Task ApplyAsync(NodeConfig before, NodeConfig after)
    {
        // Runs detached from the reload, one at a time in the order of the reloads; what fails is logged, and
        // gossip keeps the settings it had.
        await _applying.WaitAsync();
        try
        {
            var added = after.Cluster.Seeds.Except(before.Cluster.Seeds, StringComparer.Ordinal).ToList();
            var resolved = await ResolveAllAsync(after.Cluster.Seeds);
            await Gossip.UpdateOptionsAsync(GossipSettings.Of(after, resolved));
            if (added.Count > 0)
            {
                await Gossip.JoinAsync(await ResolveAllAsync(added));
            }
        }
        catch (Exception e) when (e is ArgumentException or ObjectDisposedException or InvalidOperationException)
        {
            ClusterLog.ReloadNotApplied(_logger, e.Message);
        }
        finally
        {
            _applying.Release();
        }
    }

    private async Task<List<string>> ResolveAllAsync(IEnumerable<string> seeds)
    {
        var resolved = new List<string>();
        foreach (var seed in seeds)
        {
            if (await ResolveAsync(seed) is { } endPoint)
            {
                resolved.Add(endPoint);
            }
            else
            {
                ClusterLog.SeedUnresolved(_logger, seed);
            }
        }

        return resolved;
    }

    /// <summary>
    /// From now on this node's ring is the other members' ring without it, as theirs will be once it left: every
    /// key has its owner and replicas elsewhere, so the handoff sends every record away and clients are moved.
    /// Gossip still counts it as a member until <see cref="LeaveAsync"/>.
    /// </summary>
    public async Task BeginLeavingAsync()
    {
        _leaving = true;
        if (_gossip is null)
        {
            return;
        }

        OnChanged(null);
        try
        {
            // The others take this node out of their rings once they hear it, so nobody hands it records any more.
            await AnnounceAsync().ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // The cluster port is closed already; the others find out by failure detection.
        }
    }

    /// <summary>
    /// Puts the version of this node's cluster config layer in its metadata (once gossip runs; before, the start takes
    /// it), so that every member sees it. Called from one loop only (the layer's sync).
    /// </summary>
    public async Task AdvertiseConfigVersionAsync(string version)
    {
        _configVersion = version;
        if (_gossip is null || _advertised == version || _leaving)
        {
            return;
        }

        try
        {
            await AnnounceAsync().ConfigureAwait(false);
            _advertised = version;
        }
        catch (ObjectDisposedException)
        {
            // Stopping: the cluster port is closed.
        }
    }

    /// <summary>Whether this node has begun to leave (it takes no records any more).</summary>
    public bool Leaving => _leaving;

    /// <summary>Whether this node is a standby waiting to be promoted, and whom it stands in for once promoted.</summary>
    public StandbyState Standby => Volatile.Read(ref _standby);

    /// <summary>
    /// Promotes this standby: it stands in for <paramref name="deadMember"/>, joins the ring (the others hand it its
    /// share as to a joining node once they hear its new metadata) and tells gossip whom it stands in for, so that
    /// no other standby is promoted for the same member.
    /// </summary>
    public async Task PromoteAsync(string deadMember)
    {
        Volatile.Write(ref _standby, new StandbyState(false, deadMember));
        OnChanged(null);
        await AnnounceAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Gossips this node's metadata as it is now. One update at a time, each built inside: two callers (the config
    /// layer's version, a promotion) must not have the older one's state land last.
    /// </summary>
    private async Task AnnounceAsync()
    {
        await _announcing.WaitAsync().ConfigureAwait(false);
        try
        {
            await Gossip.UpdateMetadataAsync(Metadata()).ConfigureAwait(false);
        }
        finally
        {
            _announcing.Release();
        }
    }

    /// <summary>This node's metadata as it is now: what it starts with and every announcement.</summary>
    private byte[] Metadata() => NodeMetadata.Of(identity, _ring, _leaving, _configVersion, Standby).Encode();

    /// <summary>
    /// <paramref name="nodeId"/> refused records because it is leaving, before its metadata saying so reached this
    /// node (nodes stopping together): it is out of this node's ring at once, so nothing more is handed to it.
    /// </summary>
    public void HeardLeaving(string nodeId)
    {
        lock (_viewGate)
        {
            if (View.Member(nodeId) is not { IsLive: true } member || !_heardLeaving.TryAdd(nodeId, member.Incarnation))
            {
                return;
            }
        }

        OnChanged(null);
    }

    /// <summary>Gossips the departure; returns whether it went out completely before the gossip library's leave timeout or <paramref name="cancellationToken"/>.</summary>
    public async Task<bool> LeaveAsync(CancellationToken cancellationToken = default)
    {
        if (_gossip is null)
        {
            return true;
        }

        try
        {
            return await _gossip.LeaveAsync(cancellationToken);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            // Out of time, or the cluster port is closed already: nothing more can be announced.
            return false;
        }
    }

    public ValueTask DisposeAsync() => _gossip?.DisposeAsync() ?? ValueTask.CompletedTask;

    private void OnChanged(MembershipChange? change)
    {
        ClusterView before, after;
        lock (_viewGate)
        {
            // The gossip loop and BeginLeaving both rebuild the view; one at a time, so none is lost.
            before = View;
            var snapshot = Gossip.Snapshot;
            foreach (var (name, incarnation) in _heardLeaving)
            {
                if (!snapshot.Members.Any(m => m.Name == name && m.IsLive && m.Incarnation == incarnation))
                {
                    _heardLeaving.Remove(name);
                }
            }

            after = ClusterView.From(snapshot, identity.NodeId, _ring, _leaving, _heardLeaving.Keys.ToHashSet(StringComparer.Ordinal), Standby.Waiting);
            Publish(after);
        }

        if (after.RingProblem is { } problem && problem != before.RingProblem)
        {
            ClusterLog.RingSettingsDiffer(_logger, problem);
        }

        foreach (var refused in after.Refused.Except(before.Refused))
        {
            Interlocked.Increment(ref _peersRefused);
            ClusterLog.PeerRefused(_logger, refused.NodeId, refused.Address, refused.Why);
        }

        ViewChanged?.Invoke();
        if (change?.Kind is MembershipChangeKind.Failed or MembershipChangeKind.Left)
        {
            MemberGone?.Invoke(change.Member.Name);
        }

        if (!before.Ring.Equals(after.Ring))
        {
            if (after.Ring.NodeCount == 0)
            {
                // Only a leaving node's ring can be empty: every other member is leaving too (the cluster stopping).
                ClusterLog.OthersLeavingToo(_logger);
            }
            else
            {
#pragma warning disable CA1873 // Ring changes are rare; the member list is the point of the line.
                ClusterLog.RingChanged(_logger, after.Ring.NodeCount, string.Join(",", after.Ring.Nodes));
#pragma warning restore CA1873
            }

            RingChanged?.Invoke(before, after);
        }
    }

    private void Publish(ClusterView view) => Volatile.Write(ref _view, view);

    /// <summary>host:port with a host name or address, as an IPv4 endpoint string; null when it does not resolve.</summary>
    private static async Task<string?> ResolveAsync(string seed)
    {
        var colon = seed.LastIndexOf(':');
        var host = seed[..colon];
        var port = seed[(colon + 1)..];
        if (IPAddress.TryParse(host, out var literal))
        {
            return $"{literal}:{port}";
        }

        try
        {
            var addresses = await Dns.GetHostAddressesAsync(host);
            return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) is { } address ? $"{address}:{port}" : null;
        }
        catch (SocketException)
        {
            return null;
        }
    }
}
