using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace SocketPush.Testing;

/// <summary>
/// A real node: the built SocketPush.Node run as its own process (<c>dotnet SocketPush.Node.dll</c>, or a published
/// executable) with a config file of its own, known once it prints its READY line. Everything it writes is kept, to
/// wait for and to show when a test fails. Disposing it always ends the process: gently (SIGTERM) if it can, by force if it must.
/// </summary>
public sealed partial class NodeProcess : IAsyncDisposable
{
    private readonly ChildProcess _process;
    private readonly string _directory;
    private int _disposed;

    private NodeProcess(ChildProcess process, string directory, NodeProcessOptions options)
    {
        _process = process;
        _directory = directory;
        NodeId = options.NodeId;
        AdminApiKey = options.AdminApiKey;
        NetworkNamespace = options.NetworkNamespace;
    }

    /// <summary>The node id the READY line printed.</summary>
    public string NodeId { get; private set; }

    /// <summary>The client port's URL, as printed.</summary>
    public Uri ClientUrl { get; private set; } = null!;

    /// <summary>The admin port's URL, as printed.</summary>
    public Uri AdminUrl { get; private set; } = null!;

    /// <summary>The cluster endpoint, host:port, as printed: what other nodes pass in <c>--seeds</c>.</summary>
    public string ClusterEndpoint { get; private set; } = "";

    /// <summary>The port of <see cref="ClusterEndpoint"/>.</summary>
    public int ClusterPort { get; private set; }

    /// <summary>The management API's key the node was started with (<see cref="NodeProcessOptions.AdminApiKey"/>), or null.</summary>
    public string? AdminApiKey { get; }

    /// <summary>The network namespace the node runs in (<see cref="NodeProcessOptions.NetworkNamespace"/>), or null.</summary>
    public string? NetworkNamespace { get; }

    /// <summary>The operating system's id of the process.</summary>
    public int ProcessId => _process.ProcessId;

    /// <summary>Whether the process has exited (killed, stopped, or on its own).</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The <see cref="Stopwatch"/> timestamp at which this process saw the node exit, or null while it runs.</summary>
    public long? ExitedAt => _process.ExitedAt;

    /// <summary>The config file the node was started with.</summary>
    public string ConfigPath => Path.Combine(_directory, "config.yml");

    /// <summary>Every line the node wrote so far, stdout and stderr in the order they came.</summary>
    public IReadOnlyList<string> Output => _process.Output;

    /// <summary>How many lines the node wrote so far; with <see cref="OutputSince"/>, what it wrote during one test.</summary>
    public int OutputLineCount => _process.OutputLineCount;

    /// <summary>Everything the node wrote (stdout and stderr), from line <paramref name="fromLine"/> on.</summary>
    public string OutputSince(int fromLine) => _process.OutputSince(fromLine);

    /// <summary>Starts a node and waits for its READY line.</summary>
    /// <exception cref="InvalidOperationException">It exited or did not print READY in time; the message has its output.</exception>
    public static async Task<NodeProcess> StartAsync(NodeProcessOptions? options = null)
    {
        options ??= new NodeProcessOptions();
        var config = ConfigText(options);
        var directory = Directory.CreateTempSubdirectory("socketpush-node-").FullName;
        var configPath = Path.Combine(directory, "config.yml");
        await File.WriteAllTextAsync(configPath, config);

        // In a namespace, ip execs the node in place (no fork): the process started is the node, whose signals reach it.
        var start = new ProcessStartInfo(options.NetworkNamespace is null ? options.Executable ?? ProcessRunner.DotnetHost : NetworkNamespaces.Ip)
        {
            // Not the binary's folder: like `dotnet run --project ...` from the repository root, the node must
            // find its pages wherever it is started from; and a config.yml there is never read by accident.
            WorkingDirectory = directory,
        };
        foreach (var argument in Arguments(options, configPath))
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in options.Environment)
        {
            start.Environment[name] = value;
        }

        ChildProcess process;
        try
        {
            process = ChildProcess.Start(start, $"Node {options.NodeId}", options.StopTimeout);
        }
        catch
        {
            Directory.Delete(directory, recursive: true);
            throw;
        }

