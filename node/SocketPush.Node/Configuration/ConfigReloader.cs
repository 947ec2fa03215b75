using System.Text.Json;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Primitives;

namespace SocketPush.Node.Configuration;

/// <summary>What one reload did: the keys it applied, the keys it refused and why, or the error that refused the whole file.</summary>
internal sealed record ReloadOutcome(DateTimeOffset At, int Version, IReadOnlyList<string> Applied, IReadOnlyList<RefusedKey> Refused, string? Error)
{
    public string Result => Error is null ? "applied" : "refused";

    public JsonElement ToJson() => JsonSerializer.SerializeToElement(new
    {
        at = At.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        result = Result,
        version = Version,
        applied = Applied,
        refused = Refused.Select(r => new { key = r.Key, reason = r.Reason }),
        error = Error,
    });
}

/// <summary>A key a reload left as it was, and why.</summary>
internal sealed record RefusedKey(string Key, string Reason);

/// <summary>
/// Watches the config file and applies what changed without a restart. The file provider's change token says
/// when the file was written, renamed over or replaced; edits in quick succession collapse into one reload of
/// the last version (<see cref="Settle"/>). A file that does not parse or validate is refused as a whole and the
/// node keeps its last good config; keys that need a restart are refused one by one and the rest of the edit
/// applies. Command-line flags are applied over the file at every reload, so they keep their precedence. The cluster's
/// layer (<see cref="ClusterLayer"/>) goes between the two, through the same path: a reload of the file keeps the
/// layer over it, and a new layer is applied over the file as the file was last read.
/// </summary>
internal sealed class ConfigReloader : IDisposable
{
    /// <summary>How long the file must stay unchanged before it is read: an editor's save is several writes.</summary>
    public static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(300);

    private readonly ConfigSource _source;
    private readonly LiveConfig _live;
    private readonly ConfigMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<ConfigReloader> _logger;
    private readonly Lock _gate = new();
    private readonly ITimer _settleTimer;
    private PhysicalFileProvider? _files;
    private IDisposable? _watch;
    private readonly HashSet<string> _flagKeys;
    private int _version = 1;
    private ReloadOutcome? _last;
    private ReloadOutcome? _lastCluster;

    /// <summary>The file and the flags as last applied: what the cluster layer goes over.</summary>
    private NodeConfig _below;

    /// <summary>The keys the file writes (null without a file), for the source of each value.</summary>
    private IReadOnlySet<string>? _fileKeys;

    /// <summary>The cluster's latest layer, applied or not: a reload of the file goes under it.</summary>
    private ClusterLayer _cluster = ClusterLayer.Empty;

    /// <summary>The layer the running config was made with, and its keys that took effect (not refused, not under a flag).</summary>
    private (ClusterLayer Layer, IReadOnlySet<string> Keys) _clusterInForce = (ClusterLayer.Empty, new HashSet<string>());

