using System.Diagnostics;
using System.Globalization;

namespace SocketPush.LoadTest;

/// <summary>
/// dotnet-counters, dotnet-trace (installed as dotnet tools) and perf attached to the SocketPush node while it
/// publishes, for finding what limits it. They cost the node CPU, so a run with them is for analysis only.
/// </summary>
internal sealed class DotNetDiagnostics : IAsyncDisposable
{
    private readonly List<Process> _tools = [];

    private DotNetDiagnostics()
    {
    }

    public static DotNetDiagnostics Start(int pid, string directory, string runName, TimeSpan duration, ProgressLog log)
    {
        Directory.CreateDirectory(directory);
        var diagnostics = new DotNetDiagnostics();
        var span = duration.ToString(@"dd\:hh\:mm\:ss", CultureInfo.InvariantCulture);
        var pidText = pid.ToString(CultureInfo.InvariantCulture);
        diagnostics.Launch(log, "dotnet-counters", "collect", "-p", pidText, "--format", "csv", "--refresh-interval", "1", "--duration", span,
            "--counters", "System.Runtime,Microsoft.AspNetCore.Server.Kestrel,System.Net.Sockets",
            "-o", Path.Combine(directory, runName + ".counters.csv"));
        diagnostics.Launch(log, "dotnet-trace", "collect", "-p", pidText, "--profile", "dotnet-sampled-thread-time,gc-collect", "--duration", span,
            "-o", Path.Combine(directory, runName + ".nettrace"));
        // CPU samples with kernel stacks: where the node's time goes, syscalls included. Symbols of JIT-compiled
        // code need the node started with DOTNET_PerfMapEnabled=1 (--node-env).
        diagnostics.Launch(log, "perf", "record", "-e", "cpu-clock", "-F", "499", "-g", "-p", pidText,
            "-o", Path.Combine(directory, runName + ".perf.data"), "--", "sleep", ((int)duration.TotalSeconds).ToString(CultureInfo.InvariantCulture));
        return diagnostics;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var tool in _tools)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await tool.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                tool.Kill();
            }

            tool.Dispose();
        }
    }

    private void Launch(ProgressLog log, string tool, params string[] args)
    {
        var path = Find(tool);
        if (path is null)
        {
            log.Line($"    {tool} not found (dotnet tool install -g {tool}); skipped");
            return;
        }

        var start = new ProcessStartInfo(path, args) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        var process = Process.Start(start);
        if (process is null)
        {
            return;
        }

        // Their consoles are of no use here, but must be drained.
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        _tools.Add(process);
    }

    private static string? Find(string tool)
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append(Path.Combine(home, ".dotnet", "tools"));
        return candidates.Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);
    }
}
