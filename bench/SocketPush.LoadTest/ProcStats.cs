using System.Globalization;

namespace SocketPush.LoadTest;

/// <summary>CPU time and memory of a set of processes, read from /proc.</summary>
internal readonly record struct ProcSample(double CpuSeconds, long RssKb, long PssKb, int Processes);

internal static class ProcStats
{
    // USER_HZ is 100 on every Linux this harness targets; /proc/[pid]/stat counts in it.
    private const double TicksPerSecond = 100.0;

    /// <summary>The process and all of its descendants (nginx's workers, for one).</summary>
    public static IReadOnlyList<int> WithDescendants(int root)
    {
        var parents = new Dictionary<int, List<int>>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            var stat = ReadStatFields(pid);
            if (stat is null || !int.TryParse(stat[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var ppid))
            {
                continue;
            }

            if (!parents.TryGetValue(ppid, out var children))
            {
                parents[ppid] = children = [];
            }

            children.Add(pid);
        }

        var result = new List<int> { root };
        for (var i = 0; i < result.Count; i++)
        {
            if (parents.TryGetValue(result[i], out var children))
            {
                result.AddRange(children);
            }
        }

        return result;
    }

    public static ProcSample Sample(IEnumerable<int> pids)
    {
        double cpu = 0;
        long rss = 0, pss = 0;
        var alive = 0;
        foreach (var pid in pids)
        {
            var stat = ReadStatFields(pid);
            if (stat is null)
            {
                continue;
            }

            alive++;
            // Fields after "(comm)": [0]=state [1]=ppid ... [11]=utime [12]=stime.
            cpu += (long.Parse(stat[11], CultureInfo.InvariantCulture) + long.Parse(stat[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
            var (r, p) = ReadMemory(pid);
            rss += r;
            pss += p;
        }

        return new ProcSample(cpu, rss, pss, alive);
    }

    public static double SelfCpuSeconds()
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return self.TotalProcessorTime.TotalSeconds;
    }

    private static string[]? ReadStatFields(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        // The command name may hold spaces and parentheses; it ends at the last ')'.
        var close = text.LastIndexOf(')');
        return close < 0 ? null : text[(close + 2)..].Split(' ');
    }

    private static (long RssKb, long PssKb) ReadMemory(int pid)
    {
        long rss = 0, pss = 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/smaps_rollup"))
            {
                if (line.StartsWith("Rss:", StringComparison.Ordinal))
                {
                    rss = ParseKb(line);
                }
                else if (line.StartsWith("Pss:", StringComparison.Ordinal))
                {
                    pss = ParseKb(line);
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return (rss, pss);
    }

    private static long ParseKb(string line)
    {
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 2 && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var kb) ? kb : 0;
    }
}
