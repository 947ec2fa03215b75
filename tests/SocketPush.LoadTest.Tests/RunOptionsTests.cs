using SocketPush.LoadTest.Systems;

namespace SocketPush.LoadTest.Tests;

/// <summary>--tls: only one SocketPush node reads a tls section, so the option is refused wherever a peer or a cluster would run.</summary>
public sealed class RunOptionsTests
{
    [Fact]
    public void Tls_with_the_socketpush_system_alone_is_taken()
    {
        var options = RunOptions.Parse(["--systems", SystemNames.SocketPush, "--scenarios", "fanout", "--tls"]);

        Assert.True(options.Tls);
        Assert.False(RunOptions.Parse(["--systems", SystemNames.SocketPush]).Tls);
    }

    [Theory]
    [InlineData("--tls")]
    [InlineData("--systems socketpush,nchan --tls")]
    [InlineData("--systems socketio --tls")]
    [InlineData("--cluster --tls")]
    [InlineData("--systems socketpush --scenarios cluster --tls")]
    [InlineData("--replicas --tls")]
    public void Tls_with_another_system_or_a_cluster_is_refused_naming_the_fix(string commandLine)
    {
        var error = Assert.Throws<ArgumentException>(() => RunOptions.Parse(commandLine.Split(' ')));

        Assert.Contains("--tls", error.Message, StringComparison.Ordinal);
        Assert.Contains("--systems socketpush", error.Message, StringComparison.Ordinal);
    }
}