    public ConfigReloader(ConfigSource source, LiveConfig live, ConfigMetrics metrics, TimeProvider time, ILogger<ConfigReloader> logger)
    {
        _source = source;
        _live = live;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _below = live.Current;
        _flagKeys = source.Flags.Keys.Select(flag => ConfigLoader.Flags.GetValueOrDefault(flag)?.Key).OfType<string>().ToHashSet(StringComparer.Ordinal);
        _fileKeys = ReadFileKeys(source.Path);
        AppliedAt = time.GetUtcNow();
        _settleTimer = time.CreateTimer(static state => ((ConfigReloader)state!).OnSettled(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        metrics.ConfigApplied(_version, AppliedAt);
    }

    /// <summary>The file the node reads, or null when it was started without one.</summary>
    public string? Path => _source.Path;

    /// <summary>1 for the config the node started with, one more for every reload that applied something.</summary>
    public int Version
    {
        get
        {
            lock (_gate)
            {
                return _version;
            }
        }
    }

    public DateTimeOffset AppliedAt { get; private set; }

    /// <summary>The last reload, or null when there was none.</summary>
    public ReloadOutcome? Last
    {
        get
        {
            lock (_gate)
            {
                return _last;
            }
        }
    }

    /// <summary>The last time the cluster's layer was applied here, or null when it never was.</summary>
    public ReloadOutcome? LastCluster
    {
        get
        {
            lock (_gate)
            {
                return _lastCluster;
            }
        }
    }

    /// <summary>The cluster layer the running config was made with.</summary>
    public ClusterLayer ClusterInForce
    {
        get
        {
            lock (_gate)
            {
                return _clusterInForce.Layer;
            }
        }
    }

    /// <summary>Starts watching the file; without one there is nothing to watch.</summary>
    public void Watch()
    {
        if (_source.Path is not { } path)
        {
            return;
        }

        // No exclusion filters: a config file named like a dot file must be watched too.
        _files = new PhysicalFileProvider(System.IO.Path.GetDirectoryName(path)!, Microsoft.Extensions.FileProviders.Physical.ExclusionFilters.None);
        var name = System.IO.Path.GetFileName(path);
        _watch = ChangeToken.OnChange(() => _files.Watch(name), () => _settleTimer.Change(Settle, Timeout.InfiniteTimeSpan));
        ConfigLog.Watching(_logger, path);
    }

    /// <summary>Reads the file now and applies what it may; also what worker.reload runs.</summary>
    public ReloadOutcome Reload()
    {
        lock (_gate)
        {
            var outcome = ReloadLocked();
            _last = outcome;
            Report(outcome, null);
            return outcome;
        }
    }

    /// <summary>
    /// Applies the cluster's layer over the file as last read, the way a reload applies the file: what this node
    /// cannot take is refused and named, the rest applies. The layer stays the one a later reload of the file goes
    /// under, even when it could not apply now.
    /// </summary>
    public ReloadOutcome ApplyCluster(ClusterLayer layer)
    {
        lock (_gate)
        {
            _cluster = layer;
            var outcome = ApplyLocked(_below, layer, _fileKeys, _time.GetUtcNow());
            _lastCluster = outcome;
            Report(outcome, layer);
            return outcome;
        }
    }

    /// <summary>What would be wrong with the config of this node under <paramref name="layer"/>, each with its key; nothing is applied.</summary>
    public IReadOnlyList<ConfigProblem> Check(ClusterLayer layer)
    {
        lock (_gate)
        {
            var problems = new List<ConfigProblem>();
            var next = layer.Over(_below, _flagKeys, problems);
            problems.AddRange(ConfigValidator.Validate(next));
            return problems;
        }
    }

    /// <summary>
    /// Where each value in force came from, by dotted key: <c>flag</c>, <c>cluster</c> (the cluster's layer),
    /// <c>file</c>, or <c>default</c> (built in).
    /// </summary>
    public IReadOnlyDictionary<string, string> Sources()
    {
        lock (_gate)
        {
            var defaults = ConfigKeys.Flatten(new NodeConfig()).ToDictionary(k => k.Key, k => k.Value, StringComparer.Ordinal);
            var sources = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value) in ConfigKeys.Flatten(_live.Current))
            {
                sources[key] = _flagKeys.Contains(key) ? "flag"
                    : _clusterInForce.Keys.Contains(key) ? "cluster"
                    // A node configured in code (tests) has no file: what it set differs from the defaults.
                    : (_fileKeys?.Contains(key) ?? value != defaults[key]) ? "file"
                    : "default";
            }

            return sources;
        }
    }

    public void Dispose()
    {
        _watch?.Dispose();
        _files?.Dispose();
        _settleTimer.Dispose();
    }

    private ReloadOutcome ReloadLocked()
    {
        var now = _time.GetUtcNow();
        if (_source.Path is null)
        {
            return new ReloadOutcome(now, _version, [], [], "this node was started without a config file (no --config and no config.yml), so there is nothing to reload.");
        }

        NodeConfig next;
        IReadOnlySet<string> fileKeys;
        try
        {
            var yaml = File.ReadAllText(_source.Path);
            if (yaml.Trim().Length == 0)
            {
                // An empty file is far more often an editor or a script half way through writing it than an
                // intent to fall back to every default, which would reset the whole running node.
                return new ReloadOutcome(now, _version, [], [], $"{_source.Path}: the file is empty; a running node does not fall back to every default.");
            }

            next = ConfigLoader.Load(_source, yaml);
            fileKeys = ConfigKeys.WrittenIn(yaml);
        }
        catch (Exception e) when (e is ConfigException or IOException or UnauthorizedAccessException)
        {
            return new ReloadOutcome(now, _version, [], [], e.Message);
        }

        return ApplyLocked(next, _cluster, fileKeys, now);
    }

