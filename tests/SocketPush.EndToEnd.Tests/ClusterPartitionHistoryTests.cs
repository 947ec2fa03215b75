using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SocketPush.ConsistentHashing;

namespace SocketPush.EndToEnd.Tests;

/// <summary>
/// History across a network partition, with real node processes in network namespaces (<see cref="NetworkNamespaces"/>):
/// a channel's owner n1 is cut off from n2 and n3 while a backend publishes to the channel on both sides, each side
/// declares the other dead and accepts the publishes, and subscribers on both sides receive their side's messages.
/// After the heal every subscriber reconnects with the positions it holds; nobody may be told <c>recovered: true</c>
/// about a sequence the cluster no longer holds, and no position may name two messages.
/// </summary>
public sealed class ClusterPartitionHistoryTests(ITestOutputHelper output)
{
    private const string Owner = "n1";
    private static readonly string[] Majority = ["n2", "n3"];
    private static readonly string[] All = ["n1", "n2", "n3"];

    /// <summary>Failure detection in about two seconds (as ClusterCrashTests' FastDetection), and a healed partition found within half a second.</summary>
    private const string FastDetection = """
        cluster:
          requestTimeout: 2s
          antiEntropyInterval: 1s
          swim:
            probeInterval: 300ms
            probeTimeout: 150ms
            gossipInterval: 50ms
            joinRetryInterval: 200ms
            reconnectInterval: 500ms
        """;

    /// <summary>A backend's steady rate on each side; paced, not waited on.</summary>
    private static readonly TimeSpan PublishPace = TimeSpan.FromMilliseconds(100);

    /// <summary>Publishes acknowledged on each side once both sides have declared the other dead.</summary>
    private const int PublishesPerSide = 5;

    /// <summary>Publishes after the heal, which every client must receive once, in order.</summary>
    private const int PublishesAfterHeal = 5;

