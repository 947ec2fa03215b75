using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;

namespace SocketPush.LoadTest.Workers;

/// <summary>The coordinator's side of the client processes: each gets a contiguous slice of the users.</summary>
internal sealed class WorkerPool : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);

    private readonly List<Worker> _workers = [];

    private WorkerPool()
    {
    }

    public IEnumerable<int> Pids => _workers.Select(w => w.Pid);

    public static WorkerPool Start(int count)
    {
        var pool = new WorkerPool();
        for (var i = 0; i < count; i++)
        {
            pool._workers.Add(Worker.Start());
        }

        return pool;
    }

    public sealed record ConnectOutcome(int Up, int Failed, double Seconds, IReadOnlyList<string> Errors);

    public async Task<ConnectOutcome> ConnectAsync(
        string system, string transport, IReadOnlyList<string> users, Func<string, string> clientUrlOf, string? channel, int concurrency, string signalRClient,
        string[] sourceAddresses, Action<int, int, int> progress, string? trustedCertificate = null, Recovery? recovery = null)
    {
        var n = users.Count;
        var started = Stopwatch.GetTimestamp();
        var attempted = new int[_workers.Count];
        var up = new int[_workers.Count];
        var failed = new int[_workers.Count];
        var tasks = _workers.Select(async (worker, w) =>
        {
            var first = (int)((long)n * w / _workers.Count);
            var last = (int)((long)n * (w + 1) / _workers.Count);
            var slice = users.Skip(first).Take(last - first).ToArray();
            var urls = slice.Select(clientUrlOf).ToArray();
            var command = new WorkerCommand
            {
                Cmd = WorkerCommand.Connect,
                System = system,
                Transport = transport,
                Users = slice,
                ClientUrls = urls.Length > 0 && urls.All(u => u == urls[0]) ? [urls[0]] : urls,
                First = first,
                Channel = channel,
                Concurrency = Math.Max(1, concurrency / _workers.Count),
                SignalRClient = signalRClient,
                SourceAddresses = sourceAddresses,
                TrustedCertificate = trustedCertificate,
                ReconnectUrls = recovery is null ? [] : [.. slice.Select(recovery.ReconnectUrlOf)],
                MaxSequence = recovery?.MaxSequence ?? 0,
            };
            return await worker.RequestAsync(command, WorkerEvent.Connected, e =>
            {
                attempted[w] = e.Attempted;
                up[w] = e.Up;
                failed[w] = e.Failed;
                progress(attempted.Sum(), up.Sum(), failed.Sum());
            }, TimeSpan.FromMinutes(10));
        }).ToList();
        var results = await Task.WhenAll(tasks);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        return new ConnectOutcome(
            results.Sum(r => r.Up),
            results.Sum(r => r.Failed),
            seconds,
            [.. results.SelectMany(r => r.Errors).Take(12)]);
    }

    /// <summary>Clients that recover the channel's stream (<see cref="Clients.RecoveringConnection"/>): where each reconnects, and how many publishes it tracks.</summary>
    public sealed record Recovery(Func<string, string> ReconnectUrlOf, int MaxSequence);

    /// <summary>Every client process's <see cref="StreamReport"/>: times from <paramref name="since"/>, caught up per set of <paramref name="required"/> publishes.</summary>
    public async Task<IReadOnlyList<StreamReport>> StreamsAsync(long since, int[][] required)
    {
        var command = new WorkerCommand { Cmd = WorkerCommand.Streams, Since = since, Required = required };
        var results = await Task.WhenAll(_workers.Select(w => w.RequestAsync(command, WorkerEvent.Reported, null, CommandTimeout)));
        return [.. results.Select(r => r.Streams ?? new StreamReport())];
    }

    public async Task<(long Received, long Seen, int Dropped)> CountAsync()
    {
        var results = await Task.WhenAll(_workers.Select(w => w.RequestAsync(new WorkerCommand { Cmd = WorkerCommand.CountOnly }, WorkerEvent.Reported, null, CommandTimeout)));
        return (results.Sum(r => r.Received), results.Sum(r => r.Seen), results.Sum(r => r.Dropped));
    }

    public async Task<IReadOnlyList<WorkerEvent>> ReportAsync() =>
        await Task.WhenAll(_workers.Select(w => w.RequestAsync(new WorkerCommand { Cmd = WorkerCommand.Report }, WorkerEvent.Reported, null, CommandTimeout)));

    public Task ResetAsync() =>
        Task.WhenAll(_workers.Select(w => w.RequestAsync(new WorkerCommand { Cmd = WorkerCommand.Reset }, WorkerEvent.Ok, null, CommandTimeout)));

    public Task CloseAsync() =>
        Task.WhenAll(_workers.Select(w => w.RequestAsync(new WorkerCommand { Cmd = WorkerCommand.Close }, WorkerEvent.Ok, null, CommandTimeout)));

    public async ValueTask DisposeAsync()
    {
        foreach (var worker in _workers)
        {
            await worker.DisposeAsync();
        }
    }

    private sealed class Worker : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly Channel<WorkerEvent> _events = Channel.CreateUnbounded<WorkerEvent>();
        private readonly SemaphoreSlim _oneCommand = new(1, 1);

        private Worker(Process process)
        {
            _process = process;
            _ = Task.Run(ReadEventsAsync);
        }

        public int Pid => _process.Id;

        public static Worker Start()
        {
            var self = Environment.ProcessPath ?? "dotnet";
            var start = new ProcessStartInfo(self)
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = false,
                UseShellExecute = false,
            };
            // Under "dotnet SocketPush.LoadTest.dll" the host is dotnet: name the assembly again.
            if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            {
                start.ArgumentList.Add(typeof(WorkerPool).Assembly.Location);
            }

            start.ArgumentList.Add("worker");
            return new Worker(Process.Start(start) ?? throw new InvalidOperationException("cannot start a client process"));
        }

        public async Task<WorkerEvent> RequestAsync(WorkerCommand command, string answer, Action<WorkerEvent>? onProgress, TimeSpan timeout)
        {
            await _oneCommand.WaitAsync();
            try
            {
                await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize(command, WorkerJson.Options));
                await _process.StandardInput.FlushAsync();
                using var cancel = new CancellationTokenSource(timeout);
                while (true)
                {
                    var e = await _events.Reader.ReadAsync(cancel.Token);
                    if (e.Ev == answer)
                    {
                        onProgress?.Invoke(e);
                        return e;
                    }

                    if (e.Ev == WorkerEvent.Error)
                    {
                        throw new InvalidOperationException($"client process {Pid}: {e.Message}");
                    }

                    onProgress?.Invoke(e);
                }
            }
            catch (ChannelClosedException)
            {
                throw new InvalidOperationException($"client process {Pid} exited");
            }
            finally
            {
                _oneCommand.Release();
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize(new WorkerCommand { Cmd = WorkerCommand.Exit }, WorkerJson.Options));
                await _process.StandardInput.FlushAsync();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (Exception)
            {
                if (!_process.HasExited)
                {
                    _process.Kill();
                }
            }

            _process.Dispose();
            _oneCommand.Dispose();
        }

        private async Task ReadEventsAsync()
        {
            try
            {
                while (await _process.StandardOutput.ReadLineAsync() is { } line)
                {
                    WorkerEvent? e;
                    try
                    {
                        e = JsonSerializer.Deserialize<WorkerEvent>(line, WorkerJson.Options);
                    }
                    catch (JsonException)
                    {
                        continue;
                    }

                    if (e is not null)
                    {
                        await _events.Writer.WriteAsync(e);
                    }
                }
            }
            finally
            {
                _events.Writer.TryComplete();
            }
        }
    }
}