    /// <summary>The one way a config comes into force: <paramref name="below"/> (the file and the flags) under the cluster's layer.</summary>
    private ReloadOutcome ApplyLocked(NodeConfig below, ClusterLayer layer, IReadOnlySet<string>? fileKeys, DateTimeOffset now)
    {
        var layerRefused = new List<ConfigProblem>();
        var next = layer.Over(below, _flagKeys, layerRefused);
        var current = _live.Current;
        var refused = new List<RefusedKey>();
        var applied = new List<string>();
        foreach (var key in ConfigKeys.Differences(current, next))
        {
            if (ConfigKeys.NeedsRestart(key, current, next))
            {
                // The node keeps running as it is; the rest of the edit still applies.
                ConfigKeys.Copy(key, current, next);
                ConfigKeys.Copy(key, current, below);
                refused.Add(new RefusedKey(key, "needs a restart of the node to change; the running value stays in force"));
                ConfigLog.NeedsRestart(_logger, key);
            }
            else
            {
                applied.Add(key);
            }
        }

        foreach (var problem in layerRefused)
        {
            refused.Add(new RefusedKey(problem.Key, $"the cluster config layer's value is not taken by this node: {problem.Message}"));
        }

        // The file was valid as written, but with the running values of the keys it may not change it can be
        // invalid: admin.bindAddress edited to loopback together with the API keys removed would leave the running,
        // reachable admin port without a key. The cluster's layer was valid where it was set, over that node's file.
        if (ConfigValidator.Validate(next) is { Count: > 0 } problems)
        {
            var over = layer.Values.IsEmpty ? "" : $" under the cluster config layer {layer.Version}";
            var context = refused.Count > 0 ? $"with the running values of the keys that need a restart{over}" : over.TrimStart();
            return new ReloadOutcome(now, _version, [], refused,
                $"{context}, the config is not valid: " + string.Join("; ", problems.Select(p => $"{p.Key}: {p.Message}")));
        }

        _below = below;
        _fileKeys = fileKeys;
        var inForce = layer.Values.Keys.Where(k => !_flagKeys.Contains(k) && layerRefused.All(p => p.Key != k));
        _clusterInForce = (layer, inForce.ToHashSet(StringComparer.Ordinal));
        if (applied.Count > 0)
        {
            _version++;
            AppliedAt = now;
            _live.Replace(next);
        }

        return new ReloadOutcome(now, _version, applied, refused, null);
    }

    /// <summary>Logs and counts an outcome: of the file, or of the cluster's <paramref name="layer"/>.</summary>
    private void Report(ReloadOutcome outcome, ClusterLayer? layer)
    {
        _metrics.ConfigReloaded(outcome.Result);
        if (outcome.Error is not null)
        {
            if (layer is null)
            {
                ConfigLog.Refused(_logger, outcome.Error);
            }
            else
            {
                ConfigLog.ClusterRefused(_logger, layer.Version, outcome.Error);
            }
        }
        else if (outcome.Applied.Count > 0)
        {
            _metrics.ConfigApplied(outcome.Version, outcome.At);
#pragma warning disable CA1873 // Reloads are rare; the keys are the point of the line.
            var keys = string.Join(", ", outcome.Applied);
#pragma warning restore CA1873
            if (layer is null)
            {
                ConfigLog.Applied(_logger, outcome.Version, keys);
            }
            else
            {
                ConfigLog.ClusterApplied(_logger, outcome.Version, layer.Version, keys);
            }
        }
    }

    private static HashSet<string>? ReadFileKeys(string? path)
    {
        if (path is null)
        {
            return null;
        }

        try
        {
            return [.. ConfigKeys.WrittenIn(File.ReadAllText(path))];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private void OnSettled()
    {
        // The token fires on the file provider's thread; reading and applying happen here, off it.
#pragma warning disable CA1031 // A reload must never take the node down; what went wrong is in the outcome or the log.
        try
        {
            Reload();
        }
        catch (Exception e)
        {
            ConfigLog.Failed(_logger, e);
        }
#pragma warning restore CA1031
    }
}

internal static partial class ConfigLog
{
    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "Watching {Path} for changes")]
    public static partial void Watching(ILogger logger, string path);

    [LoggerMessage(EventId = 501, Level = LogLevel.Information, Message = "Config version {Version} applied: {Keys}")]
    public static partial void Applied(ILogger logger, int version, string keys);

    [LoggerMessage(EventId = 502, Level = LogLevel.Error, Message = "Config reload refused, the node keeps its last good config: {Error}")]
    public static partial void Refused(ILogger logger, string error);

    [LoggerMessage(EventId = 503, Level = LogLevel.Warning, Message = "Config key {Key} changed in the file but needs a restart of the node; the running value stays in force")]
    public static partial void NeedsRestart(ILogger logger, string key);

    [LoggerMessage(EventId = 504, Level = LogLevel.Error, Message = "Config reload failed")]
    public static partial void Failed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 505, Level = LogLevel.Information, Message = "Config version {Version} applied from the cluster config layer {Layer}: {Keys}")]
    public static partial void ClusterApplied(ILogger logger, int version, string layer, string keys);

    [LoggerMessage(EventId = 506, Level = LogLevel.Error, Message = "Cluster config layer {Layer} not applied, the node keeps its last good config: {Error}")]
    public static partial void ClusterRefused(ILogger logger, string layer, string error);
}
