using System.Diagnostics;
using System.Globalization;

namespace SocketPush.Testing;

/// <summary>
/// The budget of every fuzzer in the tests. In CI a fuzzer tries the fixed number of inputs its test names, a few
/// seconds' worth; with <c>SOCKETPUSH_FUZZ_SECONDS=N</c> each fuzzer instead runs for N seconds (the long form, see
/// README "Fuzzing"). Input i of a run is generated from its own seed, the run's seed plus i, and a failure names that
/// seed: <c>SOCKETPUSH_FUZZ_SEED=S</c> starts the run at it, so the failing input comes first again.
/// When <c>SOCKETPUSH_FUZZ_LOG</c> names a file, each fuzzer appends one line to it: its name, inputs tried, seconds.
/// </summary>
public static class Fuzz
{
    /// <summary>Seconds each fuzzer runs for in the long form; null in CI.</summary>
    public static double? LongSeconds { get; } =
        double.TryParse(Environment.GetEnvironmentVariable("SOCKETPUSH_FUZZ_SECONDS"), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0 ? s : null;

    private static readonly int? FixedSeed =
        int.TryParse(Environment.GetEnvironmentVariable("SOCKETPUSH_FUZZ_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed) ? seed : null;

    /// <summary>Runs <paramref name="input"/> once per input, each with a <see cref="Random"/> of its own seed; returns how many ran.</summary>
    public static int Run(string name, int ciInputs, Action<Random> input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return RunAsync(name, ciInputs, random =>
        {
            input(random);
            return Task.CompletedTask;
        }).GetAwaiter().GetResult();
    }

    /// <inheritdoc cref="Run"/>
    public static async Task<int> RunAsync(string name, int ciInputs, Func<Random, Task> input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var first = FixedSeed ?? Random.Shared.Next();
        var clock = Stopwatch.StartNew();
        var tried = 0;
        while (LongSeconds is { } seconds ? clock.Elapsed.TotalSeconds < seconds : tried < ciInputs)
        {
            var seed = unchecked(first + tried);
            try
            {
                await input(new Random(seed));
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"fuzzer {name} failed on input {tried} (seed {seed}); replay it first with SOCKETPUSH_FUZZ_SEED={seed}: {e.Message}", e);
            }

            tried++;
        }

        Report(name, tried, clock.Elapsed);
        return tried;
    }

    /// <summary>
    /// For property runners that draw their own seeds (FsCheck, which prints its replay seed on failure):
    /// <paramref name="batch"/> checks the given number of cases; called once in CI, again and again in the long form.
    /// </summary>
    public static int Batches(string name, int ciInputs, Action<int> batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var clock = Stopwatch.StartNew();
        var tried = 0;
        do
        {
            batch(ciInputs);
            tried += ciInputs;
        }
        while (LongSeconds is { } seconds && clock.Elapsed.TotalSeconds < seconds);

        Report(name, tried, clock.Elapsed);
        return tried;
    }

    private static void Report(string name, int tried, TimeSpan elapsed)
    {
        if (Environment.GetEnvironmentVariable("SOCKETPUSH_FUZZ_LOG") is { Length: > 0 } log)
        {
            File.AppendAllText(log, string.Create(CultureInfo.InvariantCulture, $"{name}\t{tried}\t{elapsed.TotalSeconds:F1}\n"));
        }
    }
}
