using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace SocketPush.Client.Tests.Infrastructure;

/// <summary>
/// A real node: the built SocketPush.Node started as its own process on ports the OS picks, known once it
/// prints its READY line.
/// </summary>
internal sealed partial class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log;
    private readonly string _configFile;

    private NodeProcess(Process process, StringBuilder log, string configFile, Uri clientUrl, Uri adminUrl, string clusterEndpoint)
    {
        _process = process;
        _log = log;
        _configFile = configFile;
        ClientUrl = clientUrl;
        AdminUrl = adminUrl;
        ClusterEndpoint = clusterEndpoint;
    }

    /// <summary>The node id every node of these tests runs with.</summary>
    public const string NodeId = "client-tests";

    public Uri ClientUrl { get; }

    public Uri AdminUrl { get; }

    /// <summary>The cluster address as the node prints it, <c>host:port</c>.</summary>
    public string ClusterEndpoint { get; }

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <param name="apiKey">admin.apiKey of the node, or null for none.</param>
    /// <param name="extraOptions">More lines of the <c>options:</c> section, e.g. <c>maxMessageBytes: 1024</c>.</param>
    public static async Task<NodeProcess> StartAsync(string? apiKey = null, params string[] extraOptions)
    {
        var configFile = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"socketpush-client-tests-{Guid.NewGuid():N}.yml");
        var yaml = new StringBuilder()
            .AppendLine("admin:")
            .AppendLine($"  apiKey: \"{apiKey ?? string.Empty}\"")
            .AppendLine("options:")
            .AppendLine("  removeUserAfterDisconnectTimeout: 0");
        foreach (var option in extraOptions)
        {
            yaml.AppendLine($"  {option}");
        }

        yaml.AppendLine("logging:").AppendLine("  level: Warning");
        await File.WriteAllTextAsync(configFile, yaml.ToString());

        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = System.IO.Path.GetTempPath(),
        };
        foreach (var argument in new[]
        {
            Repository.NodeDll, "--config", configFile, "--node-id", NodeId,
            "--client-port", "0", "--admin-port", "0", "--cluster-port", "0",
        })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Cannot start the node.");
        var log = new StringBuilder();
        var ready = new TaskCompletionSource<Match>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                ready.TrySetException(new InvalidOperationException($"The node closed its output before READY:\n{Snapshot(log)}"));
                return;
            }

            Append(log, e.Data);
            if (ReadyLine().Match(e.Data) is { Success: true } match)
            {
                ready.TrySetResult(match);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Append(log, e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        try
        {
            var match = await ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
            return new NodeProcess(process, log, configFile, new Uri(match.Groups["client"].Value), new Uri(match.Groups["admin"].Value), match.Groups["cluster"].Value);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            process.Dispose();
            File.Delete(configFile);
            throw new InvalidOperationException($"The node did not become ready:\n{Snapshot(log)}", e);
        }
    }

    public SocketPushClient CreateClient(string? apiKey = null) => new(AdminUrl, apiKey);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
        _process.Dispose();
        File.Delete(_configFile);
    }

    private static void Append(StringBuilder log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            log.AppendLine(line);
        }
    }

    private static string Snapshot(StringBuilder log)
    {
        lock (log)
        {
            return log.ToString();
        }
    }

    [GeneratedRegex(@"^SOCKETPUSH READY node=\S+ client=(?<client>\S+) admin=(?<admin>\S+) cluster=(?<cluster>\S+)$")]
    private static partial Regex ReadyLine();
}
