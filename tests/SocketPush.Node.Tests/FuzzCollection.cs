namespace SocketPush.Node.Tests;

/// <summary>
/// The fuzzers, the byte-garbage decoding and the scans of whole assemblies keep both cores busy for seconds; run beside
/// the cluster tests, whose failure detection has 100 ms probe timeouts, they starve gossip into suspecting live members
/// (once in a clean CI run: a suspicion during the 10,000-publish burst). So they run on their own, after the others.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FuzzCollection
{
    public const string Name = "fuzzers, alone";
}
