namespace SocketPush.Gossip;

/// <summary>
/// Wakes one dedicated thread, coalesced: while a wake-up is pending, further calls of
/// <see cref="Set"/> cost one interlocked exchange. The waiter clears the signal as it wakes, so
/// whatever was published before that is seen by the waiter, and a <see cref="Set"/> after it
/// wakes the next wait. The threads that use it wait on the OS, not on the thread pool: a busy
/// pool must not delay gossip deadlines or prompt sends.
/// </summary>
internal sealed class WakeSignal : IDisposable
{
    private readonly SemaphoreSlim _semaphore = new(0);
    private int _pending;

    public void Set()
    {
        if (Interlocked.Exchange(ref _pending, 1) == 0)
        {
            try
            {
                _semaphore.Release();
            }
            catch (ObjectDisposedException)
            {
                // A send racing the shutdown: the waiting thread is gone, and there is nobody to wake.
            }
        }
    }

    /// <summary>Waits for <see cref="Set"/> or the timeout (-1: none); true when woken by a signal.</summary>
    public bool Wait(int millisecondsTimeout)
    {
        if (!_semaphore.Wait(millisecondsTimeout))
        {
            return false;
        }

        Volatile.Write(ref _pending, 0);
        return true;
    }

    public void Dispose() => _semaphore.Dispose();
}

/// <summary>The gossip loop's inputs: posted from any thread, taken by the loop's own thread.</summary>
internal sealed class LoopInputs : IDisposable
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<object> _queue = new();
    private readonly WakeSignal _signal = new();
    private volatile bool _completed;

    public bool IsCompleted => _completed;

    /// <summary>Queues one input and wakes the loop; false once the loop was told to stop.</summary>
    public bool Post(object input)
    {
        if (_completed)
        {
            return false;
        }

        _queue.Enqueue(input);
        _signal.Set();
        return true;
    }

    public bool TryTake(out object input) => _queue.TryDequeue(out input!);

    /// <summary>Sleeps until an input is posted, the loop must stop, or the timeout passes.</summary>
    public void Wait(int millisecondsTimeout) => _signal.Wait(millisecondsTimeout);

    public void Complete()
    {
        _completed = true;
        _signal.Set();
    }

    public void Dispose() => _signal.Dispose();
}
