using System.Diagnostics;
using System.Globalization;
using SocketPush.LoadTest.Clients;
using SocketPush.Testing;

namespace SocketPush.LoadTest.Systems;

/// <summary>
/// Debian's nginx with libnginx-mod-nchan, run in the foreground as a child process with its own prefix,
/// temp directories and a port the harness picks; nothing of the system's nginx configuration is used.
/// </summary>
internal sealed class NchanSystem(string peerDirectory, string workers, string version) : ISystemUnderTest
{
    public string Name => SystemNames.Nchan;

    public string Version => version;

    public IReadOnlyList<string> FanOutTransports { get; } = [Transports.WebSocket];

    /// <summary>Nchan has no users: each user subscribes to a channel of its own.</summary>
    public static string UserChannel(string userId) => "user." + userId;

    public async Task<RunningServer> StartAsync(CancellationToken cancellationToken)
    {
        var template = await File.ReadAllTextAsync(Path.Combine(peerDirectory, "nginx.conf.template"), cancellationToken);
        var prefix = Directory.CreateTempSubdirectory("nchan-bench-");
        var port = FreePorts.Tcp();
        // One descriptor per connection, within the limit the harness was given (a hard limit it cannot raise).
        var workerConnections = Math.Max(1024, ResourceLimits.OpenFiles() - 64);
        var config = template
            .Replace("@PREFIX@", prefix.FullName, StringComparison.Ordinal)
            .Replace("@PORT@", port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("@WORKERS@", workers, StringComparison.Ordinal)
            .Replace("@WORKER_CONNECTIONS@", workerConnections.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var configPath = Path.Combine(prefix.FullName, "nginx.conf");
        await File.WriteAllTextAsync(configPath, config, cancellationToken);
        var start = new ProcessStartInfo("nginx")
        {
            WorkingDirectory = prefix.FullName,
            ArgumentList = { "-p", prefix.FullName, "-e", Path.Combine(prefix.FullName, "error.log"), "-c", configPath },
        };
        ChildProcess process;
        try
        {
            process = ChildProcess.Start(start, "nginx", TimeSpan.FromSeconds(15));
        }
        catch
        {
            DeleteScratch(prefix);
            throw;
        }

        // nginx prints nothing when it is up: the ready check is its /stats answering.
        var running = new Running(process, $"http://127.0.0.1:{port}", prefix);
        try
        {
            await running.WaitReadyAsync(cancellationToken);
        }
        catch
        {
            await running.DisposeAsync();
            throw;
        }

        return running;
    }

    /// <summary>Removes the prefix of a stopped nginx; what cannot be removed stays in /tmp.</summary>
    private static void DeleteScratch(DirectoryInfo directory)
    {
        try
        {
            directory.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed class Running(ChildProcess process, string url, DirectoryInfo prefix) : RunningServer
    {
        private readonly PublishHttp _http = new(new Uri(url + "/"));

        public override string ClientUrl => url;

        public override int RootPid => process.ProcessId;

        public override string Output
        {
            get
            {
                var log = Path.Combine(prefix.FullName, "error.log");
                return string.Join('\n', process.Output.TakeLast(200)) + (File.Exists(log) ? "\n" + File.ReadAllText(log) : "");
            }
        }

        public async Task WaitReadyAsync(CancellationToken cancellationToken)
        {
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    await _http.GetAsync("stats", cancellationToken);
                    // Workers are forked after the master binds; wait until they are there to be measured.
                    if (ProcStats.WithDescendants(process.ProcessId).Count > 1)
                    {
                        return;
                    }
                }
                catch (HttpRequestException) when (deadline.Elapsed < TimeSpan.FromSeconds(20))
                {
                }

                if (deadline.Elapsed > TimeSpan.FromSeconds(20))
                {
                    throw new TimeoutException("nginx did not answer /stats within 20 s:\n" + Output);
                }

                await Task.Delay(50, cancellationToken);
            }
        }

        public override async Task<long> PublishChannelAsync(string channel, long sequence, bool warmup, CancellationToken cancellationToken) =>
            PublishHttp.ReadInteger(await _http.PostAsync("pub/" + Uri.EscapeDataString(channel), BenchMessage.Create(sequence, warmup), "application/json", cancellationToken), "subscribers");

        public override Task<long> PublishUserAsync(string userId, long sequence, bool warmup, CancellationToken cancellationToken) =>
            PublishChannelAsync(UserChannel(userId), sequence, warmup, cancellationToken);

        public override async ValueTask DisposeAsync()
        {
            _http.Dispose();
            await process.DisposeAsync();
            DeleteScratch(prefix);
        }
    }
}
