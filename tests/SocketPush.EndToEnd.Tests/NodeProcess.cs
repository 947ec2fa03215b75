using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace SocketPush.EndToEnd.Tests;

/// <summary>
/// A real node process started from the built binary (the SocketPush.Node.dll that the project reference
/// copies next to the tests), on ports the OS picks, with a config file of its own.
/// </summary>
internal sealed partial class NodeProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(20);
    private const int Sigterm = 15;

    private readonly Process _process;
    private readonly string _directory;
    private readonly TaskCompletionSource<Match> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _outputLock = new();
    private readonly List<string> _output = [];

    private NodeProcess(Process process, string directory)
    {
        _process = process;
        _directory = directory;
    }

    public string NodeId { get; private set; } = "";

    public Uri ClientUrl { get; private set; } = null!;

    public Uri AdminUrl { get; private set; } = null!;

    public int OutputLineCount
    {
        get
        {
            lock (_outputLock)
            {
                return _output.Count;
            }
        }
    }

    /// <summary>Everything the node wrote (stdout and stderr), from line <paramref name="fromLine"/> on.</summary>
    public string OutputSince(int fromLine)
    {
        lock (_outputLock)
        {
            return string.Join('\n', _output.Skip(fromLine));
        }
    }

    /// <summary>Starts a node and waits for its READY line.</summary>
    /// <param name="nodeId">The node id, also in the READY line.</param>
    /// <param name="adminExtraConfig">One YAML line added to the <c>admin:</c> section, e.g. <c>apiKey: secret</c>.</param>
    public static async Task<NodeProcess> StartAsync(string nodeId = "e2e-node", string adminExtraConfig = "")
    {
        var directory = Directory.CreateTempSubdirectory("socketpush-e2e-").FullName;
        var configPath = Path.Combine(directory, "config.yml");
        await File.WriteAllTextAsync(configPath, Config(nodeId, adminExtraConfig));

        var start = new ProcessStartInfo(DotnetHost())
        {
            // Not the binary's folder: like `dotnet run --project ...` from the repository root, the node must
            // find its pages wherever it is started from.
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
                 {
                     NodeDll(), "--config", configPath, "--node-id", nodeId,
                     "--client-port", "0", "--admin-port", "0", "--cluster-port", "0",
                 })
        {
            start.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var node = new NodeProcess(process, directory);
        process.OutputDataReceived += (_, e) => node.OnLine(e.Data, fromStdout: true);
        process.ErrorDataReceived += (_, e) => node.OnLine(e.Data, fromStdout: false);
        process.Exited += (_, _) => node._ready.TrySetException(
            new InvalidOperationException($"The node exited with code {process.ExitCode} before it was ready."));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        try
        {
            var ready = await node._ready.Task.WaitAsync(StartTimeout);
            node.NodeId = ready.Groups["node"].Value;
            node.ClientUrl = new Uri(ready.Groups["client"].Value);
            node.AdminUrl = new Uri(ready.Groups["admin"].Value);
            return node;
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
        {
            var output = node.OutputSince(0);
            await node.DisposeAsync();
            throw new InvalidOperationException(
                $"The node did not print its READY line ({ex.Message}). Its output:\n{output}", ex);
        }
    }

    /// <summary>Sends SIGTERM and waits for the node to exit; returns its exit code.</summary>
    public async Task<int> StopAsync()
    {
        if (!_process.HasExited)
        {
            _ = Kill(_process.Id, Sigterm);
            using var timeout = new CancellationTokenSource(StopTimeout);
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
                throw new InvalidOperationException(
                    $"The node did not exit within {StopTimeout.TotalSeconds} s of SIGTERM. Its output:\n{OutputSince(0)}");
            }
        }

        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                await StopAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // Already reported by StopAsync's own caller when it matters; disposal only cleans up.
        }
        finally
        {
            _process.Dispose();
            Directory.Delete(_directory, recursive: true);
        }
    }

    private void OnLine(string? line, bool fromStdout)
    {
        if (line is null)
        {
            return;
        }

        lock (_outputLock)
        {
            _output.Add(line);
        }

        if (fromStdout && ReadyLine().Match(line) is { Success: true } match)
        {
            _ready.TrySetResult(match);
        }
    }

    private static string Config(string nodeId, string adminExtraConfig)
    {
        var config = new StringBuilder()
            .AppendLine("node:")
            .AppendLine($"  id: {nodeId}")
            .AppendLine("  bindAddress: 127.0.0.1")
            .AppendLine("  clientPort: 0")
            .AppendLine("  clusterPort: 0")
            .AppendLine("admin:")
            .AppendLine("  bindAddress: 127.0.0.1")
            .AppendLine("  port: 0");
        if (adminExtraConfig.Length > 0)
        {
            config.AppendLine($"  {adminExtraConfig}");
        }

        return config
            .AppendLine("options:")
            .AppendLine("  authenticationTimeout: 10s")
            .AppendLine("  removeUserAfterDisconnectTimeout: 60s")
            .AppendLine("  maxMessageBytes: 65536")
            .AppendLine("logging:")
            .AppendLine("  level: Information")
            .ToString();
    }

    internal static string NodeDll()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "SocketPush.Node.dll");
        return File.Exists(dll)
            ? dll
            : throw new FileNotFoundException(
                $"{dll} is missing: the project reference to node/SocketPush.Node should copy the built node next to the tests.");
    }

    // `dotnet test` tells child processes which host runs them; outside it, the dotnet on PATH.
    internal static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    [GeneratedRegex(@"^SOCKETPUSH READY node=(?<node>\S+) client=(?<client>\S+) admin=(?<admin>\S+) cluster=(?<cluster>\S+)$")]
    private static partial Regex ReadyLine();

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
