using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace SocketPush.EndToEnd.Tests;

/// <summary>The node's command line as a user types it: help, version, unknown flags, check-config, and what it says when it cannot start.</summary>
public sealed class CommandLineTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("socketpush-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private Task<ProcessResult> NodeAsync(params string[] arguments) =>
        ProcessRunner.RunAsync(ProcessRunner.DotnetHost, [Repository.NodeDll, .. arguments], workingDirectory: _directory);

    [Fact]
    public async Task Help_lists_the_commands_and_the_flags_of_a_node()
    {
        var run = await NodeAsync("--help");

        Assert.Equal(0, run.ExitCode);
        foreach (var expected in new[] { "run", "check-config <FILE>", "generate-php", "--config <FILE>", "--node-id <ID>", "--client-port <PORT>", "--admin-port <PORT>", "--cluster-port <PORT>", "--seeds", "--version" })
        {
            Assert.Contains(expected, run.StandardOutput, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Version_names_the_wire_version()
    {
        var run = await NodeAsync("--version");

        Assert.Equal(0, run.ExitCode);
        Assert.Matches(@"^socketpush \S+ \(wire version \d+\)$", run.StandardOutput.Trim());
    }

    [Theory]
    [InlineData("--bogus")]
    [InlineData("run", "--bogus")]
    [InlineData("--client-port", "0", "--porrt", "1")]
    public async Task An_unknown_flag_prints_the_help_not_a_configuration_error(params string[] arguments)
    {
        var run = await NodeAsync(arguments);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains($"Unrecognized command or argument '{arguments.First(a => a.StartsWith("--b", StringComparison.Ordinal) || a == "--porrt")}'", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("Usage:", run.StandardOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("configuration", run.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("SOCKETPUSH READY", run.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_config_passes_the_repository_config()
    {
        var run = await NodeAsync("check-config", Repository.Path("config.yml"));

        Assert.Equal(0, run.ExitCode);
        Assert.Equal($"{Repository.Path("config.yml")}: OK (node node-1, client port 8080, admin port 8181, cluster port 7946)", run.StandardOutput.Trim());
    }

    [Theory]
    [InlineData("options:\n  maxMessageBytes: lots\n", "options.maxMessageBytes", 2)]
    [InlineData("options:\n  maxMessageBytes: [500\n", "options.maxMessageBytes", 2)]
    [InlineData("options:\n  maxMessageBytes: 0\n", "options.maxMessageBytes", 2)]
    [InlineData("node:\n  id: n1\nadmin:\n  bindAddress: 0.0.0.0\n", "admin.apiKey", 3)]
    [InlineData("# a tab below\nnode:\n  id: n1\n\tclientPort: 1\n", "clientPort", 4)]
    public async Task Check_config_refuses_a_broken_file_naming_the_file_the_line_and_the_key(string yaml, string key, int line)
    {
        var path = Path.Combine(_directory, "broken.yml");
        await File.WriteAllTextAsync(path, yaml);

        var run = await NodeAsync("check-config", "broken.yml");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(key, run.StandardError, StringComparison.Ordinal);
        Assert.Contains($"{path} line {line}", run.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", run.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dotnet_run_runs_where_the_command_was_typed()
    {
        // The README's first command reads config.yml of the folder it is typed in (not the project's folder).
        await File.WriteAllTextAsync(Path.Combine(_directory, "config.yml"), "node:\n  id: typed-here\n");

        var run = await ProcessRunner.RunAsync(
            ProcessRunner.DotnetHost,
            ["run", "--no-build", "-c", Repository.Configuration, "--project", Repository.Path("node/SocketPush.Node"), "--", "check-config", "config.yml"],
            workingDirectory: _directory,
            timeout: TimeSpan.FromMinutes(2));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.StartsWith($"{Path.Combine(_directory, "config.yml")}: OK (node typed-here,", run.StandardOutput.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_without_a_config_file_says_so_at_start()
    {
        var start = new ProcessStartInfo(ProcessRunner.DotnetHost) { WorkingDirectory = _directory };
        foreach (var argument in new[] { Repository.NodeDll, "--client-port", "0", "--admin-port", "0", "--cluster-port", "0" })
        {
            start.ArgumentList.Add(argument);
        }

        await using var node = ChildProcess.Start(start, "node without config");
        var line = await node.WaitForOutputAsync(l => l.Contains("no config file", StringComparison.Ordinal), "the line about its config file", TimeSpan.FromSeconds(60));
        Assert.Contains($"config.yml is not in {_directory}", line, StringComparison.Ordinal);
        await node.WaitForOutputAsync(l => l.StartsWith("SOCKETPUSH READY", StringComparison.Ordinal), "its READY line", TimeSpan.FromSeconds(60));
        Assert.Equal(0, await node.StopAsync());
    }

    [Fact]
    public async Task A_client_or_admin_port_in_use_is_one_line_naming_the_port_and_its_setting()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var client = await NodeAsync("--client-port", port, "--admin-port", "0", "--cluster-port", "0");
        var admin = await NodeAsync("--client-port", "0", "--admin-port", port, "--cluster-port", "0");

        AssertOneLine(client, $"socketpush: port {port} (node.clientPort, TCP) on 127.0.0.1 is in use by another program");
        AssertOneLine(admin, $"socketpush: port {port} (admin.port, TCP) on 127.0.0.1 is in use by another program");
    }

    [Fact]
    public async Task A_cluster_port_in_use_is_one_line_naming_the_port_and_its_setting()
    {
        using var taken = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)taken.Client.LocalEndPoint!).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var run = await NodeAsync("--client-port", "0", "--admin-port", "0", "--cluster-port", port);

        AssertOneLine(run, $"socketpush: port {port} (node.clusterPort, UDP) on 127.0.0.1 cannot be bound");
    }

    private static void AssertOneLine(ProcessResult run, string message)
    {
        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith(message, run.StandardError, StringComparison.Ordinal);
        Assert.Single(run.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        // No stack trace before it, on either stream.
        Assert.DoesNotContain("   at ", run.StandardOutput + run.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", run.StandardOutput + run.StandardError, StringComparison.Ordinal);
    }
}
