using System.Diagnostics;
using System.Globalization;
using System.Net;
using SocketPush.ConsistentHashing;

namespace SocketPush.EndToEnd.Tests;

/// <summary>
/// Replicas (issue 11) with real node processes: three nodes, R = 3 and W = 2, a backend's steady load through the
/// management API and official SignalR clients on every node, while one node is killed (SIGKILL), stopped
/// (SIGTERM), or two are frozen (SIGSTOP). The in-process versions are ClusterReplicaTests and ClusterFailureTests.
/// </summary>
public sealed class ClusterCrashTests(ITestOutputHelper output)
{
    private const string Victim = "n2";
    private static readonly string[] Survivors = ["n1", "n3"];

    /// <summary>Failure detection in about two seconds: probes every 300 ms, a suspect is dead 1.2 s (4 probe intervals) or more later.</summary>
    private const string Swim = """
          swim:
            probeInterval: 300ms
            probeTimeout: 150ms
            gossipInterval: 50ms
            joinRetryInterval: 200ms
        """;

    private static readonly TimeSpan LeaveTimeout = TimeSpan.FromSeconds(5);

    private static readonly string FastDetection = $"""
        cluster:
          requestTimeout: 2s
          leaveTimeout: {LeaveTimeout.TotalSeconds}s
          antiEntropyInterval: 1s
        {Swim}
        """;

    /// <summary>A suspect member is declared dead only after 1000 probe intervals (5 minutes): a frozen node stays a member.</summary>
    private static readonly string NoDeathDuringTheTest = $"""
        cluster:
          requestTimeout: 2s
          leaveTimeout: 2s
          antiEntropyInterval: 500ms
        {Swim}
            suspicionMult: 1000
        """;

