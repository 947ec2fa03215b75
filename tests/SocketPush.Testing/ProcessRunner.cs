using System.Diagnostics;
using System.Text;

namespace SocketPush.Testing;

/// <summary>The outcome of a finished process.</summary>
public sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{StandardOutput}\n--- stderr\n{StandardError}";
}

/// <summary>Runs a program to its end, with a bound on how long it may take.</summary>
public static class ProcessRunner
{
    /// <summary>
    /// The dotnet that runs these tests: <c>dotnet test</c> names its host in DOTNET_HOST_PATH, so a child runs on
    /// the same SDK even when another dotnet comes first on PATH; outside it, the dotnet on PATH.
    /// </summary>
    public static string DotnetHost { get; } =
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>
    /// Runs <paramref name="fileName"/> and returns its exit code and output; when it outlives
    /// <paramref name="timeout"/> (60 s unless given), kills its whole process tree and throws <see cref="TimeoutException"/>.
    /// A program that cannot be started throws <see cref="System.ComponentModel.Win32Exception"/>, so a caller can
    /// say what to install.
    /// </summary>
    /// <param name="fileName">The program, found on PATH unless it is a path.</param>
    /// <param name="arguments">Its arguments, each passed as one (no shell quoting).</param>
    /// <param name="environment">Variables set for it, over those of the tests.</param>
    /// <param name="timeout">How long it may run.</param>
    /// <param name="workingDirectory">Where it runs; the repository root unless given.</param>
    /// <param name="standardInput">Written to its standard input, which is then closed (closed at once when null).</param>
    public static async Task<ProcessResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string>? environment = null,
        string? workingDirectory = null,
        TimeSpan? timeout = null,
        string? standardInput = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Repository.Root,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Cannot start {fileName}.");
        var output = new StringBuilder();
        var error = new StringBuilder();
        // Read before writing: a program that answers while it reads would otherwise block on a full pipe.
        var readOutput = PumpAsync(process.StandardOutput, output);
        var readError = PumpAsync(process.StandardError, error);
        using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            if (standardInput is not null)
            {
                await process.StandardInput.WriteAsync(standardInput.AsMemory(), limit.Token);
            }

            process.StandardInput.Close();
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            await Task.WhenAll(readOutput, readError);
            throw new TimeoutException($"{fileName} {string.Join(' ', start.ArgumentList)} did not finish in time.\n{output}\n{error}");
        }

        await Task.WhenAll(readOutput, readError);
        return new ProcessResult(process.ExitCode, output.ToString(), error.ToString());
    }

    private static async Task PumpAsync(StreamReader reader, StringBuilder into)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (into)
            {
                into.AppendLine(line);
            }
        }
    }
}
