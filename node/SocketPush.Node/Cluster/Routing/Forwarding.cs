namespace SocketPush.Node.Cluster.Routing;

/// <summary>
/// How many nodes a call has passed through, carried along the call's async flow. While the rings of two nodes
/// disagree (a change still spreading), each may think the other owns a key; the count stops the ping-pong.
/// </summary>
internal static class Forwarding
{
    /// <summary>A call that already crossed this many nodes is served where it is; handoff moves what it wrote.</summary>
    public const int MaxHops = 2;

    private static readonly AsyncLocal<int> CurrentHops = new();

    public static int Hops => CurrentHops.Value;

    public static async Task<T> RunAsync<T>(int hops, Func<Task<T>> call)
    {
        CurrentHops.Value = hops;
        return await call().ConfigureAwait(false);
    }
}
