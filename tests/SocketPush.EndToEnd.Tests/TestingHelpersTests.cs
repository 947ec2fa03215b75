using System.Net;
using System.Net.Sockets;

namespace SocketPush.EndToEnd.Tests;

/// <summary>The shared helpers of SocketPush.Testing do what the tests rely on, failures included.</summary>
public sealed class TestingHelpersTests
{
    [Fact]
    public async Task Eventually_times_out_naming_the_condition()
    {
        var checks = 0;
        var error = await Assert.ThrowsAsync<TimeoutException>(
            () => Eventually.TrueAsync(() => ++checks < 0, "the sky turns green", TimeSpan.FromMilliseconds(200)));

        Assert.Contains("waiting until the sky turns green", error.Message, StringComparison.Ordinal);
        Assert.Contains("it was still false", error.Message, StringComparison.Ordinal);
        Assert.True(checks > 1, $"checked {checks} time(s)");
    }

    [Fact]
    public async Task Eventually_reports_the_last_value_and_the_last_exception()
    {
        var value = await Assert.ThrowsAsync<TimeoutException>(
            () => Eventually.ValueAsync(() => Task.FromResult(41), v => v == 42, "the answer", TimeSpan.FromMilliseconds(100)));
        Assert.Contains("the last value was 41", value.Message, StringComparison.Ordinal);

        var assertion = await Assert.ThrowsAsync<TimeoutException>(
            () => Eventually.PassesAsync(() => throw new InvalidOperationException("not yet"), "it passes", TimeSpan.FromMilliseconds(100)));
        Assert.Contains("threw InvalidOperationException: not yet", assertion.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(assertion.InnerException);
    }

    [Fact]
    public async Task Eventually_returns_once_the_condition_holds()
    {
        var checks = 0;
        var seen = await Eventually.ValueAsync(() => Task.FromResult(++checks), v => v == 3, "the third check");

        Assert.Equal(3, seen);
        await Eventually.PassesAsync(() => checks++ < 5 ? throw new InvalidOperationException("not yet") : Task.CompletedTask, "the sixth check");
    }

    [Fact]
    public async Task NodeProcess_Kill_leaves_no_process()
    {
        await using var node = await NodeProcess.StartAsync(new NodeProcessOptions { NodeId = "helpers-kill" });
        Assert.True(Directory.Exists($"/proc/{node.ProcessId}"));

        node.Kill();

        Assert.False(Directory.Exists($"/proc/{node.ProcessId}"), $"/proc/{node.ProcessId} is still there after Kill");
    }

    [Fact]
    public async Task NodeProcess_Suspend_freezes_the_node_Resume_lets_it_run_and_disposal_ends_a_suspended_one()
    {
        int pid;
        await using (var node = await NodeProcess.StartAsync(new NodeProcessOptions { NodeId = "helpers-suspend" }))
        {
            pid = node.ProcessId;
            // The threads stop, and go on, as the kernel delivers the signal: a moment after kill(2) returns.
            node.Suspend();
            await Eventually.TrueAsync(() => ProcessState(pid) == 'T', "the node is stopped");
            node.Resume();
            await Eventually.TrueAsync(() => ProcessState(pid) != 'T', "the node runs again");
            node.Suspend();
        }

        Assert.False(Directory.Exists($"/proc/{pid}"), $"/proc/{pid} is still there after DisposeAsync of a suspended node");
    }

    [Fact]
    public async Task NodeProcess_finds_lines_of_its_output_and_reports_a_failed_start_with_it()
    {
        await using (var node = await NodeProcess.StartAsync(new NodeProcessOptions { NodeId = "helpers-output" }))
        {
            var ready = await node.WaitForOutputAsync(l => l.StartsWith("SOCKETPUSH READY", StringComparison.Ordinal), "the READY line");
            Assert.StartsWith($"SOCKETPUSH READY node=helpers-output client=http://127.0.0.1:{node.ClientUrl.Port}", ready, StringComparison.Ordinal);
        }

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => NodeProcess.StartAsync(new NodeProcessOptions { NodeId = "helpers-refused", ExtraConfig = "options:\n  maxMessageBytes: 0" }));
        Assert.Contains("exit code 2", error.Message, StringComparison.Ordinal);
        Assert.Contains("options.maxMessageBytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NodeProcessCluster_of_two_starts_both_on_ports_of_their_own_and_stops_both()
    {
        int[] processes;
        await using (var cluster = await NodeProcessCluster.StartAsync(2))
        {
            Assert.Equal(["n1", "n2"], cluster.Nodes.Select(n => n.NodeId));
            var ports = cluster.Nodes.SelectMany(n => new[] { n.ClientUrl.Port, n.AdminUrl.Port }).ToList();
            Assert.Equal(4, ports.Distinct().Count());
            Assert.NotEqual(0, cluster.Nodes[0].ClusterPort);
            processes = [.. cluster.Nodes.Select(n => n.ProcessId)];
            Assert.All(processes, pid => Assert.True(Directory.Exists($"/proc/{pid}")));
        }

        Assert.All(processes, pid => Assert.False(Directory.Exists($"/proc/{pid}"), $"/proc/{pid} is still there after DisposeAsync"));
    }

    /// <summary>The state letter of /proc/{pid}/stat: R running, S sleeping, T stopped, Z zombie, …</summary>
    private static char ProcessState(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[stat.LastIndexOf(')') + 2];
    }

    [NetworkNamespacesFact]
    public async Task NetworkNamespaces_partition_cuts_hosts_apart_but_not_from_the_root_namespace_heal_joins_them_and_disposal_deletes_everything()
    {
        string[] namespaces;
        string bridge;
        await using (var network = await NetworkNamespaces.CreateAsync(3))
        {
            (namespaces, bridge) = ([.. network.Hosts.Select(h => h.Namespace)], network.Bridge);
            Assert.Equal(["n1", "n2", "n3"], network.Hosts.Select(h => h.Name));
            Assert.Equal(3, network.Hosts.Select(h => h.Address).Distinct().Count());
            Assert.All(network.Hosts, h => Assert.StartsWith(network.Subnet[..^"0/24".Length], h.Address, StringComparison.Ordinal));
            Assert.Equal(["reached", "reached"], await Task.WhenAll(Probe(network["n1"], network["n2"]), Probe(network["n2"], network["n3"])));

            await network.PartitionAsync(["n1"], ["n2", "n3"]);
            Assert.Equal(["cut off", "cut off", "reached"], await Task.WhenAll(Probe(network["n1"], network["n2"]), Probe(network["n3"], network["n1"]), Probe(network["n2"], network["n3"])));
            foreach (var host in network.Hosts)
            {
                // The root namespace reaches every host: nothing listens on port 9, so the host refuses at once.
                using var client = new TcpClient();
                var refused = await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync(IPAddress.Parse(host.Address), 9));
                Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
            }

            await network.HealAsync();
            Assert.Equal(["reached", "reached"], await Task.WhenAll(Probe(network["n1"], network["n2"]), Probe(network["n3"], network["n1"])));
            await network.DisposeAsync();
        }

        var left = await ProcessRunner.RunAsync(NetworkNamespaces.Ip, ["netns", "list"]);
        Assert.DoesNotContain(namespaces, ns => left.StandardOutput.Contains(ns, StringComparison.Ordinal));
        Assert.NotEqual(0, (await ProcessRunner.RunAsync(NetworkNamespaces.Ip, ["link", "show", "dev", bridge])).ExitCode);
        Assert.DoesNotContain(bridge, (await ProcessRunner.RunAsync(NetworkNamespaces.Ip, ["-o", "link", "show"])).StandardOutput, StringComparison.Ordinal);

        // A TCP connection from one host's namespace to port 9 of another: refused at once when the packets get
        // through (nothing listens there), no answer within a second when they are dropped.
        static async Task<string> Probe(NetworkHost from, NetworkHost to)
        {
            var result = await ProcessRunner.RunAsync(
                NetworkNamespaces.Ip, ["netns", "exec", from.Namespace, "timeout", "1", "bash", "-c", $"exec 3<>/dev/tcp/{to.Address}/9"]);
            return result.ExitCode switch
            {
                1 when result.StandardError.Contains("refused", StringComparison.OrdinalIgnoreCase) => "reached",
                124 => "cut off",
                _ => $"{from.Name} → {to.Name}: {result}",
            };
        }
    }

    [Fact]
    public async Task TcpRelay_relays_until_Cut_resets_its_connections_and_new_ones_and_Restore_relays_again()
    {
        // An echo server behind the relay.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var stop = new CancellationTokenSource();
        var echo = Task.Run(async () =>
        {
            while (await AcceptOrNullAsync(listener, stop.Token) is { } socket)
            {
                _ = Task.Run(async () =>
                {
                    using (socket)
                    {
                        var buffer = new byte[64];
                        int read;
                        while ((read = await ReceiveOrZeroAsync(socket, buffer)) > 0)
                        {
                            await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
                        }
                    }
                });
            }
        });
        await using var relay = TcpRelay.Start(((IPEndPoint)listener.LocalEndpoint).Port);

        using var first = await ConnectAsync(relay.Port);
        Assert.Equal("one", await EchoAsync(first, "one"));
        Assert.Equal(1, relay.Connections);

        relay.Cut();
        var buffer = new byte[64];
        Assert.Equal(0, await ReceiveOrZeroAsync(first, buffer));
        // A new connection is reset at once: by the time the connect completes, or on the first read.
        try
        {
            using var refused = await ConnectAsync(relay.Port);
            Assert.Equal(0, await ReceiveOrZeroAsync(refused, buffer));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            // Reset before the connect completed.
        }

        await Eventually.TrueAsync(() => relay.Connections == 0, "the relay holds no connection");
        relay.Restore();
        using var second = await ConnectAsync(relay.Port);
        Assert.Equal("two", await EchoAsync(second, "two"));

        await stop.CancelAsync();
        await echo;
    }

    private static async Task<Socket?> AcceptOrNullAsync(TcpListener listener, CancellationToken stop)
    {
        try
        {
            return await listener.AcceptSocketAsync(stop);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    private static async Task<Socket> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        return socket;
    }

    private static async Task<string> EchoAsync(Socket socket, string text)
    {
        await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes(text), SocketFlags.None);
        var buffer = new byte[64];
        var read = await ReceiveOrZeroAsync(socket, buffer);
        return System.Text.Encoding.ASCII.GetString(buffer, 0, read);
    }

    /// <summary>What a receive read; 0 for a closed or reset connection.</summary>
    private static async Task<int> ReceiveOrZeroAsync(Socket socket, byte[] buffer)
    {
        try
        {
            return await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(15));
        }
        catch (SocketException)
        {
            return 0;
        }
    }

    [Fact]
    public void FreePorts_are_free_to_bind()
    {
        using var tcp = new TcpListener(IPAddress.Loopback, FreePorts.Tcp());
        tcp.Start();
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, FreePorts.Udp()));
    }
}
