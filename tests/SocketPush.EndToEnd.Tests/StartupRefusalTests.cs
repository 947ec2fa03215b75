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

        var run = await ProcessRunner.RunAsync(
            ProcessRunner.DotnetHost,
            [Repository.NodeDll, "--config", config, "--client-port", "0", "--admin-port", "0", "--cluster-port", "0"],
            workingDirectory: _directory);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(named, run.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("SOCKETPUSH READY", run.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.StandardError, StringComparison.Ordinal); // a message, not a stack trace
    }
}
