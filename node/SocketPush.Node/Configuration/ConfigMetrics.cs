using System.Diagnostics.Metrics;

namespace SocketPush.Node.Configuration;

/// <summary>The config's metrics: reloads by result, the version in force and when it was applied.</summary>
internal sealed class ConfigMetrics
{
    private readonly Counter<long> _reloads;
    private readonly Gauge<long> _version;
    private readonly Gauge<double> _appliedAt;

    public ConfigMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create("SocketPush.Configuration");
        _reloads = MetricLabels.One("result", "applied", "refused").Create(meter, "socketpush_config_reloads_total", name => meter.CreateCounter<long>(
            name, description: "Reloads of the config file and applications of the cluster's config layer, by result (applied, or refused as a whole)."));
        _version = meter.CreateGauge<long>(
            "socketpush_config_version", description: "Version of the config in force: 1 at start, one more per reload of the file or of the cluster's layer that changed something.");
        _appliedAt = meter.CreateGauge<double>("socketpush_config_applied_timestamp_seconds", description: "When the config in force was applied (Unix time).");
    }

    public void ConfigReloaded(string result) => _reloads.Add(1, new KeyValuePair<string, object?>("result", result));

    public void ConfigApplied(int version, DateTimeOffset at)
    {
        _version.Record(version);
        _appliedAt.Record(at.ToUnixTimeMilliseconds() / 1000.0);
    }
}
