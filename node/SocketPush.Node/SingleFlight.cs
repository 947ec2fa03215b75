using System.Collections.Concurrent;

namespace SocketPush.Node;

/// <summary>
/// Runs one operation per key at a time and gives its result to every caller that asks while it runs: a stream's
/// takeover that concurrent publishes all wait for, or one read of a stream's history that every connection with the
/// same gap shares (a node with thousands of subscribers of a channel would otherwise ask its owner thousands of times).
/// </summary>
internal sealed class SingleFlight<TKey, TResult>
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, Lazy<Task<TResult>>> _running;

    public SingleFlight(IEqualityComparer<TKey>? comparer = null) => _running = new(comparer);

    /// <summary>The running operation of <paramref name="key"/>, or <paramref name="start"/>ed now; forgotten once it ends.</summary>
    public Task<TResult> RunAsync(TKey key, Func<Task<TResult>> start)
    {
        var flight = _running.GetOrAdd(key, _ => new Lazy<Task<TResult>>(start));
        return AwaitAndForgetAsync(key, flight);
    }

    private async Task<TResult> AwaitAndForgetAsync(TKey key, Lazy<Task<TResult>> flight)
    {
        try
        {
            return await flight.Value.ConfigureAwait(false);
        }
        finally
        {
            _running.TryRemove(new KeyValuePair<TKey, Lazy<Task<TResult>>>(key, flight));
        }
    }
}
