using SocketPush.Client.Services;
using SocketPush.Node.Configuration;
using SocketPush.Node.Owner.Records;

namespace SocketPush.Node.Cluster.ConfigLayer;

/// <summary>
/// This node's copy of the cluster's config layer: set here (<c>manager.setConfig</c>) or merged from a peer, kept in
/// <c>node.stateDir</c> so that the node starts with it, and applied through the same path as a reload of the file.
/// </summary>
internal sealed class ConfigLayerStore(LiveConfig live, ConfigReloader reloader, HybridClock clock, NodeIdentity identity, ILogger<ConfigLayerStore> logger)
{
    /// <summary>The file in <c>node.stateDir</c>.</summary>
    public const string FileName = "cluster-config.json";

    private readonly Lock _gate = new();
    private StampedLayer _layer = StampedLayer.Empty;
    private string? _refusedVersion;

    /// <summary>Raised after the layer changed (set here or merged), under the store's lock: keep handlers short.</summary>
    public event Action? Changed;

    public StampedLayer Layer => Volatile.Read(ref _layer);

    /// <summary>Where the layer is kept, or null when <c>node.stateDir</c> is empty (nothing kept).</summary>
    public string? FilePath { get; } = live.Current.Node.StateDir is { Length: > 0 } directory ? Path.GetFullPath(Path.Combine(directory, FileName)) : null;

    /// <summary>At start, before anything reads the config: the layer this node kept, applied over its file.</summary>
    public void Restore()
    {
        if (FilePath is not { } path)
        {
            ConfigLayerLog.NotKept(logger);
            return;
        }

        if (!File.Exists(path))
        {
            return;
        }

        StampedLayer layer;
        try
        {
            layer = StampedLayer.FromFile(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            // The peers still have the layer and give it back once the node has joined.
            ConfigLayerLog.NotRestored(logger, path, e.Message);
            return;
        }

        // The node's next set must be stamped after every write it kept, whatever its clock says now.
        clock.Observe(layer.Latest.Time);
        lock (_gate)
        {
            Volatile.Write(ref _layer, layer);
            reloader.ApplyCluster(layer.ToLayer());
        }

        ConfigLayerLog.Restored(logger, layer.Version, path);
    }

    /// <summary>
    /// Writes <paramref name="changes"/> (key → JSON value, null to take a key out; checked by
    /// <see cref="ClusterLayer.ReadChanges"/>) with a new stamp, keeps and applies the new layer.
    /// </summary>
    /// <exception cref="ServiceException">
    /// <c>invalid_argument</c> when this node's config would not be valid with it, naming each key;
    /// <c>unavailable</c> when the state directory cannot be written.
    /// </exception>
    public StampedLayer Set(IReadOnlyDictionary<string, string?> changes)
    {
        lock (_gate)
        {
            var next = _layer.Set(changes, new Stamp(clock.Now(), identity.NodeId));
            if (ReferenceEquals(next, _layer))
            {
                return next;
            }

            // Only what this set makes wrong: a layer that this node could not take before (a key of a newer
            // version, say) does not block the next set.
            var before = reloader.Check(_layer.ToLayer());
            if (reloader.Check(next.ToLayer()).Except(before).ToList() is { Count: > 0 } problems)
            {
                throw new ServiceException(ErrorCodes.InvalidArgument,
                    "manager.setConfig refused, nothing was changed: " + string.Join(" ", problems.Select(p => $"{p.Key}: {p.Message}")));
            }

            try
            {
                Save(next);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ServiceException(ErrorCodes.Unavailable, $"manager.setConfig refused, nothing was changed: this node cannot keep the layer in {FilePath}: {e.Message}");
            }

            Commit(next);
            return next;
        }
    }

    /// <summary>Merges a peer's layer; true when it brought something new (then kept and applied).</summary>
    public bool Merge(StampedLayer theirs)
    {
        lock (_gate)
        {
            var next = _layer.Merge(theirs);
            if (ReferenceEquals(next, _layer))
            {
                return false;
            }

            if (!clock.Observe(theirs.Latest.Time))
            {
                // Taken, a write from a clock far ahead would win over every later set until real time caught up.
                if (_refusedVersion != theirs.Version)
                {
                    _refusedVersion = theirs.Version;
                    ConfigLayerLog.FromTheFuture(logger, theirs.Version, StampedLayer.TimeOf(theirs.Latest));
                }

                return false;
            }

            try
            {
                Save(next);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The cluster's layer is followed all the same; a restart before the next write takes it from the peers.
                ConfigLayerLog.NotSaved(logger, FilePath!, e.Message);
            }

            Commit(next);
            return true;
        }
    }

    private void Commit(StampedLayer next)
    {
        Volatile.Write(ref _layer, next);
        reloader.ApplyCluster(next.ToLayer());
        Changed?.Invoke();
    }

    /// <summary>Writes the file whole, then renames it over the old one: a crash leaves the old layer or the new, never half of one.</summary>
    private void Save(StampedLayer layer)
    {
        if (FilePath is not { } path)
        {
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".tmp";
        File.WriteAllBytes(temporary, layer.ToFile());
        File.Move(temporary, path, overwrite: true);
    }
}

internal static partial class ConfigLayerLog
{
    [LoggerMessage(EventId = 520, Level = LogLevel.Information, Message = "Cluster config layer {Version} restored from {Path}")]
    public static partial void Restored(ILogger logger, string version, string path);

    [LoggerMessage(EventId = 521, Level = LogLevel.Error, Message = "Cluster config layer not restored from {Path}, the peers will give it back: {Problem}")]
    public static partial void NotRestored(ILogger logger, string path, string problem);

    [LoggerMessage(EventId = 522, Level = LogLevel.Error, Message = "Cluster config layer not kept in {Path}; it is in force, and a restart takes it from the peers: {Problem}")]
    public static partial void NotSaved(ILogger logger, string path, string problem);

    [LoggerMessage(EventId = 523, Level = LogLevel.Warning, Message = "Cluster config layer {Version} refused: written at {WrittenAt:O}, too far ahead of this node's clock; check the clocks of the cluster's machines (NTP)")]
    public static partial void FromTheFuture(ILogger logger, string version, DateTimeOffset writtenAt);

    [LoggerMessage(EventId = 524, Level = LogLevel.Information, Message = "node.stateDir is empty: the cluster config layer (manager.setConfig) is not kept across restarts of this node")]
    public static partial void NotKept(ILogger logger);

    [LoggerMessage(EventId = 525, Level = LogLevel.Debug, Message = "Cluster config layer not exchanged with {Node}: {Problem}")]
    public static partial void NotExchanged(ILogger logger, string node, string problem);
}
