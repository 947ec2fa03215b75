using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace SocketPush.Testing;

/// <summary>
/// A program run as a child process for as long as a test or a benchmark needs it (a node, nginx, a Node.js server).
/// Everything it writes is kept, to wait for and to show when something fails. Disposing it always ends the process:
/// gently (SIGTERM) if it can, by force (SIGKILL of its whole tree) if it must.
/// </summary>
public sealed partial class ChildProcess : IAsyncDisposable
{
    private const int Sigterm = 15;
    private const int Sigcont = 18;
    private const int Sigstop = 19;

    private readonly Process _process;
    private readonly TimeSpan _stopTimeout;
    private readonly Lock _outputLock = new();
    private readonly List<string> _output = [];
    private readonly List<OutputWaiter> _waiters = [];
    private int _openStreams = 2;
    private int _disposed;
    private int _suspended;
    private long _exitedAt;

    private ChildProcess(Process process, string name, TimeSpan stopTimeout)
    {
        _process = process;
        Name = name;
        _stopTimeout = stopTimeout;
    }

    /// <summary>What failure messages call it, e.g. "Node n1" or "nginx".</summary>
    public string Name { get; set; }

    /// <summary>The operating system's id of the process.</summary>
    public int ProcessId { get; private set; }

    /// <summary>Whether the process has exited (killed, stopped, or on its own).</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Its exit code; only once it has exited.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>The <see cref="Stopwatch"/> timestamp at which this process saw it exit, or null while it runs.</summary>
    public long? ExitedAt => Interlocked.Read(ref _exitedAt) is not 0 and var at ? at : null;

    /// <summary>Every line it wrote so far, stdout and stderr in the order they came.</summary>
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

    /// <summary>How many lines it wrote so far; with <see cref="OutputSince"/>, what it wrote during one step.</summary>
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

    /// <summary>Everything it wrote (stdout and stderr), from line <paramref name="fromLine"/> on.</summary>
    public string OutputSince(int fromLine)
    {
        lock (_outputLock)
        {
            return string.Join('\n', _output.Skip(fromLine));
        }
    }

    /// <summary>
    /// Starts <paramref name="start"/> with its output read line by line (stdout and stderr redirected, no shell).
    /// </summary>
    /// <param name="start">The program, its arguments, environment and working directory.</param>
    /// <param name="name">What failure messages call it.</param>
    /// <param name="stopTimeout">How long it may take to exit after SIGTERM before it is killed; 20 s unless given.</param>
    public static ChildProcess Start(ProcessStartInfo start, string name, TimeSpan? stopTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(start);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var child = new ChildProcess(process, name, stopTimeout ?? TimeSpan.FromSeconds(20));
        process.Exited += (_, _) => Interlocked.CompareExchange(ref child._exitedAt, Stopwatch.GetTimestamp(), 0);
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data);
        try
        {
            process.Start();
        }
        catch
        {
            process.Dispose();
            throw;
        }

        child.ProcessId = process.Id;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>
    /// Waits until the process writes a line (on stdout or stderr) that <paramref name="match"/> takes, and returns
    /// it; a line written before the call counts too.
    /// </summary>
    /// <param name="match">Takes the line waited for.</param>
    /// <param name="what">What the line means, for the failure message, e.g. "the shutdown message".</param>
    /// <param name="timeout">How long to wait; <see cref="Eventually.DefaultTimeout"/> unless given.</param>
    /// <exception cref="TimeoutException">No such line in time; the message has the output.</exception>
    /// <exception cref="InvalidOperationException">The process ended its output (exited) without such a line.</exception>
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
                string.Create(CultureInfo.InvariantCulture, $"{Name} wrote no line with {what} within {limit.TotalSeconds:0.###} s. Its output:\n{OutputSince(0)}"),
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
    /// Sends SIGTERM and waits for the process to exit; returns its exit code. A <see cref="Suspend"/>ed one is
    /// resumed first, or it could not act on the signal.
    /// </summary>
    /// <exception cref="InvalidOperationException">It did not exit in time, and was killed.</exception>
    public async Task<int> StopAsync()
    {
        Resume();
        Signal(Sigterm, "SIGTERM");

        using var timeout = new CancellationTokenSource(_stopTimeout);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new InvalidOperationException(
                string.Create(CultureInfo.InvariantCulture, $"{Name} did not exit within {_stopTimeout.TotalSeconds:0.###} s of SIGTERM, and was killed. Its output:\n{OutputSince(0)}"));
        }

        return _process.ExitCode;
    }

    /// <summary>
    /// Freezes the process where it is (SIGSTOP), as a hung machine or a long pause would: its sockets stay open and
    /// it answers nothing. <see cref="Resume"/> undoes it; <see cref="StopAsync"/> and disposal resume it first.
    /// </summary>
    public void Suspend()
    {
        Signal(Sigstop, "SIGSTOP");
        Volatile.Write(ref _suspended, 1);
    }

    /// <summary>Lets a <see cref="Suspend"/>ed process run on (SIGCONT); nothing for one that is not suspended.</summary>
    public void Resume()
    {
        if (Interlocked.Exchange(ref _suspended, 0) == 1)
        {
            Signal(Sigcont, "SIGCONT");
        }
    }

    /// <summary>Kills the process and its whole tree (SIGKILL), as a crash would end it, and returns once it is gone.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        // Reaped, so /proc/<pid> is gone too; after SIGKILL this takes no time worth awaiting.
        _process.WaitForExit();
    }

    /// <summary>Ends the process however it can (SIGTERM, then SIGKILL) and returns its exit code.</summary>
    public async Task<int> EndAsync()
    {
        try
        {
            return await StopAsync();
        }
        catch (InvalidOperationException)
        {
            // It did not stop when asked; a caller that cares calls StopAsync itself and sees why.
            Kill();
            return _process.ExitCode;
        }
    }

    /// <summary>Ends the process if it still runs (SIGTERM, then SIGKILL).</summary>
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
        }
    }

    /// <summary>Sends <paramref name="signal"/> to the process unless it has exited.</summary>
    private void Signal(int signal, string signalName)
    {
        if (!_process.HasExited && SendSignal(_process.Id, signal) != 0 && !_process.HasExited)
        {
            throw new InvalidOperationException($"kill({signalName}) of {Name} failed with errno {Marshal.GetLastPInvokeError()}.");
        }
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
        new($"{Name} ended its output (it exited) without a line with {what}. Its output:\n{string.Join('\n', _output)}");

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
#pragma warning disable CA1031 // A predicate that throws fails its own wait, not the thread that reads the process's output.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Found.TrySetException(e);
            }
        }
    }
}
