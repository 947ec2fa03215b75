using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using SocketPush.LoadTest.Clients;
using SocketPush.Testing;

namespace SocketPush.LoadTest.Workers;

/// <summary>
/// A client process: holds its share of the connections and answers the coordinator's commands. Separate
/// processes keep each one's GC and thread pool small, and let the client side use every core.
/// </summary>
internal sealed class WorkerHost : IAsyncDisposable
{
    private const int MaxErrorsKept = 8;
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(30);

    private readonly TextWriter _out;
    private DeliveryCounters _counters = new();
    private readonly List<BenchConnection> _connections = [];
    private readonly ConcurrentDictionary<string, int> _errors = new();
    private LoopbackNetwork? _network;
    private CancellationTokenSource? _keepAlive;
    private readonly Lock _writeLock = new();

    private WorkerHost(TextWriter output) => _out = output;

    public static async Task<int> RunAsync()
    {
        var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
        await using var host = new WorkerHost(output);
        using var input = new StreamReader(Console.OpenStandardInput());
        while (await input.ReadLineAsync() is { } line)
        {
            WorkerCommand? command;
            try
            {
                command = JsonSerializer.Deserialize<WorkerCommand>(line, WorkerJson.Options);
            }
            catch (JsonException e)
            {
                host.Write(new WorkerEvent { Ev = WorkerEvent.Error, Message = "bad command: " + e.Message });
                continue;
            }

            if (command is null || command.Cmd == WorkerCommand.Exit)
            {
                break;
            }

            try
            {
                await host.HandleAsync(command);
            }
            catch (Exception e)
            {
                host.Write(new WorkerEvent { Ev = WorkerEvent.Error, Message = e.ToString() });
            }
        }

        return 0;
    }

    private async Task HandleAsync(WorkerCommand command)
    {
        switch (command.Cmd)
        {
            case WorkerCommand.Connect:
                await ConnectAsync(command);
                break;
            case WorkerCommand.Reset:
                _counters.Reset();
                Write(new WorkerEvent { Ev = WorkerEvent.Ok });
                break;
            case WorkerCommand.CountOnly:
                Write(Counts(full: false));
                break;
            case WorkerCommand.Report:
                Write(Counts(full: true));
                break;
            case WorkerCommand.Streams:
                Write(new WorkerEvent { Ev = WorkerEvent.Reported, Streams = Streams(command) });
                break;
            case WorkerCommand.Close:
                await CloseAllAsync();
                Write(new WorkerEvent { Ev = WorkerEvent.Ok });
                break;
            default:
                Write(new WorkerEvent { Ev = WorkerEvent.Error, Message = "unknown command " + command.Cmd });
                break;
        }
    }

    private async Task ConnectAsync(WorkerCommand command)
    {
        await CloseAllAsync();
        if (command.TrustedCertificate is { } trusted)
        {
            // Made by the coordinator's TestCertificate, so this process trusts it by its file.
            TestCertificate.Trust(trusted);
        }

        _network = new LoopbackNetwork(command.SourceAddresses);
        _counters = new DeliveryCounters();
        _errors.Clear();
        var attempted = 0;
        var up = 0;
        var failed = 0;
        var started = Stopwatch.GetTimestamp();
        using var gate = new SemaphoreSlim(Math.Max(1, command.Concurrency));
        var connections = new BenchConnection?[command.Users.Length];

        async Task OpenAsync(int slot)
        {
            var user = command.Users[slot];
            var url = command.ClientUrls.Length == 1 ? command.ClientUrls[0] : command.ClientUrls[slot];
            var spec = new ConnectionSpec(command.System, command.Transport, url, user, Systems.BenchUsers.SessionOf(user), command.Channel);
            var connection = command.ReconnectUrls.Length > 0
                ? ConnectionFactory.CreateRecovering(spec, command.ReconnectUrls[slot], _network, command.First + slot, _counters, command.MaxSequence)
                : ConnectionFactory.Create(spec, command.SignalRClient, _network, command.First + slot, _counters);
            try
            {
                using var timeout = new CancellationTokenSource(ConnectTimeout);
                await connection.ConnectAsync(timeout.Token);
                Volatile.Write(ref connections[slot], connection);
                Interlocked.Increment(ref up);
            }
            catch (Exception e)
            {
                Interlocked.Increment(ref failed);
                var key = e.GetType().Name + ": " + e.Message;
                _errors.AddOrUpdate(key, 1, (_, n) => n + 1);
                await connection.DisposeAsync();
            }
            finally
            {
                gate.Release();
            }
        }

        // Keep-alives run from the start: a connect phase longer than the server's client timeout (30 s; TLS
        // handshakes on a busy machine) would otherwise lose the first connections before their first ping.
        StartKeepAlive(connections);
        using var progress = new Timer(
            _ => Write(new WorkerEvent { Ev = WorkerEvent.Progress, Attempted = Volatile.Read(ref attempted), Up = Volatile.Read(ref up), Failed = Volatile.Read(ref failed) }),
            null,
            TimeSpan.FromMilliseconds(500),
            TimeSpan.FromMilliseconds(500));
        var tasks = new List<Task>(connections.Length);
        for (var slot = 0; slot < connections.Length; slot++)
        {
            await gate.WaitAsync();
            Interlocked.Increment(ref attempted);
            tasks.Add(OpenAsync(slot));
        }

        await Task.WhenAll(tasks);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        _connections.AddRange(connections.OfType<BenchConnection>());
        Write(new WorkerEvent
        {
            Ev = WorkerEvent.Connected,
            Attempted = attempted,
            Up = up,
            Failed = failed,
            Seconds = seconds,
            Errors = [.. _errors.OrderByDescending(e => e.Value).Take(MaxErrorsKept).Select(e => $"{e.Value}x {e.Key}")],
        });
    }

