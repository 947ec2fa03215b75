namespace SocketPush.Client.Tests.Infrastructure;

/// <summary>For state that can only be polled (a Prometheus query): asks until the answer comes, within a bound.</summary>
internal static class Eventually
{
    public static async Task<T> ValueAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, string what)
        where T : class
    {
        using var limit = new CancellationTokenSource(timeout);
        var pause = TimeSpan.FromMilliseconds(50);
        Exception? last = null;
        while (!limit.IsCancellationRequested)
        {
            try
            {
                if (await probe() is { } value)
                {
                    return value;
                }
            }
            catch (HttpRequestException e)
            {
                last = e;
            }

            try
            {
                await Task.Delay(pause, limit.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromMilliseconds(500).Ticks));
        }

        throw new TimeoutException($"Waited {timeout.TotalSeconds} s for {what}.", last);
    }
}
