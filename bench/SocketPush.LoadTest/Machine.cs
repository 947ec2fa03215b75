using System.Globalization;

namespace SocketPush.LoadTest;

/// <summary>Facts about this machine and how busy it is, from /proc.</summary>
internal static class Machine
{
    public static MachineInfo Describe()
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        var mem = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        var memKb = mem is null ? 0 : long.Parse(mem.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        return new MachineInfo
        {
            Cpu = cpu is null ? "unknown" : cpu[(cpu.IndexOf(':') + 1)..].Trim(),
            Cores = Environment.ProcessorCount,
            MemoryGb = Math.Round(memKb / 1024.0 / 1024.0, 1),
            Kernel = File.ReadAllText("/proc/sys/kernel/osrelease").Trim(),
            LoadAverageBefore = LoadAverage(),
            OpenFilesLimit = ResourceLimits.OpenFiles(),
        };
    }

    public static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    /// <summary>CPU seconds the whole machine has spent busy (not idle, not waiting for I/O) since boot.</summary>
    public static double BusyCpuSeconds()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long total = 0;
        for (var i = 1; i < Math.Min(fields.Length, 9); i++)
        {
            total += long.Parse(fields[i], CultureInfo.InvariantCulture);
        }

        var idle = long.Parse(fields[4], CultureInfo.InvariantCulture) + long.Parse(fields[5], CultureInfo.InvariantCulture);
        return (total - idle) / 100.0;
    }
}
