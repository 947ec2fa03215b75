using System.Globalization;

namespace SocketPush.EndToEnd.Tests;

/// <summary>
/// The local cluster of examples/cluster, run as a user runs it: <c>start.sh</c> starts n1, n2 and n3 on free ports
/// (TCP and UDP), <c>start.sh --add</c> one more, and disposing runs <c>stop.sh</c> (twice: it must be idempotent)
/// and checks that no node process is left; <c>kill.sh</c> kills a node. One browser for the tests of a collection
/// (<see cref="ClusterCollection"/>, <see cref="KilledNodeClusterCollection"/>: each has a cluster of its own).
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    /// <summary>Ports are chosen for this many nodes up front, so <c>--add</c> finds its own in the lists.</summary>
    private const int MaxNodes = 4;

    private readonly string _stateDirectory = Directory.CreateTempSubdirectory("socketpush-cluster-").FullName;
    private readonly Dictionary<string, string> _environment;
    private readonly int[] _clientPorts;
    private readonly int[] _adminPorts;
    private readonly Lock _nodesLock = new();
    private readonly List<ClusterNode> _nodes = [];
    private readonly HashSet<int> _processIds = [];
    private int _disposed;

    public ClusterFixture()
    {
        var taken = new HashSet<int>();
        _clientPorts = DistinctPorts(FreePorts.Tcp, taken);
        _adminPorts = DistinctPorts(FreePorts.Tcp, taken);
        var clusterPorts = DistinctPorts(FreePorts.Udp, taken);
        _environment = new Dictionary<string, string>
        {
            ["SOCKETPUSH_STATE_DIR"] = _stateDirectory,
            ["SOCKETPUSH_CLIENT_PORTS"] = Join(_clientPorts),
            ["SOCKETPUSH_ADMIN_PORTS"] = Join(_adminPorts),
            ["SOCKETPUSH_CLUSTER_PORTS"] = Join(clusterPorts),
            // The build the tests run on: start.sh builds nothing then.
            ["SOCKETPUSH_CONFIGURATION"] = Repository.Configuration,
        };
    }

    /// <summary>The nodes started so far, n1 first; a stopped or killed node is no longer listed (until started again).</summary>
    internal IReadOnlyList<ClusterNode> Nodes
    {
        get
        {
            lock (_nodesLock)
            {
                return [.. _nodes];
            }
        }
    }

    internal Chromium Chromium { get; private set; } = null!;

    internal ClusterNode Node(string id) => Nodes.Single(n => n.Id == id);

    /// <summary>The log file start.sh writes a node's output to.</summary>
    internal string LogPath(string id) => Path.Combine(_stateDirectory, id + ".log");

    public async Task InitializeAsync()
    {
        try
        {
            await StartAsync(["n1", "n2", "n3"]);
            Chromium = await Chromium.LaunchAsync();
        }
        catch
        {
            await EndAsync();
            throw;
        }
    }

    /// <summary>Starts the next node with <c>start.sh --add</c> (seeded with n1) and returns it once it is ready.</summary>
    internal async Task<ClusterNode> AddNodeAsync()
    {
        var id = string.Create(CultureInfo.InvariantCulture, $"n{Nodes.Count + 1}");
        await StartAsync([id], "--add");
        return Node(id);
    }

    /// <summary>Stops one node with <c>stop.sh {id}</c>.</summary>
    internal async Task StopNodeAsync(string id)
    {
        var stop = await RunScriptAsync("stop.sh", id);
        Assert.True(stop.ExitCode == 0, stop.ToString());
        ClusterNode node;
        lock (_nodesLock)
        {
            node = _nodes.Single(n => n.Id == id);
            _nodes.Remove(node);
        }

        node.Dispose();
        Assert.False(Runs(node.ProcessId), $"{id} (pid {node.ProcessId}) still runs after stop.sh {id}");
    }

    /// <summary>
    /// Kills one node with <c>kill.sh {id}</c> (SIGKILL: no leave, no handoff) and returns once its process is gone.
    /// The fixture lists it no more; <c>stop.sh</c> at the end must cope with its pid file.
    /// </summary>
    internal async Task KillNodeAsync(string id)
    {
        ClusterNode node;
        lock (_nodesLock)
        {
            node = _nodes.Single(n => n.Id == id);
        }

        var kill = await RunScriptAsync("kill.sh", id);
        Assert.True(kill.ExitCode == 0, kill.ToString());
        Assert.Contains($"Killed {id} (pid {node.ProcessId}) with SIGKILL.", kill.StandardOutput, StringComparison.Ordinal);
        lock (_nodesLock)
        {
            _nodes.Remove(node);
        }

        node.Dispose();
        Assert.False(Runs(node.ProcessId), $"{id} (pid {node.ProcessId}) still runs after kill.sh {id}");
    }

    /// <summary>Starts a killed node again with <c>start.sh</c>, which starts the nodes of the state directory that do not run.</summary>
    internal async Task<ClusterNode> StartAgainAsync(string id)
    {
        await StartAsync([id]);
        return Node(id);
    }

    public async Task DisposeAsync()
    {
        if (await EndAsync() is not { } ended)
        {
            return;
        }

        var (stop, again, left) = ended;

        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.True(again.ExitCode == 0 && again.StandardOutput.Contains("No node", StringComparison.Ordinal), "a second stop.sh: " + again);
        Assert.True(left.Count == 0, $"stop.sh left node processes running: {string.Join(", ", left)}");
    }

    /// <summary>
    /// Closes the browser, runs stop.sh twice and kills what it left; returns what happened for the checks, or null
    /// when it ran before.
    /// </summary>
    private async Task<(ProcessResult Stop, ProcessResult Again, List<int> Left)?> EndAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return null;
        }

        if (Chromium is not null)
        {
            await Chromium.DisposeAsync();
        }

        ProcessResult stop, again;
        List<int> left;
        try
        {
            stop = await RunScriptAsync("stop.sh");
            again = await RunScriptAsync("stop.sh");
        }
        finally
        {
            foreach (var node in Nodes)
            {
                node.Dispose();
            }

            lock (_nodesLock)
            {
                left = [.. _processIds.Where(Runs)];
            }

            // Whatever stop.sh left is ended here, so a failing test leaves no process behind either.
            foreach (var pid in left)
            {
                using var process = System.Diagnostics.Process.GetProcessById(pid);
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            Directory.Delete(_stateDirectory, recursive: true);
        }

        return (stop, again, left);
    }

    private async Task StartAsync(string[] ids, params string[] arguments)
    {
        var start = await RunScriptAsync("start.sh", arguments);
        // Recorded before any check: whatever it started is checked and ended when the fixture ends.
        var pids = new Dictionary<string, int>();
        foreach (var id in ids)
        {
            var pidFile = Path.Combine(_stateDirectory, id + ".pid");
            if (File.Exists(pidFile))
            {
                pids[id] = int.Parse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture);
                lock (_nodesLock)
                {
                    _processIds.Add(pids[id]);
                }
            }
        }

        Assert.True(start.ExitCode == 0, start.ToString());
        foreach (var id in ids)
        {
            var number = int.Parse(id.AsSpan(1), CultureInfo.InvariantCulture);
            var node = new ClusterNode(
                id,
                new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{_clientPorts[number - 1]}")),
                new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{_adminPorts[number - 1]}")),
                pids[id]);
            // start.sh tells the user where each node is.
            Assert.Contains($"client {node.ClientUrl.ToString().TrimEnd('/')}  admin {node.AdminUrl.ToString().TrimEnd('/')}", start.StandardOutput, StringComparison.Ordinal);
            Assert.True(Runs(node.ProcessId), $"{id} (pid {node.ProcessId}) does not run after start.sh");
            lock (_nodesLock)
            {
                _nodes.Add(node);
            }
        }
    }

    private Task<ProcessResult> RunScriptAsync(string script, params string[] arguments) =>
        ProcessRunner.RunAsync("bash", [Repository.Path($"examples/cluster/{script}"), .. arguments], _environment, timeout: TimeSpan.FromMinutes(2));

    /// <summary>True while the process exists and has not exited (a zombie has).</summary>
    private static bool Runs(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // pid (name) state ...: the state follows the name's closing parenthesis.
            return stat[(stat.LastIndexOf(')') + 2)..].FirstOrDefault() is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static int[] DistinctPorts(Func<int> next, HashSet<int> taken)
    {
        var ports = new int[MaxNodes];
        for (var i = 0; i < ports.Length; i++)
        {
            do
            {
                ports[i] = next();
            }
            while (!taken.Add(ports[i]));
        }

        return ports;
    }

    private static string Join(int[] ports) => string.Join(',', ports.Select(p => p.ToString(CultureInfo.InvariantCulture)));
}

/// <summary>A node of <see cref="ClusterFixture"/>, with its management API.</summary>
internal sealed class ClusterNode(string id, Uri clientUrl, Uri adminUrl, int processId) : IDisposable
{
    public string Id { get; } = id;

    public Uri ClientUrl { get; } = clientUrl;

    /// <summary>The client URL as the node names it (user.getFrontendServer, <c>moved</c>): no trailing slash.</summary>
    public string Origin { get; } = clientUrl.GetLeftPart(UriPartial.Authority);

    public Uri AdminUrl { get; } = adminUrl;

    public int ProcessId { get; } = processId;

    public AdminApi Api { get; } = new(adminUrl);

    public void Dispose() => Api.Dispose();
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster of examples/cluster";
}

/// <summary>
/// A cluster of its own for a test that kills a node: xunit runs the tests of a collection in no set order, so a
/// kill in <see cref="ClusterCollection"/> could come before a test that needs three nodes. Run alone, after the
/// collections that run in parallel, so that two clusters on the same cores do not slow gossip's failure detection.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KilledNodeClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster of examples/cluster, a node killed";
}
