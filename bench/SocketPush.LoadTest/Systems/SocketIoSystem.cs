using System.Diagnostics;
using System.Text.RegularExpressions;
using SocketPush.LoadTest.Clients;
using SocketPush.Testing;

namespace SocketPush.LoadTest.Systems;

/// <summary>socket.io 4.8 on Node.js: bench/peers/socketio/server.js, installed with npm ci.</summary>
internal sealed partial class SocketIoSystem(string peerDirectory) : ISystemUnderTest
{
    private string _version = "socket.io (not started)";

    public string Name => SystemNames.SocketIo;

    public string Version => _version;

    public IReadOnlyList<string> FanOutTransports { get; } = [Transports.WebSocket];

    public async Task<RunningServer> StartAsync(CancellationToken cancellationToken)
    {
        var script = Path.Combine(peerDirectory, "server.js");
        if (!Directory.Exists(Path.Combine(peerDirectory, "node_modules", "socket.io")))
        {
            throw new InvalidOperationException($"socket.io is not installed: run 'npm ci' in {peerDirectory}");
        }

        var start = new ProcessStartInfo("node") { WorkingDirectory = peerDirectory, ArgumentList = { script, "--port", "0" } };
        var process = ChildProcess.Start(start, "socket.io", TimeSpan.FromSeconds(15));
        Match match;
        try
        {
            var ready = await process.WaitForOutputAsync(l => l.StartsWith("SOCKETIO READY", StringComparison.Ordinal), "its SOCKETIO READY line", TimeSpan.FromSeconds(30));
            match = ReadyLine().Match(ready);
            if (!match.Success)
            {
                throw new InvalidOperationException("unexpected ready line: " + ready);
            }
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }

        _version = $"socket.io {match.Groups["sio"].Value} on Node.js {match.Groups["node"].Value}";
        return new Running(process, $"http://127.0.0.1:{match.Groups["port"].Value}");
    }

    [GeneratedRegex(@"port=(?<port>\d+)\s+node=(?<node>\S+)\s+socket\.io=(?<sio>\S+)")]
    private static partial Regex ReadyLine();

    private sealed class Running(ChildProcess process, string url) : RunningServer
    {
        private readonly PublishHttp _http = new(new Uri(url + "/"));

        public override string ClientUrl => url;

        public override int RootPid => process.ProcessId;

        public override string Output => string.Join('\n', process.Output.TakeLast(200));

        public override async Task<long> PublishChannelAsync(string channel, long sequence, bool warmup, CancellationToken cancellationToken) =>
            PublishHttp.ReadInteger(await _http.PostAsync("publish/channel/" + Uri.EscapeDataString(channel), BenchMessage.Create(sequence, warmup), "application/json", cancellationToken), "result");

        public override async Task<long> PublishUserAsync(string userId, long sequence, bool warmup, CancellationToken cancellationToken) =>
            PublishHttp.ReadInteger(await _http.PostAsync("publish/user/" + Uri.EscapeDataString(userId), BenchMessage.Create(sequence, warmup), "application/json", cancellationToken), "result");

        public override async ValueTask DisposeAsync()
        {
            _http.Dispose();
            await process.DisposeAsync();
        }
    }
}
