using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace SocketPush.Testing;

/// <summary>
/// A real node: the built SocketPush.Node run as its own process (<c>dotnet SocketPush.Node.dll</c>) with a config
/// file of its own, known once it prints its READY line. Everything it writes is kept, to wait for and to show when
/// a test fails. Disposing it always ends the process: gently (SIGTERM) if it can, by force if it must.
/// </summary>
public sealed partial class NodeProcess : IAsyncDisposable
{
    private const int Sigterm = 15;
    private const int Sigcont = 18;
    private const int Sigstop = 19;

    private readonly Process _process;
    private readonly string _directory;
    private readonly NodeProcessOptions _options;
    private readonly Lock _outputLock = new();
    private readonly List<string> _output = [];
    private readonly List<OutputWaiter> _waiters = [];
    private int _openStreams = 2;
    private int _disposed;
    private int _suspended;
    private long _exitedAt;

    private NodeProcess(Process process, string directory, NodeProcessOptions options)
    {
        _process = process;
        _directory = directory;
        _options = options;
        NodeId = options.NodeId;
    }

    /// <summary>The node id the READY line printed.</summary>
    public string NodeId { get; private set; }

    /// <summary>The client port's URL, as printed.</summary>
    public Uri ClientUrl { get; private set; } = null!;

    /// <summary>The admin port's URL, as printed.</summary>
    public Uri AdminUrl { get; private set; } = null!;

    /// <summary>The cluster endpoint, host:port, as printed: what other nodes pass in <c>--seeds</c>.</summary>
    public string ClusterEndpoint { get; private set; } = "";

    /// <summary>The port of <see cref="ClusterEndpoint"/>.</summary>
    public int ClusterPort { get; private set; }

    /// <summary>The operating system's id of the process.</summary>
    public int ProcessId { get; private set; }

    /// <summary>Whether the process has exited (killed, stopped, or on its own).</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The <see cref="Stopwatch"/> timestamp at which this process saw the node exit, or null while it runs.</summary>
    public long? ExitedAt => Interlocked.Read(ref _exitedAt) is not 0 and var at ? at : null;

    /// <summary>The config file the node was started with.</summary>
    public string ConfigPath => Path.Combine(_directory, "config.yml");

    /// <summary>Every line the node wrote so far, stdout and stderr in the order they came.</summary>
    public IReadOnlyList<string> Output
    {
        get
        {
            lock (_outputLock)
            {
                return [.. _output];
            }
        }
    }

    /// <summary>How many lines the node wrote so far; with <see cref="OutputSince"/>, what it wrote during one test.</summary>
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
    /// <exception cref="InvalidOperationException">It exited or did not print READY in time; the message has its output.</exception>
    public static async Task<NodeProcess> StartAsync(NodeProcessOptions? options = null)
    {
        options ??= new NodeProcessOptions();
        var directory = Directory.CreateTempSubdirectory("socketpush-node-").FullName;
        var configPath = Path.Combine(directory, "config.yml");
        await File.WriteAllTextAsync(configPath, ConfigText(options));

        var start = new ProcessStartInfo(ProcessRunner.DotnetHost)
        {
            // Not the binary's folder: like `dotnet run --project ...` from the repository root, the node must
            // find its pages wherever it is started from; and a config.yml there is never read by accident.
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in Arguments(options, configPath))
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in options.Environment)
        {
            start.Environment[name] = value;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var node = new NodeProcess(process, directory, options);
        process.Exited += (_, _) => Interlocked.CompareExchange(ref node._exitedAt, Stopwatch.GetTimestamp(), 0);
        process.OutputDataReceived += (_, e) => node.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => node.OnLine(e.Data);
        try
        {
            process.Start();
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }

        node.ProcessId = process.Id;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        try
        {
            var line = await node.WaitForOutputAsync(l => ReadyLine().IsMatch(l), "its READY line", options.StartTimeout);
            node.OnReady(ReadyLine().Match(line));
            return node;
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            var exitCode = await node.EndAsync();
            await node.DisposeAsync();
            throw new InvalidOperationException($"Node {options.NodeId} did not start (exit code {exitCode}): {e.Message}", e);
        }
    }

    /// <summary>
    /// Waits until the node writes a line (on stdout or stderr) that <paramref name="match"/> takes, and returns
    /// it; a line written before the call counts too.
    /// </summary>
    /// <param name="match">Takes the line waited for.</param>
    /// <param name="timeout">How long to wait; <see cref="Eventually.DefaultTimeout"/> unless given.</param>
    /// <param name="what">What the line means, for the failure message, e.g. "the shutdown message".</param>
    /// <exception cref="TimeoutException">No such line in time (15 s unless given); the message has the output.</exception>
    /// <exception cref="InvalidOperationException">The node ended its output (exited) without such a line.</exception>
    public async Task<string> WaitForOutputAsync(Func<string, bool> match, string what, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(match);
        var waiter = new OutputWaiter(match, what);
        lock (_outputLock)
        {
            if (_output.FirstOrDefault(match) is { } written)
            {
                return written;
            }

            if (_openStreams == 0)
            {
                throw Ended(what);
            }

            _waiters.Add(waiter);
        }

        var limit = timeout ?? Eventually.DefaultTimeout;
        try
        {
            return await waiter.Found.Task.WaitAsync(limit);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException(
                string.Create(CultureInfo.InvariantCulture, $"Node {NodeId} wrote no line with {what} within {limit.TotalSeconds:0.###} s. Its output:\n{OutputSince(0)}"),
                e);
        }
        finally
        {
            lock (_outputLock)
            {
                _waiters.Remove(waiter);
            }
        }
    }

