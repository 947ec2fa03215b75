using System.Diagnostics;
using System.Globalization;

namespace SocketPush.Testing;

/// <summary>
/// Waits for state that no event announces, by checking again until it holds or a deadline passes. The pause
/// between checks starts short, so a quick change is seen at once, and grows, so a slow one is not polled hot on
/// a shared machine. A check that throws counts as "not yet"; on timeout the message names what was awaited and
/// what the last check saw or threw.
/// </summary>
public static class Eventually
{
    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan LongestPause = TimeSpan.FromMilliseconds(250);

    /// <summary>How long a wait lasts when no timeout is given.</summary>
    public static TimeSpan DefaultTimeout { get; } = TimeSpan.FromSeconds(15);

    /// <summary>Waits until <paramref name="condition"/> is true.</summary>
    /// <param name="condition">Checked at once, then after each pause.</param>
    /// <param name="timeout">How long to wait; <see cref="DefaultTimeout"/> unless given.</param>
    /// <param name="what">What is awaited, as it reads after "waiting until", e.g. "the session is gone".</param>
    public static Task TrueAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return TrueAsync(() => Task.FromResult(condition()), what, timeout);
    }

    /// <inheritdoc cref="TrueAsync(Func{bool}, string, TimeSpan?)"/>
    public static Task TrueAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null) =>
        ValueAsync(condition, holds => holds, what, timeout);

    /// <summary>Waits until <paramref name="assertion"/> stops throwing; the last exception is in the failure.</summary>
    public static Task PassesAsync(Func<Task> assertion, string what, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(assertion);
        return ValueAsync(
            async () =>
            {
                await assertion();
                return true;
            },
            passed => passed,
            what,
            timeout);
    }

    /// <summary>Asks <paramref name="probe"/> until <paramref name="accept"/> takes its answer, and returns that answer.</summary>
    /// <exception cref="TimeoutException">
    /// Nothing accepted within the timeout; the message has the last answer, the inner exception what the last probe threw.
    /// </exception>
    public static async Task<T> ValueAsync<T>(Func<Task<T>> probe, Func<T, bool> accept, string what, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(accept);
        var limit = timeout ?? DefaultTimeout;
        var started = Stopwatch.GetTimestamp();
        var pause = FirstPause;
        var checks = 0;
        string last = "it was never checked";
        Exception? lastError = null;
        while (true)
        {
            checks++;
            try
            {
                var value = await probe();
                if (accept(value))
                {
                    return value;
                }

                (last, lastError) = (Describe(value), null);
            }
#pragma warning disable CA1031 // Any exception of a check means "not yet"; the last one is reported on timeout.
            catch (Exception e)
#pragma warning restore CA1031
            {
                (last, lastError) = ($"the last check threw {e.GetType().Name}: {e.Message}", e);
            }

            var left = limit - Stopwatch.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException(
                    string.Create(CultureInfo.InvariantCulture, $"Timed out after {limit.TotalSeconds:0.###} s ({checks} checks) waiting until {what}; {last}."),
                    lastError);
            }

            await Task.Delay(pause < left ? pause : left);
            pause = pause * 2 < LongestPause ? pause * 2 : LongestPause;
        }
    }

    private static string Describe<T>(T value) => value switch
    {
        bool => "it was still false",
        null => "the last value was null",
        _ => $"the last value was {value}",
    };
}
