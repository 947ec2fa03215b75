using System.Diagnostics;

namespace SocketPush.EndToEnd.Tests;

/// <summary>A node started with a config it cannot run safely refuses at once, says why, and binds nothing.</summary>
public sealed class StartupRefusalTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("socketpush-refusal-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("admin:\n  bindAddress: 0.0.0.0\n", "admin.apiKey")]
    [InlineData("options:\n  maxMessageBytes: 0\n", "options.maxMessageBytes")]
    [InlineData("options:\n  authenticationTimout: 5s\n", "'authenticationTimout'")]
    public async Task The_node_exits_with_code_2_and_names_the_key(string yaml, string named)
    {
        var config = Path.Combine(_directory, "config.yml");
        await File.WriteAllTextAsync(config, yaml);

        var (exitCode, stdout, stderr) = await RunAsync("--config", config, "--client-port", "0", "--admin-port", "0", "--cluster-port", "0");

        Assert.Equal(2, exitCode);
        Assert.Contains(named, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("SOCKETPUSH READY", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal); // a message, not a stack trace
    }

    private async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo(NodeProcess.DotnetHost())
        {
            WorkingDirectory = _directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(NodeProcess.NodeDll());
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