    [NetworkNamespacesFact]
    public async Task A_partition_with_publishes_on_both_sides_then_a_heal_tells_no_client_recovered_wrongly_gives_no_position_two_messages_and_delivers_later_publishes_once_in_order()
    {
        var started = Stopwatch.GetTimestamp();
        await using var network = await NetworkNamespaces.CreateAsync(3);
        output.WriteLine($"network {network.Subnet}: {string.Join(", ", network.Hosts.Select(h => $"{h.Name} {h.Address} ({h.Namespace})"))}");
        await using var cluster = await ClusterUnderTest.StartAsync(3, FastDetection, output, network);
        var ring = HashRing.Create(All, new HashRingOptions { VirtualNodesPerNode = (await cluster.Api(Owner).StatusAsync()).VirtualNodes });
        var channelId = Enumerable.Range(0, 1000).Select(i => string.Create(CultureInfo.InvariantCulture, $"partition-{i}")).First(c => ring.Owner($"c:{c}") == Owner);

        // Two subscribers on each node, each connected to its user's owner: n1's are on the minority side.
        await using var clients = new PushClientCollection();
        var sideOf = new Dictionary<PushClient, string>();
        foreach (var nodeId in All)
        {
            foreach (var userId in await cluster.UsersOwnedByAsync(nodeId, "partition-" + nodeId, 2))
            {
                await cluster.Api(Owner).CallAsync("auth", "set", new { userId, sessionId = "s-" + userId });
                await cluster.Api(Owner).CallAsync("channel", "subscribe", new { userId, channelId });
                var client = await PushClient.ConnectRecoveringAsync(cluster[nodeId].ClientUrl, userId, "s-" + userId);
                clients.Add(client);
                sideOf[client] = nodeId == Owner ? "A" : "B";
            }
        }

        // Before the partition: a few publishes everyone receives, in the epoch both sides will go on writing.
        for (var seq = 0; seq < 3; seq++)
        {
            await PublishUntilAcknowledgedAsync(cluster.Api(Owner), channelId, "P", seq);
        }

        await Eventually.TrueAsync(() => clients.All(c => c.Received(channelId).Count == 3), "every client receives the 3 publishes made before the partition");
        var before = clients[0].Deliveries.Last(d => d.Stream == channelId);
        output.WriteLine($"before the partition: epoch {before.Epoch}, offset {before.Offset}");

        // The partition, with a backend publishing on each side: to n1's API (the owner's side) and to n2's.
        var partitionedAt = Stopwatch.GetTimestamp();
        await network.PartitionAsync([Owner], Majority);
        var acknowledged = new ConcurrentDictionary<string, ConcurrentQueue<int>>(StringComparer.Ordinal) { ["A"] = new(), ["B"] = new() };
        var refused = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        var publishers = new[] { ("A", cluster.Api(Owner)), ("B", cluster.Api(Majority[0])) }
            .Select(p => Task.Run(() => PublishWhilePartitionedAsync(p.Item2, channelId, p.Item1, acknowledged[p.Item1], refused, stop.Token)))
            .ToList();
        try
        {
            await Task.WhenAll(
                cluster.WaitForAgreementAsync([Owner], Majority.ToDictionary(n => n, _ => "dead", StringComparer.Ordinal)),
                cluster.WaitForAgreementAsync(Majority, new Dictionary<string, string> { [Owner] = "dead" }));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"both sides declared the other dead {Stopwatch.GetElapsedTime(partitionedAt).TotalSeconds:0.00} s after the partition"));
            var (a, b) = (acknowledged["A"].Count, acknowledged["B"].Count);
            await Eventually.TrueAsync(
                () => acknowledged["A"].Count >= a + PublishesPerSide && acknowledged["B"].Count >= b + PublishesPerSide,
                $"{PublishesPerSide} more publishes are acknowledged on each side",
                TimeSpan.FromSeconds(20));
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(publishers);
        }

        // Each side's subscribers receive what their side acknowledged.
        foreach (var side in new[] { "A", "B" })
        {
            var sent = acknowledged[side].ToList();
            await Eventually.TrueAsync(
                () => clients.Where(c => sideOf[c] == side).All(c => sent.All(seq => c.Received(channelId).Any(m => Label(m) == Label(side, seq)))),
                $"side {side}'s subscribers receive its {sent.Count} acknowledged publishes");
        }

        var minorityHistory = await cluster.Api(Owner).CallAsync("channel", "history", new { channelId });
        var majorityHistory = await cluster.Api(Majority[0]).CallAsync("channel", "history", new { channelId });
        output.WriteLine($"during the partition: side A (n1) acknowledged {acknowledged["A"].Count}, its history {Top(minorityHistory)}; "
            + $"side B (through n2) acknowledged {acknowledged["B"].Count}, its history {Top(majorityHistory)}; {refused.Count} refused: {string.Join("; ", refused.Take(6))}");
        foreach (var client in clients)
        {
            var last = client.Deliveries.Last(d => d.Stream == channelId);
            output.WriteLine($"  {client.UserId} (side {sideOf[client]}) holds {last.Epoch}.{last.Offset}");
        }

        var heldBeforeHeal = clients.ToDictionary(c => c, c => c.Deliveries.Count(d => d.Stream == channelId));

        // What makes the heal hard: positions the two sides gave different messages (both went on in one epoch).
        var conflicting = clients.SelectMany(c => c.Deliveries.Where(d => d.Stream == channelId))
            .GroupBy(d => (d.Epoch, d.Offset))
            .Where(g => g.Select(d => Label(d.Data)).Distinct(StringComparer.Ordinal).Count() > 1)
            .Select(g => g.Key)
            .ToList();
        output.WriteLine(conflicting.Count == 0
            ? "no position was given two messages during the partition"
            : $"{conflicting.Count} positions were given two messages during the partition, {conflicting[0].Epoch}.{conflicting.Min(p => p.Offset)} to .{conflicting.Max(p => p.Offset)}");

        // The heal: the three agree again; then every client reconnects with the positions it holds.
        var healedAt = Stopwatch.GetTimestamp();
        await network.HealAsync();
        await cluster.WaitForAgreementAsync(All, new Dictionary<string, string>());
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"the three agree again {Stopwatch.GetElapsedTime(healedAt).TotalSeconds:0.00} s after the heal"));
        var reconnection = new Dictionary<PushClient, int>();
        foreach (var client in clients)
        {
            await client.ReconnectAsync();
            reconnection[client] = client.Connection;
        }

        for (var seq = 0; seq < PublishesAfterHeal; seq++)
        {
            await PublishUntilAcknowledgedAsync(cluster.Api(All[seq % All.Length]), channelId, "H", seq);
        }

        await Eventually.TrueAsync(
            () => clients.All(c => c.Received(channelId).Count(m => Side(m) == "H") >= PublishesAfterHeal),
            $"every client receives the {PublishesAfterHeal} publishes made after the heal",
            TimeSpan.FromSeconds(20));

        // The authoritative history: the owner's, after the heal.
        var history = await cluster.Api(Owner).CallAsync("channel", "history", new { channelId, limit = 1000 });
        var historyEpoch = history.GetProperty("epoch").GetString()!;
        var held = history.GetProperty("messages").EnumerateArray()
            .ToDictionary(m => m.GetProperty("offset").GetInt64(), m => Label(m.GetProperty("data")));
        output.WriteLine($"after the heal: the owner's history {Top(history)}: {string.Join(", ", held.Select(h => $"{h.Key}={h.Value}"))}");

        var problems = new List<string>();
        var incomplete = 0;
        foreach (var client in clients)
        {
            var connection = reconnection[client];
            var report = client.Recoveries.SingleOrDefault(r => r.Connection == connection && r.Stream == channelId);
            var deliveries = client.Deliveries.Where(d => d.Stream == channelId).ToList();
            var afterHeal = deliveries.Where(d => d.Connection >= connection).ToList();
            if (report is null)
            {
                problems.Add($"{client.UserId}: its recovery after the heal did not report {channelId}");
                continue;
            }

            output.WriteLine($"{client.UserId} (side {sideOf[client]}): got {Describe(deliveries.Take(heldBeforeHeal[client]))} before the heal; "
                + $"{Describe(deliveries.Skip(heldBeforeHeal[client]).Where(d => d.Connection < connection))} between the heal and its reconnection; "
                + $"sent {report.Sent?.Epoch}.{report.Sent?.Offset}, told {report.Epoch}.{report.Offset} recovered {report.Recovered}; then got {Describe(afterHeal)}");
            if (report.Recovered is not { } recovered)
            {
                problems.Add($"{client.UserId}: sent {report.Sent} but its recovery did not say whether it recovered");
                continue;
            }

            incomplete += recovered ? 0 : 1;
            var continuesFrom = recovered ? report.Sent!.Value : (report.Epoch, report.Offset);
            if (recovered)
            {
                // Told it holds a sequence the cluster goes on from: what it holds must be that sequence.
                if (report.Epoch != report.Sent!.Value.Epoch)
                {
                    problems.Add($"{client.UserId}: told recovered in epoch {report.Epoch}, having sent {report.Sent}");
                }

                var differing = deliveries.Where(d => d.Epoch == historyEpoch && held.TryGetValue(d.Offset, out var label) && label != Label(d.Data)).ToList();
                if (differing.Count > 0)
                {
                    problems.Add($"{client.UserId}: told recovered in {report.Epoch}, but {differing.Count} of the messages it got there differ from the owner's history "
                        + $"at their offsets: {string.Join(", ", differing.Take(4).Select(d => $"{Label(d.Data)} at {d.Offset} (connection {d.Connection}; the history has {held[d.Offset]})"))}");
                }
            }

            // After the recovery, the stream goes on from where the client was told it is: no gap, no duplicate.
            var expected = continuesFrom.Offset + 1;
            foreach (var delivery in afterHeal)
            {
                if (delivery.Epoch != continuesFrom.Epoch || delivery.Offset != expected)
                {
                    problems.Add($"{client.UserId}: after its recovery (recovered {recovered}) it expected {continuesFrom.Epoch}.{expected} and got {delivery.Epoch}.{delivery.Offset}={Label(delivery.Data)}");
                    break;
                }

                expected++;
            }

            var later = client.Received(channelId).Where(m => Side(m) == "H").Select(m => m.GetProperty("seq").GetInt32()).ToList();
            if (!later.SequenceEqual(Enumerable.Range(0, PublishesAfterHeal)))
            {
                problems.Add($"{client.UserId}: the publishes after the heal arrived as [{string.Join(", ", later)}], not each once in order");
            }
        }

        // A backend retrying, through every node, each publish either side acknowledged (as if the answers were lost):
        // the stream appends a publish id once, also across the new epoch the heal made (it inherits the ids of the
        // copies it replaced), so every retry answers 0 and nothing reaches a client again. A last publish marks the end.
        var receivedBeforeRetries = clients.ToDictionary(c => c, c => c.Received(channelId).Count);
        foreach (var (side, seqs) in acknowledged)
        {
            foreach (var seq in seqs)
            {
                var node = All[seq % All.Length];
                var delivered = await cluster.Api(node).CallAsync("channel", "publish", new { channelId, message = new { side, seq }, publishId = Label(side, seq) });
                if (delivered.GetInt32() != 0)
                {
                    problems.Add($"{Label(side, seq)}, retried through {node} after the heal, was delivered again (to {delivered} connections)");
                }
            }
        }

        await PublishUntilAcknowledgedAsync(cluster.Api(Majority[0]), channelId, "R", 0);
        await Eventually.TrueAsync(() => clients.All(c => c.Received(channelId).Any(m => Label(m) == "R0")), "every client receives the publish after the retries");
        problems.AddRange(clients.Where(c => c.Received(channelId).Count != receivedBeforeRetries[c] + 1)
            .Select(c => $"{c.UserId}: received {c.Received(channelId).Count - receivedBeforeRetries[c] - 1} retried publishes again"));

        // After the heal no position means two messages: across every client's deliveries since and the owner's history.
        var meanings = clients
            .SelectMany(c => c.Deliveries.Where(d => d.Stream == channelId && d.Connection >= reconnection[c]).Select(d => (d.Epoch, d.Offset, Label: Label(d.Data))))
            .Concat(held.Select(h => (Epoch: historyEpoch, Offset: h.Key, Label: h.Value)))
            .GroupBy(m => (m.Epoch, m.Offset))
            .Where(g => g.Select(m => m.Label).Distinct(StringComparer.Ordinal).Count() > 1);
        problems.AddRange(meanings.Select(g => $"{g.Key.Epoch}.{g.Key.Offset} means {string.Join(" and ", g.Select(m => m.Label).Distinct(StringComparer.Ordinal))} after the heal"));

        // Not a failure, but worth seeing: a publish a client took twice, at two positions (a forwarded publish that
        // waited in a link during the partition and landed after the heal, in the new epoch).
        var twice = clients
            .SelectMany(c => c.Deliveries.Where(d => d.Stream == channelId && !d.Dropped).GroupBy(d => Label(d.Data)).Where(g => g.Count() > 1)
                .Select(g => $"{g.Key} at {string.Join(" and ", g.Select(d => $"{d.Epoch}.{d.Offset}"))}"))
            .GroupBy(x => x, StringComparer.Ordinal)
            .Select(g => $"{g.Key} ({g.Count()} clients)")
            .ToList();
        output.WriteLine($"publishes a client took twice, at two positions: {(twice.Count == 0 ? "none" : string.Join("; ", twice))}");

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"epochs: {before.Epoch} before the partition; side A {Top(minorityHistory)}, side B {Top(majorityHistory)} during it; {Top(history)} after the heal. "
            + $"Recoveries after the heal: {clients.Count - incomplete} complete, {incomplete} incomplete. Whole test {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s."));
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    /// <summary>Publishes with the same publishId until a node acknowledges it: a backend's retry of a 503.</summary>
    private static Task PublishUntilAcknowledgedAsync(AdminApi api, string channelId, string side, int seq) =>
        Eventually.ValueAsync(
            () => api.SendAsync("channel", "publish", new { channelId, message = new { side, seq }, publishId = Label(side, seq) }),
            answer => answer.Ok,
            $"{Label(side, seq)} is acknowledged",
            TimeSpan.FromSeconds(20));

    /// <summary>One publish at a time through <paramref name="api"/>, each with its own id, until stopped; 503s are counted, not retried.</summary>
    private static async Task PublishWhilePartitionedAsync(
        AdminApi api, string channelId, string side, ConcurrentQueue<int> acknowledged, ConcurrentQueue<string> refused, CancellationToken stop)
    {
        using var pace = new PeriodicTimer(PublishPace);
        for (var seq = 0; !stop.IsCancellationRequested; seq++)
        {
            var started = Stopwatch.GetTimestamp();
            // Not cancelled by the stop: a publish in flight runs to its answer, so an acknowledged one is never missed.
            var answer = await api.SendAsync("channel", "publish", new { channelId, message = new { side, seq }, publishId = Label(side, seq) }, CancellationToken.None);
            if (answer.Ok)
            {
                acknowledged.Enqueue(seq);
            }
            else
            {
                refused.Enqueue(string.Create(CultureInfo.InvariantCulture,
                    $"{Label(side, seq)}: {(int)answer.Status} {answer.Code} after {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s"));
            }

            try
            {
                await pace.WaitForNextTickAsync(stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Deliveries as <c>epoch.offset=label</c>, the epoch only where it changes.</summary>
    private static string Describe(IEnumerable<Delivery> deliveries)
    {
        var parts = new List<string>();
        string? epoch = null;
        foreach (var d in deliveries)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture,
                $"{(d.Epoch == epoch ? "" : d.Epoch + ".")}{d.Offset}={Label(d.Data)}{(d.Dropped ? " (dropped)" : "")}{(d.Connection > 1 ? $" (connection {d.Connection})" : "")}"));
            epoch = d.Epoch;
        }

        return parts.Count == 0 ? "nothing" : string.Join(" ", parts);
    }

    private static string Label(string side, int seq) => string.Create(CultureInfo.InvariantCulture, $"{side}{seq}");

    /// <summary>A message's data as one word: its side (P before the partition, A or B during it, H after the heal) and seq.</summary>
    private static string Label(JsonElement data) => Label(Side(data), data.GetProperty("seq").GetInt32());

    private static string Side(JsonElement data) => data.GetProperty("side").GetString()!;

    private static string Top(JsonElement history) =>
        string.Create(CultureInfo.InvariantCulture, $"{history.GetProperty("epoch").GetString()}.{history.GetProperty("offset").GetInt64()}");
}
