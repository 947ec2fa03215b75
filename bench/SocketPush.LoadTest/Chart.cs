using ScottPlot;
using SocketPush.LoadTest.Clients;

namespace SocketPush.LoadTest;

/// <summary>
/// One PNG, three panels: fan-out latency percentiles, server CPU per delivery, and memory per idle
/// connection, each per system (SocketPush's extra transports included where measured) at the largest N.
/// </summary>
internal static class Chart
{
    private static readonly Color[] Palette = [Colors.SteelBlue, Colors.DarkOrange, Colors.SeaGreen, Colors.MediumPurple, Colors.Crimson, Colors.Gold];

    public static void Write(ResultsFile results, string path)
    {
        var ok = results.Runs.Where(r => r.Status.StartsWith("ok", StringComparison.Ordinal)).ToList();
        // The history set's sides are the same system: its tables say it all.
        if (ok.Count == 0 || results.History is not null)
        {
            return;
        }

        if (ok.All(r => r.Comparison is not null))
        {
            WriteCluster(results.Cluster, path);
            return;
        }

        var n = ok.Max(r => r.N);
        var multiplot = new Multiplot();
        multiplot.AddPlots(3);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();

        var fanOut = ok.Where(r => r.N == n && r.Scenario == Scenarios.FanOut && r.Latency is not null).ToList();
        GroupedBars(
            multiplot.GetPlot(0),
            $"Fan-out latency, N = {n:N0}",
            "milliseconds",
            [.. fanOut.Select(Label)],
            [("p50", [.. fanOut.Select(r => r.Latency!.P50Ms)]), ("p99", [.. fanOut.Select(r => r.Latency!.P99Ms)]), ("p99.9", [.. fanOut.Select(r => r.Latency!.P999Ms)])]);

        var cpuRuns = ok.Where(r => r.N == n && r.Scenario != Scenarios.Idle && double.IsFinite(r.ServerCpuMicrosecondsPerDelivery)).ToList();
        var cpuLabels = cpuRuns.Select(Label).Distinct().ToList();
        var scenarios = cpuRuns.Select(r => r.Scenario).Distinct().ToList();
        GroupedBars(
            multiplot.GetPlot(1),
            $"Server CPU per delivery, N = {n:N0}",
            "µs per delivered message",
            cpuLabels,
            [.. scenarios.Select(s => (s, cpuLabels.Select(l => cpuRuns.FirstOrDefault(r => r.Scenario == s && Label(r) == l)?.ServerCpuMicrosecondsPerDelivery ?? double.NaN).ToArray()))]);

        var idle = ok.Where(r => r.Scenario == Scenarios.Idle).ToList();
        var idleLabels = idle.Select(Label).Distinct().ToList();
        var sizes = idle.Select(r => r.N).Distinct().Order().ToList();
        GroupedBars(
            multiplot.GetPlot(2),
            "Memory per idle connection",
            "KB (PSS)",
            idleLabels,
            [.. sizes.Select(size => ($"N = {size:N0}", idleLabels.Select(l => idle.FirstOrDefault(r => r.N == size && Label(r) == l)?.PssKbPerConnection ?? double.NaN).ToArray()))]);

        multiplot.SavePng(path, 1800, 600);
    }

    /// <summary>The cluster set alone: latency of the spread measurements, fan-out deliveries/s and CPU, each 1 node against 3.</summary>
    private static void WriteCluster(List<ClusterComparison> pairs, string path)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(3);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        static double Figure(ClusterSide? side, Func<ClusterSide, double> figure) => side is null ? double.NaN : figure(side);

        var latency = pairs.Where(c => c.Measurement != ClusterComparison.FanOut).ToList();
        GroupedBars(
            multiplot.GetPlot(0),
            "Latency: publish n1, channel n2, receivers n3",
            "milliseconds",
            [.. latency.Select(c => $"{c.Measurement}\nN = {c.N:N0}")],
            [
                ("1 node p50", [.. latency.Select(c => Figure(c.OneNode, s => s.P50Ms))]),
                ("3 nodes p50", [.. latency.Select(c => Figure(c.ThreeNodes, s => s.P50Ms))]),
                ("1 node p99", [.. latency.Select(c => Figure(c.OneNode, s => s.P99Ms))]),
                ("3 nodes p99", [.. latency.Select(c => Figure(c.ThreeNodes, s => s.P99Ms))]),
            ]);

        var fanOut = pairs.Where(c => c.Measurement == ClusterComparison.FanOut).ToList();
        List<string> sizes = [.. fanOut.Select(c => $"N = {c.N:N0}")];
        GroupedBars(
            multiplot.GetPlot(1),
            "Fan-out deliveries/s",
            "deliveries per second",
            sizes,
            [("1 node", [.. fanOut.Select(c => Figure(c.OneNode, s => s.DeliveriesPerSecond))]), ("3 nodes", [.. fanOut.Select(c => Figure(c.ThreeNodes, s => s.DeliveriesPerSecond))])]);
        GroupedBars(
            multiplot.GetPlot(2),
            "Fan-out server CPU per delivery (all nodes)",
            "µs per delivered message",
            sizes,
            [("1 node", [.. fanOut.Select(c => Figure(c.OneNode, s => s.ServerCpuMicrosecondsPerDelivery))]), ("3 nodes", [.. fanOut.Select(c => Figure(c.ThreeNodes, s => s.ServerCpuMicrosecondsPerDelivery))])]);
        multiplot.SavePng(path, 1800, 600);
    }

    private static string Label(RunResult r) => r.Transport == Transports.WebSocket ? r.System : $"{r.System}\n{r.Transport}";

    private static void GroupedBars(Plot plot, string title, string yLabel, List<string> groups, List<(string Series, double[] Values)> series)
    {
        plot.Title(title);
        plot.YLabel(yLabel);
        var width = 0.8 / Math.Max(1, series.Count);
        for (var s = 0; s < series.Count; s++)
        {
            var bars = new List<Bar>();
            for (var g = 0; g < groups.Count; g++)
            {
                var value = series[s].Values[g];
                if (!double.IsFinite(value))
                {
                    continue;
                }

                bars.Add(new Bar
                {
                    Position = g + ((s - ((series.Count - 1) / 2.0)) * width),
                    Value = value,
                    Size = width * 0.95,
                    FillColor = Palette[s % Palette.Length],
                    Label = value >= 100 ? value.ToString("0") : value.ToString("0.0"),
                });
            }

            var plottable = plot.Add.Bars(bars);
            plottable.ValueLabelStyle.FontSize = 10;
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = series[s].Series, FillColor = Palette[s % Palette.Length] });
        }

        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, groups.Count).Select(i => (double)i)], [.. groups]);
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.HideGrid();
        plot.Axes.Margins(bottom: 0, top: 0.15);
        plot.ShowLegend(Alignment.UpperLeft);
    }
}