    /// <summary>
    /// Sends SIGTERM and waits for the node to exit; returns its exit code (0 for a clean stop). A node
    /// <see cref="Suspend"/>ed is resumed first, or it could not act on the signal.
    /// </summary>
    /// <exception cref="InvalidOperationException">It did not exit in time, and was killed.</exception>
    public async Task<int> StopAsync()
    {
        Resume();
        Signal(Sigterm, "SIGTERM");

        using var timeout = new CancellationTokenSource(_options.StopTimeout);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new InvalidOperationException(
                string.Create(CultureInfo.InvariantCulture, $"Node {NodeId} did not exit within {_options.StopTimeout.TotalSeconds:0.###} s of SIGTERM, and was killed. Its output:\n{OutputSince(0)}"));
        }

        return _process.ExitCode;
    }

    /// <summary>
    /// Freezes the node where it is (SIGSTOP), as a hung machine or a long pause would: its sockets stay open, it
    /// answers nothing, and its peers see it fall silent without a leave. <see cref="Resume"/> undoes it;
    /// <see cref="StopAsync"/> and disposal resume it first.
    /// </summary>
    public void Suspend()
    {
        Signal(Sigstop, "SIGSTOP");
        Volatile.Write(ref _suspended, 1);
    }

    /// <summary>Lets a <see cref="Suspend"/>ed node run on (SIGCONT); nothing for a node that is not suspended.</summary>
    public void Resume()
    {
        if (Interlocked.Exchange(ref _suspended, 0) == 1)
        {
            Signal(Sigcont, "SIGCONT");
        }
    }

    /// <summary>
    /// Kills the node and its whole process tree (SIGKILL), as a crash would end it, and returns once the process
    /// is gone.
    /// </summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        // Reaped, so /proc/<pid> is gone too; after SIGKILL this takes no time worth awaiting.
        _process.WaitForExit();
    }

    /// <summary>Ends the node if it still runs (SIGTERM, then SIGKILL), and deletes its config folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await EndAsync();
        }
        finally
        {
            _process.Dispose();
            Directory.Delete(_directory, recursive: true);
        }
    }

    /// <summary>Ends the process however it can and returns its exit code, for disposal and a failed start.</summary>
    private async Task<int> EndAsync()
    {
        if (ProcessId == 0)
        {
            return -1; // Process.Start failed: nothing runs.
        }

        try
        {
            return await StopAsync();
        }
        catch (InvalidOperationException)
        {
            // It did not stop when asked; a test that cares calls StopAsync itself and sees why.
            Kill();
            return _process.ExitCode;
        }
    }

    /// <summary>Sends <paramref name="signal"/> to the node unless it has exited.</summary>
    private void Signal(int signal, string name)
    {
        if (!_process.HasExited && SendSignal(_process.Id, signal) != 0 && !_process.HasExited)
        {
            throw new InvalidOperationException($"kill({name}) of node {NodeId} failed with errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    private static string ConfigText(NodeProcessOptions options)
    {
        var config = options.Config ?? "# Written by SocketPush.Testing.NodeProcess: every key at its default; id and ports come as flags.\n";
        return options.ExtraConfig.Length == 0 ? config : $"{config.TrimEnd('\n')}\n{options.ExtraConfig.TrimEnd('\n')}\n";
    }

    private static IEnumerable<string> Arguments(NodeProcessOptions options, string configPath)
    {
        string[] arguments =
        [
            Repository.NodeDll, "--config", configPath, "--node-id", options.NodeId,
            "--client-port", Port(options.ClientPort), "--admin-port", Port(options.AdminPort), "--cluster-port", Port(options.ClusterPort),
        ];
        return options.Seeds.Count == 0
            ? [.. arguments, .. options.ExtraArguments]
            : [.. arguments, "--seeds", string.Join(',', options.Seeds), .. options.ExtraArguments];
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private void OnReady(Match ready)
    {
        NodeId = ready.Groups["node"].Value;
        ClientUrl = new Uri(ready.Groups["client"].Value);
        AdminUrl = new Uri(ready.Groups["admin"].Value);
        ClusterEndpoint = ready.Groups["cluster"].Value;
        // Whatever the node prints: the configured port today, the bound one once the cluster port is bound.
        ClusterPort = int.Parse(ClusterEndpoint.AsSpan(ClusterEndpoint.LastIndexOf(':') + 1), CultureInfo.InvariantCulture);
    }

    private void OnLine(string? line)
    {
        lock (_outputLock)
        {
            if (line is null)
            {
                // Both streams end when the process exits; nothing more can match.
                if (--_openStreams == 0)
                {
                    foreach (var waiter in _waiters)
                    {
                        waiter.Found.TrySetException(Ended(waiter.What));
                    }
                }

                return;
            }

            _output.Add(line);
            foreach (var waiter in _waiters)
            {
                waiter.Offer(line);
            }
        }
    }

    private InvalidOperationException Ended(string what) =>
        new($"Node {NodeId} ended its output (it exited) without a line with {what}. Its output:\n{string.Join('\n', _output)}");

    [GeneratedRegex(@"^SOCKETPUSH READY node=(?<node>\S+) client=(?<client>\S+) admin=(?<admin>\S+) cluster=(?<cluster>\S+:\d+)$")]
    private static partial Regex ReadyLine();

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);

    /// <summary>One <see cref="WaitForOutputAsync"/> in progress.</summary>
    private sealed class OutputWaiter(Func<string, bool> match, string what)
    {
        // Completed under the output lock; its awaiter must not run there.
        public TaskCompletionSource<string> Found { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string What { get; } = what;

        public void Offer(string line)
        {
            try
            {
                if (match(line))
                {
                    Found.TrySetResult(line);
                }
            }
#pragma warning disable CA1031 // A predicate that throws fails its own wait, not the thread that reads the node's output.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Found.TrySetException(e);
            }
        }
    }
}
