using System.Diagnostics;

namespace SocketPush.LoadTest.Systems;

/// <summary>A server started as a child process: its output is kept for diagnostics and searched for the ready line.</summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private const int KeptLines = 200;

    private readonly Process _process;
    private readonly Queue<string> _lastLines = new();
    private readonly Lock _linesLock = new();
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Func<string, bool>? _isReadyLine;

    private ServerProcess(ProcessStartInfo startInfo, Func<string, bool>? isReadyLine)
    {
        _isReadyLine = isReadyLine;
        startInfo.RedirectStandardOutput = true;
        startInfo.RedirectStandardError = true;
        startInfo.RedirectStandardInput = true;
        startInfo.UseShellExecute = false;
        _process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.Exited += (_, _) => _ready.TrySetException(new InvalidOperationException(
            $"{startInfo.FileName} exited with code {_process.ExitCode} before it was ready:\n{Output}"));
    }

    public int Pid => _process.Id;

    public string Output
    {
        get
        {
            lock (_linesLock)
            {
                return string.Join('\n', _lastLines);
            }
        }
    }

    /// <summary>Starts the process and waits for its ready line, which is returned (none to wait for: null).</summary>
    public static async Task<(ServerProcess Process, string? ReadyLine)> StartAsync(
        ProcessStartInfo startInfo, Func<string, bool>? isReadyLine, TimeSpan timeout)
    {
        var server = new ServerProcess(startInfo, isReadyLine);
        server._process.Start();
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        if (isReadyLine is null)
        {
            return (server, null);
        }

        try
        {
            var line = await server._ready.Task.WaitAsync(timeout);
            return (server, line);
        }
        catch (TimeoutException)
        {
            await server.DisposeAsync();
            throw new TimeoutException($"{startInfo.FileName} printed no ready line within {timeout.TotalSeconds:0} s:\n{server.Output}");
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGTERM, then SIGKILL if it has not exited after a while.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            using (var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", _process.Id.ToString()]) { UseShellExecute = false }))
            {
                if (kill is not null)
                {
                    await kill.WaitForExitAsync();
                }
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }

        _process.Dispose();
    }

    /// <summary>Removes a scratch directory of a stopped server; what cannot be removed stays in /tmp.</summary>
    public static void DeleteScratch(DirectoryInfo directory)
    {
        try
        {
            directory.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_linesLock)
        {
            _lastLines.Enqueue(line);
            while (_lastLines.Count > KeptLines)
            {
                _lastLines.Dequeue();
            }
        }

        if (_isReadyLine?.Invoke(line) == true)
        {
            _ready.TrySetResult(line);
        }
    }
}
