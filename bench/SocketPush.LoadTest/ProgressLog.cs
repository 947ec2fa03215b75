using System.Diagnostics;

namespace SocketPush.LoadTest;

/// <summary>Progress on stderr: one line per step, and a throttled status line while a step runs.</summary>
internal sealed class ProgressLog
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _lock = new();
    private TimeSpan _lastStatus = TimeSpan.FromDays(-1);

    public void Line(string text)
    {
        lock (_lock)
        {
            Console.Error.WriteLine($"[{_clock.Elapsed:hh\\:mm\\:ss}] {text}");
            _lastStatus = TimeSpan.FromDays(-1);
        }
    }

    /// <summary>At most one line a second, so a log file stays readable.</summary>
    public void Status(string text)
    {
        lock (_lock)
        {
            var now = _clock.Elapsed;
            if (now - _lastStatus < TimeSpan.FromSeconds(1))
            {
                return;
            }

            _lastStatus = now;
            Console.Error.WriteLine($"[{now:hh\\:mm\\:ss}]     {text}");
        }
    }
}