    /// <summary>
    /// Client keep-alives spread evenly over 15 s (SignalR's server expects one within 30 s), for the slots of
    /// <paramref name="connections"/> that are up (they fill in while the connect phase runs).
    /// </summary>
    private void StartKeepAlive(BenchConnection?[] connections)
    {
        _keepAlive = new CancellationTokenSource();
        var token = _keepAlive.Token;
        _ = Task.Run(async () =>
        {
            const int Slices = 15;
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
            var tick = 0;
            try
            {
                while (await timer.WaitForNextTickAsync(token))
                {
                    var slice = tick++ % Slices;
                    for (var i = slice; i < connections.Length; i += Slices)
                    {
                        if (Volatile.Read(ref connections[i]) is { Failure: null } connection)
                        {
                            _ = connection.KeepAliveAsync().ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
                        }
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
    }

    private async Task CloseAllAsync()
    {
        if (_keepAlive is not null)
        {
            await _keepAlive.CancelAsync();
            _keepAlive.Dispose();
            _keepAlive = null;
        }

        await Parallel.ForEachAsync(_connections, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (c, _) => await c.DisposeAsync());
        _connections.Clear();
        _network?.Dispose();
        _network = null;
    }

    /// <summary>Counts for the coordinator; the full report adds the histogram, CPU time and failures.</summary>
    private WorkerEvent Counts(bool full) => new()
    {
        Ev = WorkerEvent.Reported,
        Received = _counters.Received,
        WarmupReceived = _counters.WarmupReceived,
        Seen = _counters.SeenConnections,
        Dropped = _connections.Count(c => c.Failure is not null),
        Histogram = full ? _counters.Latency.ToSparse() : [],
        CpuSeconds = full ? ProcStats.SelfCpuSeconds() : 0,
        Errors = full ? [.. _connections.Where(c => c.Failure is not null).Select(c => c.Failure!).Distinct().Take(MaxErrorsKept)] : [],
    };

    /// <summary>What the recovering clients saw, with times counted from <see cref="WorkerCommand.Since"/>.</summary>
    private StreamReport Streams(WorkerCommand command)
    {
        var logs = _connections.OfType<RecoveringConnection>().Select(c => c.Log).ToList();
        double Ms(long at) => (at - command.Since) * 1000.0 / Stopwatch.Frequency;
        return new StreamReport
        {
            Clients = logs.Count,
            Disconnected = logs.Count(l => l.Disconnects > 0),
            Down = logs.Count(l => !l.Connected),
            Reconnects = logs.Sum(l => l.Reconnects),
            FailedAttempts = logs.Sum(l => l.FailedAttempts),
            Gaps = logs.Sum(l => l.Gaps),
            MissingOffsets = logs.Sum(l => l.MissingOffsets),
            Duplicates = logs.Sum(l => l.Duplicates),
            DuplicateSequences = logs.Sum(l => l.DuplicateSequences),
            EpochChanges = logs.Sum(l => l.EpochChanges),
            RecoveredFalse = logs.Sum(l => l.RecoveredFalse),
            CaughtUpMs = [.. command.Required.Select(set => logs.Select(l => l.CaughtUpAt(set) is { } at ? Ms(at) : -1).ToArray())],
            ReconnectedMs = [.. logs.Where(l => l.Reconnects > 0).Select(l => Ms(l.ReconnectedAt))],
            Errors = [.. logs.Select(l => l.LastError).OfType<string>().GroupBy(e => e).OrderByDescending(g => g.Count()).Take(MaxErrorsKept).Select(g => $"{g.Count()}x {g.Key}")],
        };
    }

    public ValueTask DisposeAsync() => new(CloseAllAsync());

    private void Write(WorkerEvent e)
    {
        var line = JsonSerializer.Serialize(e, WorkerJson.Options);
        lock (_writeLock)
        {
            _out.WriteLine(line);
        }
    }
}
