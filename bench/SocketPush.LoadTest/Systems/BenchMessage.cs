using System.Diagnostics;
using System.Globalization;

namespace SocketPush.LoadTest.Systems;

/// <summary>
/// The message every system carries: the publisher's monotonic timestamp (0 for warm-up messages), a
/// sequence number and a fixed pad, about 100 bytes of JSON in all.
/// </summary>
internal static class BenchMessage
{
    private const string Pad = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// <summary>Stamped now: call it right before the request goes out.</summary>
    public static string Create(long sequence, bool warmup)
    {
        var t = warmup ? 0 : Stopwatch.GetTimestamp();
        return string.Create(CultureInfo.InvariantCulture, $"{{\"t\":{t},\"s\":{sequence},\"p\":\"{Pad}\"}}");
    }
}
