using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using SocketPush.ConsistentHashing;

namespace SocketPush.EndToEnd.Tests;

/// <summary>
/// History across a node crash (issue 22), with real node processes and default timers: a channel's owner is
/// killed (SIGKILL) while a backend goes on publishing to the channel through the other nodes and subscribers sit
/// on every node, each an official SignalR client that recovers with the positions it saw.
/// </summary>
public sealed class ClusterHistoryTests(ITestOutputHelper output)
{
    private const string Victim = "n2";
    private static readonly string[] Survivors = ["n1", "n3"];

    /// <summary>A backend's steady rate; paced, not waited on.</summary>
    private static readonly TimeSpan PublishPace = TimeSpan.FromMilliseconds(100);

    [Fact]
    public async Task A_channel_owner_killed_while_publishes_go_on_loses_no_acknowledged_message_refuses_no_publish_and_every_subscriber_gets_each_once_in_order()
    {
        await using var cluster = await ClusterUnderTest.StartAsync(3, "", output);
        var ring = HashRing.Create(["n1", "n2", "n3"], new HashRingOptions { VirtualNodesPerNode = (await cluster.Api("n1").StatusAsync()).VirtualNodes });
        var channelId = Enumerable.Range(0, 1000).Select(i => string.Create(CultureInfo.InvariantCulture, $"history-{i}")).First(c => ring.Owner($"c:{c}") == Victim);

        // Two subscribers whose user each node owns: the victim's reconnect through a survivor and recover there.
        await using var clients = new PushClientCollection();
        foreach (var owner in new[] { "n1", "n2", "n3" })
        {
            foreach (var userId in await cluster.UsersOwnedByAsync(owner, "history-" + owner, 2))
            {
                var api = cluster.Api(Survivors[clients.Count % 2]);
                await api.CallAsync("auth", "set", new { userId, sessionId = "s-" + userId });
                await api.CallAsync("channel", "subscribe", new { userId, channelId });
                clients.Add(await PushClient.ConnectRecoveringAsync(cluster[Survivors[clients.Count % 2]].ClientUrl, userId, "s-" + userId));
            }
        }

        var acknowledged = new ConcurrentQueue<int>();
        var failures = new ConcurrentQueue<string>();
        var generation = 0;
        using var stop = new CancellationTokenSource();
        var publisher = Task.Run(async () =>
        {
            // One publish at a time, as a backend that waits for each answer; each with its own publishId.
            using var pace = new PeriodicTimer(PublishPace);
            for (var seq = 0; !stop.IsCancellationRequested; seq++)
            {
                var api = cluster.Api(Survivors[seq % 2]);
                var started = Stopwatch.GetTimestamp();
                var answer = await api.SendAsync("channel", "publish", new
                {
                    channelId,
                    message = new { generation = Volatile.Read(ref generation), seq },
                    publishId = string.Create(CultureInfo.InvariantCulture, $"seq-{seq}"),
                });
                if (answer.Ok)
                {
                    acknowledged.Enqueue(seq);
                }
                else
                {
                    failures.Enqueue(string.Create(CultureInfo.InvariantCulture, $"seq {seq}: {(int)answer.Status} {answer.Body} after {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s"));
                }

                await pace.WaitForNextTickAsync();
            }
        });

        await Eventually.TrueAsync(() => acknowledged.Count >= 20, "20 publishes acknowledged before the kill", TimeSpan.FromSeconds(30));
        var killedAt = Stopwatch.GetTimestamp();
        cluster[Victim].Kill();
        Volatile.Write(ref generation, 1);
        await Eventually.TrueAsync(
            () => clients.All(c => c.FirstReceivedAt(1) is not null) && Stopwatch.GetElapsedTime(killedAt) > TimeSpan.FromSeconds(15),
            "every subscriber receives a publish made after the kill, and publishing goes on for 15 s",
            TimeSpan.FromSeconds(60));
        await stop.CancelAsync();
        await publisher;

        var published = acknowledged.ToList();
        await Eventually.TrueAsync(
            () => clients.All(c => c.Received(channelId).Count >= published.Count),
            $"every subscriber receives all {published.Count} acknowledged publishes",
            TimeSpan.FromSeconds(30));

        foreach (var client in clients)
        {
            var caughtUp = Stopwatch.GetElapsedTime(killedAt, client.FirstReceivedAt(1)!.Value);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{client.UserId}: caught up {caughtUp.TotalSeconds:0.00} s after the kill; duplicates dropped by the app {client.Duplicates}, incomplete recoveries {client.IncompleteRecoveries}"));
            Assert.Equal(published, client.Received(channelId).Select(m => m.GetProperty("seq").GetInt32()));
            Assert.Equal(0, client.IncompleteRecoveries);
        }

        var slowest = clients.Max(c => Stopwatch.GetElapsedTime(killedAt, c.FirstReceivedAt(1)!.Value));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"kill -9 of the channel's owner → the last subscriber caught up: {slowest.TotalSeconds:0.00} s; {published.Count} publishes acknowledged"));
        Assert.True(failures.IsEmpty, $"{failures.Count} publishes were not acknowledged:\n{string.Join('\n', failures)}");
    }
}
