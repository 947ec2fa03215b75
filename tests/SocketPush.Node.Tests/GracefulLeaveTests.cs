using Microsoft.Extensions.Hosting;
using SocketPush.Node.Cluster;
using SocketPush.Node.Hosting;
using SocketPush.Node.Owner.Records;

namespace SocketPush.Node.Tests;

/// <summary>The two ways a node stops gracefully: SIGTERM (the host's lifetime asked to stop, then Program disposes the host) and disposing the host.</summary>
public sealed class GracefulLeaveTests
{
    [Fact]
    public async Task A_node_stopped_as_SIGTERM_stops_it_leaves_before_its_host_has_stopped_and_disposing_it_then_leaves_no_second_time()
    {
        // One copy of each key: the stopping node's record survives only through its handoff.
        await using var cluster = await TestCluster.StartAsync(2, c =>
        {
            c.Cluster.Replicas = 1;
            c.Cluster.WriteQuorum = 1;
        });
        var leaving = cluster[1];
        var userId = cluster.UserOwnedBy(leaving, "sigterm-");
        await cluster[0].CallAsync("auth", "set", new { userId, sessionId = "s-" + userId });
        Assert.Equal("s-" + userId, leaving.Service<RecordStore>().SessionOf(userId));

        // What the console lifetime does on SIGTERM, then what Program does until the host has stopped.
        leaving.Service<IHostApplicationLifetime>().StopApplication();
        await leaving.Host.WaitForShutdownAsync();

        Assert.False(leaving.Service<HealthState>().Ready);
        Assert.True(leaving.Service<RecordStore>().IsEmpty, "the stopping node handed its records over");
        Assert.Equal("s-" + userId, cluster[0].Service<RecordStore>().SessionOf(userId));
        var leave = leaving.Service<GracefulLeave>();
        Assert.True(leave.LeaveAsync().IsCompletedSuccessfully, "the leave ended before the host stopped");
        Assert.Same(leave.LeaveAsync(), leave.LeaveAsync());

        // Program's `await using`: stopping the host once more runs the same, finished leave.
        await cluster.StopNodeAsync(leaving);
        Assert.Equal(userId, (await cluster[0].CallAsync("auth", "check", new { sessionId = "s-" + userId })).GetString());
    }
}
