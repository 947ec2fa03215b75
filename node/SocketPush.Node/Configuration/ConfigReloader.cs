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
/// applies. Command-line flags are applied over the file at every reload, so they keep their precedence.
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
    private int _version = 1;
    private ReloadOutcome? _last;

    public ConfigReloader(ConfigSource source, LiveConfig live, ConfigMetrics metrics, TimeProvider time, ILogger<ConfigReloader> logger)
    {
        _source = source;
        _live = live;
        _metrics = metrics;
        _time = time;
        _logger = logger;
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
            _metrics.ConfigReloaded(outcome.Result);
            if (outcome.Error is not null)
            {
                ConfigLog.Refused(_logger, outcome.Error);
            }
            else if (outcome.Applied.Count > 0)
            {
                _metrics.ConfigApplied(outcome.Version, outcome.At);
#pragma warning disable CA1873 // Reloads are rare; the keys are the point of the line.
                ConfigLog.Applied(_logger, outcome.Version, string.Join(", ", outcome.Applied));
#pragma warning restore CA1873
            }

            return outcome;
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
        }
        catch (Exception e) when (e is ConfigException or IOException or UnauthorizedAccessException)
        {
            return new ReloadOutcome(now, _version, [], [], e.Message);
        }

        var current = _live.Current;
        var refused = new List<RefusedKey>();
        var applied = new List<string>();
        foreach (var key in ConfigKeys.Differences(current, next))
        {
            if (ConfigKeys.NeedsRestart(key, current, next))
            {
                // The node keeps running as it is; the rest of the edit still applies.
                ConfigKeys.Copy(key, current, next);
                refused.Add(new RefusedKey(key, "needs a restart of the node to change; the running value stays in force"));
                ConfigLog.NeedsRestart(_logger, key);
            }
            else
            {
                applied.Add(key);
            }
        }

        // The file was valid as written, but with the running values of the keys it may not change it can be
        // invalid: admin.bindAddress edited to loopback together with the API keys removed would leave the running,
        // reachable admin port without a key.
        if (refused.Count > 0 && ConfigValidator.Validate(next) is { Count: > 0 } problems)
        {
            return new ReloadOutcome(now, _version, [], refused,
                "with the running values of the keys that need a restart, the file is not valid: "
                + string.Join("; ", problems.Select(p => $"{p.Key}: {p.Message}")));
        }

        if (applied.Count > 0)
        {
            _version++;
            AppliedAt = now;
            _live.Replace(next);
        }

        return new ReloadOutcome(now, _version, applied, refused, null);
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
}