        var node = new NodeProcess(process, directory, options);
        try
        {
            var line = await node.WaitForOutputAsync(l => ReadyLine().IsMatch(l), "its READY line", options.StartTimeout);
            node.OnReady(ReadyLine().Match(line));
            return node;
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            var exitCode = await process.EndAsync();
            await node.DisposeAsync();
            throw new InvalidOperationException($"Node {options.NodeId} did not start (exit code {exitCode}): {e.Message}", e);
        }
    }

    /// <summary>
    /// Waits until the node writes a line (on stdout or stderr) that <paramref name="match"/> takes, and returns
    /// it; a line written before the call counts too.
    /// </summary>
    /// <param name="match">Takes the line waited for.</param>
    /// <param name="timeout">How long to wait; <see cref="Eventually.DefaultTimeout"/> unless given.</param>
    /// <param name="what">What the line means, for the failure message, e.g. "the shutdown message".</param>
    /// <exception cref="TimeoutException">No such line in time (15 s unless given); the message has the output.</exception>
    /// <exception cref="InvalidOperationException">The node ended its output (exited) without such a line.</exception>
    public Task<string> WaitForOutputAsync(Func<string, bool> match, string what, TimeSpan? timeout = null) =>
        _process.WaitForOutputAsync(match, what, timeout);

    /// <summary>
    /// Sends SIGTERM and waits for the node to exit; returns its exit code (0 for a clean stop). A node
    /// <see cref="Suspend"/>ed is resumed first, or it could not act on the signal.
    /// </summary>
    /// <exception cref="InvalidOperationException">It did not exit in time, and was killed.</exception>
    public Task<int> StopAsync() => _process.StopAsync();

    /// <summary>
    /// Freezes the node where it is (SIGSTOP), as a hung machine or a long pause would: its sockets stay open, it
    /// answers nothing, and its peers see it fall silent without a leave. <see cref="Resume"/> undoes it;
    /// <see cref="StopAsync"/> and disposal resume it first.
    /// </summary>
    public void Suspend() => _process.Suspend();

    /// <summary>Lets a <see cref="Suspend"/>ed node run on (SIGCONT); nothing for a node that is not suspended.</summary>
    public void Resume() => _process.Resume();

    /// <summary>
    /// Kills the node and its whole process tree (SIGKILL), as a crash would end it, and returns once the process
    /// is gone.
    /// </summary>
    public void Kill() => _process.Kill();

    /// <summary>Ends the node if it still runs (SIGTERM, then SIGKILL), and deletes its config folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await _process.DisposeAsync();
        }
        finally
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private static string ConfigText(NodeProcessOptions options)
    {
        var config = options.Config ?? "# Written by SocketPush.Testing.NodeProcess: every key at its default; id and ports come as flags.\n";
        config = options.ExtraConfig.Length == 0 ? config : $"{config.TrimEnd('\n')}\n{options.ExtraConfig.TrimEnd('\n')}\n";
        var sections = new List<string>();
        if (options.BindAddress is { } address)
        {
            sections.Add($"node:\n  bindAddress: {address}");
        }

        if (options.BindAddress is not null || options.AdminApiKey is not null)
        {
            sections.Add("admin:"
                + (options.BindAddress is { } adminAddress ? $"\n  bindAddress: {adminAddress}" : "")
                + (options.AdminApiKey is { } key ? $"\n  apiKey: \"{key}\"" : ""));
        }

        foreach (var section in sections)
        {
            var name = section[..section.IndexOf(':', StringComparison.Ordinal)];
            if (config.Split('\n').Any(line => line.StartsWith(name + ":", StringComparison.Ordinal)))
            {
                throw new ArgumentException(
                    $"The config of node {options.NodeId} has a {name}: section, which BindAddress and AdminApiKey write: the node would read only one of them.",
                    nameof(options));
            }
        }

        return sections.Count == 0 ? config : $"{config.TrimEnd('\n')}\n{string.Join('\n', sections)}\n";
    }

    private static IEnumerable<string> Arguments(NodeProcessOptions options, string configPath)
    {
        string[] inNamespace = options.NetworkNamespace is { } ns ? ["netns", "exec", ns, options.Executable ?? ProcessRunner.DotnetHost] : [];
        string[] node = options.Executable is null ? [options.NodeDll ?? Repository.NodeDll] : [];
        string[] arguments =
        [
            .. inNamespace,
            .. node, "--config", configPath, "--node-id", options.NodeId,
            "--client-port", Port(options.ClientPort), "--admin-port", Port(options.AdminPort), "--cluster-port", Port(options.ClusterPort),
        ];
        return options.Seeds.Count == 0
            ? [.. arguments, .. options.ExtraArguments]
            : [.. arguments, "--seeds", string.Join(',', options.Seeds), .. options.ExtraArguments];
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private void OnReady(Match ready)
    {
        NodeId = ready.Groups["node"].Value;
        _process.Name = $"Node {NodeId}";
        ClientUrl = new Uri(ready.Groups["client"].Value);
        AdminUrl = new Uri(ready.Groups["admin"].Value);
        ClusterEndpoint = ready.Groups["cluster"].Value;
        // Whatever the node prints: the configured port today, the bound one once the cluster port is bound.
        ClusterPort = int.Parse(ClusterEndpoint.AsSpan(ClusterEndpoint.LastIndexOf(':') + 1), CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"^SOCKETPUSH READY node=(?<node>\S+) client=(?<client>\S+) admin=(?<admin>\S+) cluster=(?<cluster>\S+:\d+)$")]
    private static partial Regex ReadyLine();
}
