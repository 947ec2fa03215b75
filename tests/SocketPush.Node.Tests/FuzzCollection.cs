namespace SocketPush.Node.Tests;

/// <summary>
/// The fuzzers keep both cores busy for seconds; run beside the cluster tests, whose failure detection has 100 ms
/// probe timeouts, they starve gossip into suspecting live members. So they run on their own, after the others.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FuzzCollection
{
    public const string Name = "fuzzers, alone";
}
