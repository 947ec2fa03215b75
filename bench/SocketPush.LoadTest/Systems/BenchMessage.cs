using System.Diagnostics;
using System.Globalization;

namespace SocketPush.LoadTest.Systems;

/// <summary>
/// The message every system carries: the publisher's monotonic timestamp (0 for warm-up messages), a
/// sequence number and a fixed pad, about 100 bytes of JSON in all unless --message-bytes makes it larger.
/// </summary>
internal static class BenchMessage
{
    private const string DefaultPad = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    private static string Pad = DefaultPad;

    /// <summary>Pads every later message to about <paramref name="bytes"/> bytes of JSON (the harness sets it once, before any run).</summary>
    public static void PadTo(int bytes) => Pad = bytes <= 100 ? DefaultPad : new string('x', bytes - 36);

    /// <summary>Stamped now: call it right before the request goes out.</summary>
    public static string Create(long sequence, bool warmup)
    {
        var t = warmup ? 0 : Stopwatch.GetTimestamp();
        return string.Create(CultureInfo.InvariantCulture, $"{{\"t\":{t},\"s\":{sequence},\"p\":\"{Pad}\"}}");
    }
}
