using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace SocketPush.Testing;

/// <summary>
/// A private IPv4 network of Linux network namespaces, for tests that cut a cluster in two. In the root namespace,
/// a bridge <c>spnet{X}</c> with <c>10.213.X.1/24</c>, so that the tests' own process reaches every host; per host
/// (<c>n1</c>, <c>n2</c>, …) a namespace <c>spnet{X}-n{i}</c> joined to the bridge by a veth pair (<c>spnet{X}-{i}</c>
/// on the bridge, <c>eth0</c> inside) with <c>10.213.X.(10+i)/24</c>. X is drawn at random among the subnets nothing
/// on the machine uses, and the bridge's name claims it, so that suites run side by side. Nothing leaves the subnet:
/// the namespaces have no route beyond it, and the bridge has no other port.
/// <para>
/// <see cref="PartitionAsync"/> cuts two groups of hosts apart: inside each namespace, iptables drops what arrives
/// from the other group (on input only, so that a sender sees no error, as across a real partition), while the
/// root namespace still reaches every host. <see cref="HealAsync"/> removes the rules. Disposing deletes every
/// veth, namespace and the bridge that were made, also after a step failed half way; a second time does nothing.
/// </para>
/// Needs root, <c>ip</c> (iproute2) and <c>iptables</c>; <see cref="UnavailableReason"/> says what is missing.
/// </summary>
public sealed partial class NetworkNamespaces : IAsyncDisposable
{
    /// <summary>The first two bytes of every subnet: 10.213.X.0/24.</summary>
    private const string SubnetPrefix = "10.213.";

    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);

    private static readonly Lazy<string?> Unavailable = new(FindUnavailableReason);

    private readonly int _subnet;
    private readonly List<NetworkHost> _hosts = [];
    private readonly List<string> _veths = [];
    private readonly List<string> _namespaces = [];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private bool _bridgeMade;
    private int _disposed;

    private NetworkNamespaces(int subnet) => _subnet = subnet;

    /// <summary>
    /// Null when this process can make namespaces (it runs as root, and <c>ip</c> and <c>iptables</c> are
    /// installed); otherwise why not, with what to do about it.
    /// </summary>
    public static string? UnavailableReason => Unavailable.Value;

    /// <summary>The <c>ip</c> program (iproute2), by its full path when it is found.</summary>
    public static string Ip { get; } = FindProgram("ip") ?? "ip";

    private static string Iptables { get; } = FindProgram("iptables") ?? "iptables";

    /// <summary>The subnet, e.g. <c>10.213.57.0/24</c>.</summary>
    public string Subnet => string.Create(CultureInfo.InvariantCulture, $"{SubnetPrefix}{_subnet}.0/24");

    /// <summary>The root namespace's address on the bridge: where the hosts see this process's traffic come from.</summary>
    public string RootAddress => string.Create(CultureInfo.InvariantCulture, $"{SubnetPrefix}{_subnet}.1");

    /// <summary>The bridge's name in the root namespace.</summary>
    public string Bridge => string.Create(CultureInfo.InvariantCulture, $"spnet{_subnet}");

    /// <summary>The hosts, <c>n1</c> first.</summary>
    public IReadOnlyList<NetworkHost> Hosts => _hosts;

    /// <summary>The host named <paramref name="name"/> (<c>n1</c>, <c>n2</c>, …).</summary>
    public NetworkHost this[string name] => _hosts.Single(h => h.Name == name);

    /// <summary>Makes the bridge and <paramref name="hostCount"/> hosts, <c>n1</c>..<c>nN</c>.</summary>
    /// <exception cref="InvalidOperationException">Namespaces cannot be made here (see <see cref="UnavailableReason"/>), or a command failed; what was made is deleted.</exception>
    public static async Task<NetworkNamespaces> CreateAsync(int hostCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(hostCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hostCount, 200);
        if (UnavailableReason is { } reason)
        {
            throw new InvalidOperationException(reason);
        }

        var network = await ClaimSubnetAsync();
        try
        {
            await network.RunIpAsync("addr", "add", network.RootAddress + "/24", "dev", network.Bridge);
            await network.RunIpAsync("link", "set", network.Bridge, "up");
            for (var i = 1; i <= hostCount; i++)
            {
                await network.AddHostAsync(i);
            }

            return network;
        }
        catch
        {
            await network.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Cuts <paramref name="side"/> and <paramref name="otherSide"/> apart: every packet from a host of one to a host
    /// of the other is dropped where it arrives. Hosts in neither group, and the root namespace, reach everyone.
    /// Adds to a partition made before; <see cref="HealAsync"/> undoes them all.
    /// </summary>
    public async Task PartitionAsync(IReadOnlyCollection<string> side, IReadOnlyCollection<string> otherSide)
    {
        ArgumentNullException.ThrowIfNull(side);
        ArgumentNullException.ThrowIfNull(otherSide);
        if (side.Intersect(otherSide, StringComparer.Ordinal).FirstOrDefault() is { } both)
        {
            throw new ArgumentException($"{both} is on both sides of the partition.", nameof(otherSide));
        }

        await _gate.WaitAsync();
        try
        {
            var one = side.Select(n => this[n]).ToList();
            var other = otherSide.Select(n => this[n]).ToList();
            await Task.WhenAll(
                one.Select(h => DropFromAsync(h, other)).Concat(other.Select(h => DropFromAsync(h, one))));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Ends every partition: each host reaches every other again.</summary>
    public async Task HealAsync()
    {
        await _gate.WaitAsync();
        try
        {
            await Task.WhenAll(_hosts.Select(h => RunAsync(Ip, "netns", "exec", h.Namespace, Iptables, "-w", "-F", "INPUT")));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Deletes every veth, namespace and the bridge this made. Processes still running in a namespace are not
    /// ended here (their owners end them first); they are named in the exception, since their namespace then
    /// outlives its name.
    /// </summary>
    /// <exception cref="InvalidOperationException">Something could not be deleted, or processes were left in a namespace; the rest was deleted.</exception>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        var problems = new List<string>();
        foreach (var ns in _namespaces)
        {
            try
            {
                var pids = await RunAsync(Ip, ["netns", "pids", ns], check: false);
                if (pids.ExitCode == 0 && pids.StandardOutput.Trim() is { Length: > 0 } left)
                {
                    problems.Add($"processes still run in {ns}: {left.ReplaceLineEndings(" ")}");
                }
            }
            catch (TimeoutException e)
            {
                problems.Add(e.Message);
            }
        }

        // The veths first: a namespace's deletion is finished by the kernel later, with its end of the pair.
        foreach (var veth in _veths)
        {
            await DeleteAsync(problems, ["link", "del", veth], ["link", "show", "dev", veth]);
        }

        foreach (var ns in _namespaces)
        {
            await DeleteAsync(problems, ["netns", "del", ns], null, () => File.Exists(Path.Combine("/run/netns", ns)));
        }

        if (_bridgeMade)
        {
            await DeleteAsync(problems, ["link", "del", Bridge], ["link", "show", "dev", Bridge]);
        }

        _gate.Dispose();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException($"The network {Subnet} was not wholly torn down:\n{string.Join('\n', problems)}");
        }
    }

    /// <summary>Draws a subnet nothing on the machine uses, and claims it by making its bridge (which fails if another suite has it).</summary>
    private static async Task<NetworkNamespaces> ClaimSubnetAsync()
    {
        var addresses = await RunAsync(Ip, "-4", "-o", "addr", "show");
        var routes = await RunAsync(Ip, "-4", "route", "show", "table", "all");
        var used = UsedSubnet().Matches(addresses.StandardOutput + routes.StandardOutput)
            .Select(m => int.Parse(m.Groups["x"].Value, CultureInfo.InvariantCulture))
            .ToHashSet();
        var free = Enumerable.Range(1, 254).Where(x => !used.Contains(x)).ToArray();
        RandomNumberGenerator.Shuffle(free.AsSpan());
        var failures = new List<string>();
        foreach (var x in free.Take(16))
        {
            var network = new NetworkNamespaces(x);
            var made = await RunAsync(Ip, ["link", "add", network.Bridge, "type", "bridge"], check: false);
            if (made.ExitCode == 0)
            {
                network._bridgeMade = true;
                return network;
            }

            failures.Add($"{network.Bridge}: {made.StandardError.Trim()}");
        }

        throw new InvalidOperationException(
            $"No free subnet {SubnetPrefix}X.0/24 could be claimed ({free.Length} unused by addresses and routes):\n{string.Join('\n', failures)}");
    }

    private async Task AddHostAsync(int number)
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"n{number}");
        var ns = $"{Bridge}-{name}";
        var veth = string.Create(CultureInfo.InvariantCulture, $"{Bridge}-{number}");
        var address = string.Create(CultureInfo.InvariantCulture, $"{SubnetPrefix}{_subnet}.{10 + number}");

        // Remembered before each is made: a command that fails half way may still have made it.
        _namespaces.Add(ns);
        await RunIpAsync("netns", "add", ns);
        _veths.Add(veth);
        await RunIpAsync("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns);
        await RunIpAsync("link", "set", veth, "master", Bridge, "up");
        await RunIpAsync("-n", ns, "addr", "add", address + "/24", "dev", "eth0");
        await RunIpAsync("-n", ns, "link", "set", "eth0", "up");
        await RunIpAsync("-n", ns, "link", "set", "lo", "up");
        _hosts.Add(new NetworkHost(name, ns, address));
    }

    /// <summary>Drops in <paramref name="host"/>'s namespace every packet that comes from one of <paramref name="sources"/>.</summary>
    private static async Task DropFromAsync(NetworkHost host, IEnumerable<NetworkHost> sources)
    {
        foreach (var source in sources)
        {
            await RunAsync(Ip, "netns", "exec", host.Namespace, Iptables, "-w", "-A", "INPUT", "-s", source.Address, "-j", "DROP");
        }
    }

    /// <summary>Runs <c>ip</c> with <paramref name="arguments"/>, failing on a non-zero exit.</summary>
    private Task RunIpAsync(params string[] arguments) => RunAsync(Ip, arguments);

    /// <summary>Runs a deletion; a failure counts only when <paramref name="showArguments"/> (or <paramref name="exists"/>) still finds the object.</summary>
    private static async Task DeleteAsync(List<string> problems, string[] deleteArguments, string[]? showArguments, Func<bool>? exists = null)
    {
        try
        {
            var deleted = await RunAsync(Ip, deleteArguments, check: false);
            if (deleted.ExitCode == 0)
            {
                return;
            }

            var stillThere = exists?.Invoke() ?? (await RunAsync(Ip, showArguments!, check: false)).ExitCode == 0;
            if (stillThere)
            {
                problems.Add($"ip {string.Join(' ', deleteArguments)}: {deleted}");
            }
        }
        catch (TimeoutException e)
        {
            problems.Add(e.Message);
        }
    }

    private static Task<ProcessResult> RunAsync(string program, params string[] arguments) => RunAsync(program, arguments, check: true);

    private static async Task<ProcessResult> RunAsync(string program, string[] arguments, bool check)
    {
        var result = await ProcessRunner.RunAsync(program, arguments, timeout: CommandTimeout);
        return !check || result.ExitCode == 0
            ? result
            : throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed: {result}");
    }

    private static string? FindUnavailableReason()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "network namespaces need Linux";
        }

        if (!Environment.IsPrivilegedProcess)
        {
            return "network namespaces need root (ip netns add); run the tests as root, as CI does";
        }

        var missing = new[] { ("ip", "iproute2"), ("iptables", "iptables") }.Where(p => FindProgram(p.Item1) is null).Select(p => p.Item2).ToList();
        return missing.Count == 0
            ? null
            : $"{string.Join(" and ", missing)} missing: apt-get install -y {string.Join(' ', missing)} (test.sh installs them)";
    }

    /// <summary>The full path of <paramref name="program"/> on PATH or in the sbin folders, or null.</summary>
    private static string? FindProgram(string program)
    {
        var folders = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
        return folders.Select(f => Path.Combine(f, program)).FirstOrDefault(File.Exists);
    }

    [GeneratedRegex(@"\b10\.213\.(?<x>\d{1,3})\.")]
    private static partial Regex UsedSubnet();
}

/// <summary>One host of <see cref="NetworkNamespaces"/>.</summary>
/// <param name="Name">Its name, <c>n1</c>, <c>n2</c>, …</param>
/// <param name="Namespace">Its network namespace, for <c>ip netns exec</c>.</param>
/// <param name="Address">Its IPv4 address on the subnet, which the root namespace reaches.</param>
public sealed record NetworkHost(string Name, string Namespace, string Address);
