using System.Globalization;

namespace SocketPush.LoadTest;

internal static class ResourceLimits
{
    /// <summary>The soft limit on open files of this process (children inherit it), from /proc/self/limits.</summary>
    public static int OpenFiles()
    {
        foreach (var line in File.ReadLines("/proc/self/limits"))
        {
            if (line.StartsWith("Max open files", StringComparison.Ordinal))
            {
                var parts = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length > 0 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var soft))
                {
                    return soft;
                }
            }
        }

        return 1024;
    }
}
