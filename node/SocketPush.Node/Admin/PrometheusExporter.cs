using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Numerics;
using Prometheus;

namespace SocketPush.Node.Admin;

/// <summary>
/// The node's /metrics: the meters of every area and the runtime's own figures, in a prometheus-net registry of this
/// node's (not the static default), so several nodes in one process keep their figures apart. It listens only to meters
/// made by this node's <see cref="IMeterFactory"/> and named <c>SocketPush.*</c>: the host's meters (Kestrel, hosting)
/// come from the same factory, under names Prometheus does not take. An instrument keeps its name, its description as
/// help and its tags as labels; prometheus-net's MeterAdapter would rename it and forget the series not seen lately.
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    private const string OwnMeters = "SocketPush.";

    private readonly IMeterFactory _meterFactory;
    private readonly MetricFactory _collectors;
    private readonly MeterListener _listener;

    public PrometheusExporter(IMeterFactory meterFactory)
    {
        _meterFactory = meterFactory;
        Registry = Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        _collectors = Metrics.WithCustomRegistry(Registry);
        _listener = new MeterListener { InstrumentPublished = Publish };
        _listener.SetMeasurementEventCallback<long>(Record);
        _listener.SetMeasurementEventCallback<int>(Record);
        _listener.SetMeasurementEventCallback<double>(Record);
        _listener.Start();
        // Observable instruments show totals and backlogs that other code keeps: read when Prometheus asks.
        Registry.AddBeforeCollectCallback(_listener.RecordObservableInstruments);
    }

    public CollectorRegistry Registry { get; }

    public void Dispose() => _listener.Dispose();

    private static void Record<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
        where T : struct, INumberBase<T> => ((Exported)state!).Record(double.CreateTruncating(value), tags);

    private void Publish(Instrument instrument, MeterListener listener)
    {
        if (!ReferenceEquals(instrument.Meter.Scope, _meterFactory) || !instrument.Meter.Name.StartsWith(OwnMeters, StringComparison.Ordinal))
        {
            return;
        }

        var labels = MetricLabels.Of(instrument);
        var name = instrument.Name;
        var help = instrument.Description ?? "";
        var kind = instrument.GetType().GetGenericTypeDefinition();
        Exported? exported = null;
        if (kind == typeof(Counter<>) || kind == typeof(ObservableCounter<>))
        {
            // An observable counter reports the total so far, not an increment.
            var observed = kind == typeof(ObservableCounter<>);
            exported = new Exported<Counter.Child, ICounter>(
                _collectors.CreateCounter(name, help, labels.Names), labels, observed ? static (c, v) => c.IncTo(v) : static (c, v) => c.Inc(v));
        }
        else if (kind == typeof(UpDownCounter<>))
        {
            exported = new Exported<Gauge.Child, IGauge>(_collectors.CreateGauge(name, help, labels.Names), labels, static (g, v) => g.Inc(v));
        }
        else if (kind == typeof(Gauge<>) || kind == typeof(ObservableGauge<>) || kind == typeof(ObservableUpDownCounter<>))
        {
            exported = new Exported<Gauge.Child, IGauge>(_collectors.CreateGauge(name, help, labels.Names), labels, static (g, v) => g.Set(v));
        }
        else if (kind == typeof(Histogram<>))
        {
            // The area's advice keeps the buckets dashboards were built on; without it, prometheus-net's defaults.
            var buckets = instrument is Histogram<double> { Advice.HistogramBucketBoundaries: { } boundaries } ? boundaries.ToArray() : null;
            var histogram = _collectors.CreateHistogram(name, help, labels.Names, new HistogramConfiguration { Buckets = buckets });
            exported = new Exported<Histogram.Child, IHistogram>(histogram, labels, static (h, v) => h.Observe(v));
        }

        if (exported is not null)
        {
            listener.EnableMeasurementEvents(instrument, exported);
        }
    }

    /// <summary>One instrument's collector, and how a measurement lands in it.</summary>
    private abstract class Exported
    {
        public abstract void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags);
    }

    /// <typeparam name="TChild">A labelled series of the collector.</typeparam>
    /// <typeparam name="TMetric">What a measurement lands in: a labelled series, or the collector itself when it has no labels.</typeparam>
    private sealed class Exported<TChild, TMetric> : Exported
        where TChild : ChildBase, TMetric
    {
        private readonly Collector<TChild> _collector;
        private readonly string[] _labelNames;
        private readonly Action<TMetric, double> _record;

        // Children by the value of their one label: a delivery records once per connection, and this lookup allocates nothing.
        private readonly ConcurrentDictionary<string, TChild> _byValue = new(StringComparer.Ordinal);

        public Exported(Collector<TChild> collector, MetricLabels labels, Action<TMetric, double> record)
        {
            _collector = collector;
            _labelNames = labels.Names;
            _record = record;
            foreach (var values in labels.Initial)
            {
                collector.WithLabels(values).Publish();
            }
        }

        public override void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags) => _record(Child(tags), value);

        private TMetric Child(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            switch (_labelNames.Length)
            {
                case 0:
                    // Counter, Gauge and Histogram are their own unlabelled series.
                    return (TMetric)(object)_collector;
                case 1:
                    return _byValue.GetOrAdd(Value(tags, _labelNames[0]), static (value, collector) => collector.WithLabels(value), _collector);
                default:
                    var values = new string[_labelNames.Length];
                    for (var i = 0; i < values.Length; i++)
                    {
                        values[i] = Value(tags, _labelNames[i]);
                    }

                    return _collector.WithLabels(values);
            }
        }

        /// <summary>The value of the tag named <paramref name="label"/>; empty, as Prometheus reads an absent label, when there is none.</summary>
        private static string Value(ReadOnlySpan<KeyValuePair<string, object?>> tags, string label)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == label)
                {
                    return tag.Value as string ?? Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? "";
                }
            }

            return "";
        }
    }
}
