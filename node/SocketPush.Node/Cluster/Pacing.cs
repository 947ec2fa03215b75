using System.Threading.Channels;

namespace SocketPush.Node.Cluster;

/// <summary>
/// Paces work to a rate in units per second (bytes of anti-entropy, clients asked to move): a unit of work starts once
/// the ones before it would have taken their time at that rate, less a burst allowance, so over any stretch of time
/// at most rate × (time + burst) units plus one piece of work go through. Time spent idle is not saved up beyond that.
/// </summary>
/// <param name="time">The clock; a fake one in tests.</param>
/// <param name="burst">
/// How far ahead of the rate work may run before it waits: zero waits before every piece that the rate does not
/// allow yet; a tenth of a second lets small pieces at a high rate go in groups instead of one timer wait each
/// (a timer does not wait less than about a millisecond).
/// </param>
internal sealed class RatePacer(TimeProvider time, TimeSpan burst = default)
{
    private DateTimeOffset _free = DateTimeOffset.MinValue;

    /// <summary>Waits until work of <paramref name="units"/> may start, and counts it.</summary>
    public async Task PaceAsync(long units, int perSecond, CancellationToken cancellationToken)
    {
        var wait = _free - time.GetUtcNow() - burst;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
        }

        Charge(units, perSecond);
    }

    /// <summary>Counts units that already went through (an answer received), so that the next piece of work waits for them.</summary>
    public void Charge(long units, int perSecond)
    {
        var now = time.GetUtcNow();
        _free = (_free > now ? _free : now) + TimeSpan.FromSeconds((double)units / perSecond);
    }
}

/// <summary>
/// A queue whose items are handed to <c>send</c> at most <c>perSecond</c> per second (read anew for each item, so a
/// config reload takes effect at once), in bursts of up to a tenth of a second's worth. An item that <c>send</c>
/// refuses (returns false) costs nothing: the next one takes its place.
/// </summary>
internal sealed class PacedQueue<T>
{
    private static readonly TimeSpan Burst = TimeSpan.FromMilliseconds(100);

    private readonly Channel<T> _items = Channel.CreateUnbounded<T>();
    private readonly Func<int> _perSecond;
    private readonly Func<T, bool> _send;
    private readonly RatePacer _pacer;
    private int _pending;

    public PacedQueue(Func<int> perSecond, Func<T, bool> send, TimeProvider time)
    {
        _perSecond = perSecond;
        _send = send;
        _pacer = new RatePacer(time, Burst);
    }

    /// <summary>Items queued or waiting for their turn, not yet sent or refused.</summary>
    public int Pending => Volatile.Read(ref _pending);

    public void Enqueue(T item)
    {
        Interlocked.Increment(ref _pending);
        if (!_items.Writer.TryWrite(item))
        {
            // Completed: the queue is stopping and nothing will be sent any more.
            Interlocked.Decrement(ref _pending);
        }
    }

    /// <summary>No more items: <see cref="RunAsync"/> ends once the queued ones are sent.</summary>
    public void Complete() => _items.Writer.TryComplete();

    /// <summary>Sends the items at the rate until <see cref="Complete"/> or the token.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var item in _items.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    // Wait for the item's turn first: whether it is still to be sent is decided when it goes.
                    await _pacer.PaceAsync(0, _perSecond(), cancellationToken).ConfigureAwait(false);
                    if (_send(item))
                    {
                        _pacer.Charge(1, _perSecond());
                    }
                }
                finally
                {
                    Interlocked.Decrement(ref _pending);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }
}
