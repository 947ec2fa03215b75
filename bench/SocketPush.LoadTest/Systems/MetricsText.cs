using System.Globalization;

namespace SocketPush.LoadTest.Systems;

/// <summary>Samples of a Prometheus text exposition (a node's /metrics).</summary>
internal static class MetricsText
{
    /// <summary>Each sample line that <paramref name="wanted"/> picks, by its name and labels (the line up to its value).</summary>
    public static Dictionary<string, double> Samples(string text, Func<string, bool> wanted)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('#') || !wanted(line))
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            if (space > 0 && double.TryParse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                samples[line[..space]] = value;
            }
        }

        return samples;
    }
}