    [Fact]
    public async Task A_node_killed_under_load_loses_no_acknowledged_write_leaves_two_copies_of_every_key_and_no_ghost_and_its_clients_receive_again()
    {
        await using var cluster = await ClusterUnderTest.StartAsync(3, FastDetection, output);
        await using var clients = new PushClientCollection();
        // Two clients whose user the victim owns and one on each other node, all entering through a survivor:
        // negotiate sends each to its owner, and reconnecting after the crash goes through a node that is there.
        await ConnectClientsAsync(cluster, "crash-client", clients);
        // One more, of a user n1 owns, served by the victim itself (no negotiate): n1's presence names the victim
        // for it. It does not reconnect: once the victim is gone, its connection must be gone everywhere.
        var stranded = (await cluster.UsersOwnedByAsync("n1", "crash-stranded", 1))[0];
        await cluster.Api("n1").CallAsync("auth", "set", new { userId = stranded, sessionId = "s-" + stranded });
        clients.Add(await PushClient.ConnectWithoutNegotiateAsync(cluster[Victim].ClientUrl, stranded, "s-" + stranded));
        await WaitForConnectionsAsync(cluster, new() { ["n1"] = 1, [Victim] = 3, ["n3"] = 1 });
        var reconnecting = clients.Where(c => c.UserId != stranded).ToList();

        await using var load = SteadyLoad.Start("crash", [.. Survivors.Select(cluster.Api)], reconnecting);
        await load.AcknowledgedMoreAsync(30, "before the kill");

        var killedAt = Stopwatch.GetTimestamp();
        cluster[Victim].Kill();
        load.NextGeneration();
        var declaredDead = Task.Run(async () =>
        {
            await cluster.WaitForAgreementAsync(Survivors, new Dictionary<string, string> { [Victim] = "dead" });
            return Stopwatch.GetElapsedTime(killedAt);
        });

        await Eventually.TrueAsync(
            () => reconnecting.All(c => c.FirstReceivedAt(load.Generation) is not null),
            "every client receives a publish made after the kill",
            TimeSpan.FromSeconds(60));
        var dead = await declaredDead;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{Victim} declared dead by both survivors {dead.TotalSeconds:0.00} s after the kill"));
        foreach (var client in reconnecting)
        {
            var again = Stopwatch.GetElapsedTime(killedAt, client.FirstReceivedAt(load.Generation)!.Value);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{client.UserId}: receiving again {again.TotalSeconds:0.00} s after the kill"));
        }

        var slowest = reconnecting.Max(c => Stopwatch.GetElapsedTime(killedAt, c.FirstReceivedAt(load.Generation)!.Value));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"kill -9 → every client receiving again: {slowest.TotalSeconds:0.00} s"));

        await StopTheLoadAndAssertNothingAcknowledgedIsLostAsync(cluster, load, "after the clients are back", victimState: "dead");

        // No ghost: the victim's connections are in nobody's presence. Each client that reconnected is reached
        // once, the stranded one nowhere, and the survivors hold exactly the reconnected clients.
        await WaitForClientsOnTheirOwnersAsync(cluster, reconnecting);
        foreach (var (nodeId, api) in cluster.Apis(Survivors))
        {
            var online = (await api.CallAsync("user", "listAll", new { })).EnumerateArray().Select(u => u.GetString()!);
            Assert.Equal(reconnecting.Select(c => c.UserId).Order(StringComparer.Ordinal), online.Order(StringComparer.Ordinal));
            foreach (var client in clients)
            {
                var reached = (await api.CallAsync("user", "publish", new { userId = client.UserId, message = nodeId })).GetInt32();
                Assert.True(reached == (client.UserId == stranded ? 0 : 1), $"user.publish({client.UserId}) on {nodeId} reached {reached}");
            }
        }
    }

    [Fact]
    public async Task A_node_stopped_under_load_moves_its_clients_before_it_exits_with_0_within_its_leave_timeout_and_loses_nothing_acknowledged()
    {
        // The leave may take cluster.leaveTimeout; the rest is the process's own start of shutdown and exit.
        var stopSlack = TimeSpan.FromSeconds(10);
        await using var cluster = await ClusterUnderTest.StartAsync(3, FastDetection, output, LeaveTimeout + stopSlack);
        await using var clients = new PushClientCollection();
        var leavingClients = await ConnectClientsAsync(cluster, "leave-client", clients);
        await WaitForConnectionsAsync(cluster, new() { ["n1"] = 1, [Victim] = 2, ["n3"] = 1 });
        await using var load = SteadyLoad.Start("leave", [.. Survivors.Select(cluster.Api)], clients);
        await load.AcknowledgedMoreAsync(30, "before the stop");

        // SIGTERM: the node asks its clients to move, serves them until they have gone (each closes its old
        // connection once connected to its user's new owner), then exits. StopAsync fails if that takes longer
        // than leaveTimeout and the slack.
        var stoppedAt = Stopwatch.GetTimestamp();
        var exitCode = await cluster[Victim].StopAsync();
        var exitedAt = cluster[Victim].ExitedAt ?? Stopwatch.GetTimestamp();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"SIGTERM → {Victim} exited with {exitCode}: {Stopwatch.GetElapsedTime(stoppedAt, exitedAt).TotalSeconds:0.00} s"));
        Assert.Equal(0, exitCode);
        load.NextGeneration();

        foreach (var client in leavingClients)
        {
            Assert.True(client.Moves.TryRead(out var move), $"{client.UserId} was not sent moved before {Victim} exited");
            Assert.Null(move.Error);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{client.UserId}: connected to {move.NodeId} {Stopwatch.GetElapsedTime(move.At, exitedAt).TotalMilliseconds:0} ms before {Victim} exited"));
            Assert.True(move.At < exitedAt, $"{client.UserId} connected to {move.Url} only {Stopwatch.GetElapsedTime(exitedAt, move.At).TotalMilliseconds:0} ms after {Victim} exited");
            var owner = (await cluster.Api("n1").CallAsync("user", "getFrontendServer", new { userId = client.UserId })).GetString()!;
            Assert.Equal(new Uri(owner).Authority, new Uri(move.Url).Authority);
            Assert.NotEqual(Victim, move.NodeId);
        }

        Assert.All(clients.Except(leavingClients), c => Assert.False(c.Moves.TryRead(out _), $"{c.UserId} was not on {Victim} but was told to move"));
        await Eventually.TrueAsync(
            () => clients.All(c => c.FirstReceivedAt(load.Generation) is not null),
            "every client receives a publish made after the stop",
            TimeSpan.FromSeconds(30));
        await WaitForClientsOnTheirOwnersAsync(cluster, clients);

        await StopTheLoadAndAssertNothingAcknowledgedIsLostAsync(cluster, load, "after the stop", victimState: "left");
    }

    [Fact]
    public async Task A_write_with_both_other_replicas_frozen_answers_503_within_the_request_timeout_and_after_they_resume_every_replica_gives_one_answer()
    {
        await using var cluster = await ClusterUnderTest.StartAsync(3, NoDeathDuringTheTest, output);
        var owner = cluster.Api("n1");
        var users = await cluster.UsersOwnedByAsync("n1", "quorum", 2);
        var ring = HashRing.Create(["n1", "n2", "n3"], new HashRingOptions { VirtualNodesPerNode = (await owner.StatusAsync()).VirtualNodes });
        // Both writes' keys, u: and c:, are n1's: n1 coordinates them and the only other nodes involved are the replicas.
        var channelId = Enumerable.Range(0, 1000).Select(i => $"quorum/{i}").First(c => ring.Owner("c:" + c) == "n1");
        // Only a guard against a hang, far beyond the request timeout; not a measure of speed.
        using var hangGuard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        ApiAnswer refused;
        try
        {
            // One replica frozen: n1 and n2 make the quorum of two.
            cluster["n3"].Suspend();
            var accepted = await owner.SendAsync("channel", "subscribe", new { userId = users[0], channelId }, hangGuard.Token);
            Assert.True(accepted.Ok, accepted.ToString());

            // Both frozen: only n1 has the write, so it answers 503 at the request timeout and names the setting.
            cluster["n2"].Suspend();
            var asked = Stopwatch.GetTimestamp();
            refused = await owner.SendAsync("channel", "subscribe", new { userId = users[1], channelId }, hangGuard.Token);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"the write without a quorum answered {(int)refused.Status} after {Stopwatch.GetElapsedTime(asked).TotalSeconds:0.00} s"));
        }
        finally
        {
            cluster["n2"].Resume();
            cluster["n3"].Resume();
        }

        var resumedAt = DateTimeOffset.UtcNow;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.Status);
        Assert.Equal("unavailable", refused.Code);
        Assert.Contains("cluster.writeQuorum", refused.Body.GetProperty("error").GetString(), StringComparison.Ordinal);

        // A refused write is "not known to have happened", not "did not happen": n1 applied it before it found no
        // quorum, and it spreads from there (owed copies, anti-entropy). What must hold is that the replicas end with
        // one answer: the subscription in the user's record and the channel's on every node, or on none. Reads go
        // to the owner, so the replicas' own copies are compared by anti-entropy's digests: a round that every node
        // started after the resume (two intervals on, so none that the freeze cut in two) found nothing differing.
        await cluster.WaitForAgreementAsync(["n1", "n2", "n3"], new Dictionary<string, string>());
        await Eventually.PassesAsync(
            async () =>
            {
                var statuses = await Task.WhenAll(new[] { "n1", "n2", "n3" }.Select(id => cluster.Api(id).StatusAsync()));
                foreach (var status in statuses)
                {
                    Assert.True(status.LastAntiEntropy is { Result: "in_sync" } round && round.At > resumedAt.AddSeconds(1), status.ToString());
                    Assert.Equal(0, status.MissingCopies);
                    Assert.Equal(0, status.KeysUnderReplicated);
                    Assert.Single(new[] { "n1", "n2", "n3" }.Select(id => status.RecordsOf(id) is { } r ? (r.Users, r.Sessions, r.Channels) : default).Distinct());
                }
            },
            "every node's last anti-entropy round found its peer in sync and every member holds the same records",
            TimeSpan.FromSeconds(30));

        var answers = new List<(bool InUser, bool InChannel)>();
        foreach (var (nodeId, api) in cluster.Apis("n1", "n2", "n3"))
        {
            var subscriptions = (await api.CallAsync("channel", "getSubscriptions", new { userId = users[1] })).EnumerateArray().Select(c => c.GetString()).ToList();
            var subscribers = (await api.CallAsync("channel", "getSubscribers", new { channelId })).EnumerateArray().Select(u => u.GetString()).ToList();
            Assert.Contains(users[0], subscribers);
            answers.Add((subscriptions.Contains(channelId), subscribers.Contains(users[1])));
            output.WriteLine($"{nodeId}: getSubscriptions({users[1]}) = [{string.Join(", ", subscriptions)}], getSubscribers({channelId}) = [{string.Join(", ", subscribers)}]");
        }

        var answer = Assert.Single(answers.Distinct());
        Assert.True(answer.InUser == answer.InChannel, $"the user's record and the channel's disagree: {answer}");
        output.WriteLine($"the refused write converged to: {(answer.InUser ? "applied on every replica" : "applied nowhere")}");
    }

    /// <summary>
    /// Connects two clients whose user <see cref="Victim"/> owns and one for each survivor, each through a survivor
    /// (taking turns); returns the victim's.
    /// </summary>
    private static async Task<List<PushClient>> ConnectClientsAsync(ClusterUnderTest cluster, string prefix, PushClientCollection clients)
    {
        var victims = new List<PushClient>();
        foreach (var (ownerId, count) in new[] { (Victim, 2), (Survivors[0], 1), (Survivors[1], 1) })
        {
            foreach (var userId in await cluster.UsersOwnedByAsync(ownerId, $"{prefix}-{ownerId}", count))
            {
                await cluster.Api("n1").CallAsync("auth", "set", new { userId, sessionId = "s-" + userId });
                var client = await PushClient.ConnectAsync(cluster[Survivors[clients.Count % 2]].ClientUrl, userId, "s-" + userId);
                clients.Add(client);
                if (ownerId == Victim)
                {
                    victims.Add(client);
                }
            }
        }

        return victims;
    }

    /// <summary>
    /// Lets the load go on until 30 more writes are acknowledged, stops it, and checks what must hold once
    /// <see cref="Victim"/> is gone: every call answered 200 or 503 <c>unavailable</c>; the survivors list each other
    /// alive and the victim in <paramref name="victimState"/>, with the same ring; every acknowledged write, from
    /// before and after, is read back on each survivor; and every key has two copies again, on both.
    /// </summary>
    private async Task StopTheLoadAndAssertNothingAcknowledgedIsLostAsync(ClusterUnderTest cluster, SteadyLoad load, string when, string victimState)
    {
        await load.AcknowledgedMoreAsync(30, when);
        await load.StopAsync();
        output.WriteLine(load.Describe());
        Assert.True(load.Unexpected.Count == 0, "unexpected answers:\n" + string.Join("\n", load.Unexpected));

        await cluster.WaitForAgreementAsync(Survivors, new Dictionary<string, string> { [Victim] = victimState });
        await load.AssertEveryAcknowledgedWriteIsReadOnAsync(cluster.Apis(Survivors));
        await AssertEveryKeyHasAllCopiesAsync(cluster, Survivors, copies: 2);
    }

    /// <summary>Waits until each survivor holds the connections of exactly the clients whose user it owns now.</summary>
    private static async Task WaitForClientsOnTheirOwnersAsync(ClusterUnderTest cluster, IReadOnlyList<PushClient> clients)
    {
        var expected = Survivors.ToDictionary(id => id, _ => 0, StringComparer.Ordinal);
        foreach (var client in clients)
        {
            var owner = new Uri((await cluster.Api(Survivors[0]).CallAsync("user", "getFrontendServer", new { userId = client.UserId })).GetString()!);
            expected[Survivors.Single(id => cluster[id].ClientUrl.Authority == owner.Authority)]++;
        }

        await WaitForConnectionsAsync(cluster, expected);
    }

    private static Task WaitForConnectionsAsync(ClusterUnderTest cluster, Dictionary<string, int> expected) =>
        Eventually.PassesAsync(
            async () =>
            {
                foreach (var (nodeId, count) in expected)
                {
                    Assert.Equal((nodeId, count), (nodeId, await cluster.Api(nodeId).ConnectionsAsync()));
                }
            },
            $"the nodes hold {string.Join(", ", expected.Select(e => $"{e.Key} {e.Value}"))} client connections");

    /// <summary>
    /// Waits until no node of <paramref name="nodeIds"/> knows of a key below <paramref name="copies"/> copies or owes
    /// a copy, and all of them hold the same records: with R no smaller than the nodes left, each holds every key.
    /// </summary>
    private static Task AssertEveryKeyHasAllCopiesAsync(ClusterUnderTest cluster, string[] nodeIds, int copies) =>
        Eventually.PassesAsync(
            async () =>
            {
                foreach (var (_, api) in cluster.Apis(nodeIds))
                {
                    var status = await api.StatusAsync();
                    Assert.True(status.CopiesPossible == copies && status.KeysUnderReplicated == 0 && status.MissingCopies == 0, status.ToString());
                    var held = nodeIds.Select(id => status.RecordsOf(id)).ToList();
                    Assert.True(held.All(r => r is not null) && held.Select(r => (r!.Users, r.Sessions, r.Channels)).Distinct().Count() == 1, status.ToString());
                }
            },
            $"every key has {copies} copies on {string.Join(" and ", nodeIds)}",
            TimeSpan.FromSeconds(30));
}
