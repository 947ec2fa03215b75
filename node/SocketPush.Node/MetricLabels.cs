using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace SocketPush.Node;

/// <summary>
/// The tag keys an instrument's measurements carry, which are its Prometheus label names, and the tag values shown
/// before any measurement. System.Diagnostics.Metrics has no place for them (OpenTelemetry's advisory attributes are
/// not in .NET, and an instrument's own tags are values every measurement carries), yet /metrics shows a labelled
/// family with its help from the start, and zeros for the label values known in advance so that dashboards and rate()
/// see no gaps. Kept beside the layers, not in one of them: every area declares, Admin's exporter reads.
/// </summary>
internal sealed class MetricLabels
{
    private static readonly ConditionalWeakTable<Meter, ConcurrentDictionary<string, MetricLabels>> Declared = new();

    private static readonly MetricLabels None = new([], []);

    private MetricLabels(string[] names, string[][] initial)
    {
        Names = names;
        Initial = initial;
    }

    /// <summary>The label names, in the order /metrics shows them.</summary>
    public string[] Names { get; }

    /// <summary>The label values exported, at zero, before any measurement: one array of <see cref="Names"/>' values each.</summary>
    public IReadOnlyList<string[]> Initial { get; }

    /// <summary>Labels whose values only measurements tell.</summary>
    public static MetricLabels Of(params string[] names) => new(names, []);

    /// <summary>One label and the values shown from the start.</summary>
    public static MetricLabels One(string name, params string[] initial) => new([name], [.. initial.Select(value => new[] { value })]);

    /// <summary>The labels declared for <paramref name="instrument"/>; none for an instrument created without them.</summary>
    public static MetricLabels Of(Instrument instrument) =>
        Declared.TryGetValue(instrument.Meter, out var byName) && byName.TryGetValue(instrument.Name, out var labels) ? labels : None;

    /// <summary>
    /// Creates an instrument named <paramref name="name"/> with these labels. They are declared before
    /// <paramref name="create"/> runs because a listener already started learns of the instrument inside its creation.
    /// </summary>
    public T Create<T>(Meter meter, string name, Func<string, T> create)
        where T : Instrument
    {
        Declared.GetOrCreateValue(meter)[name] = this;
        return create(name);
    }
}
