namespace SocketPush.EndToEnd.Tests;

/// <summary>Waits for a condition on the node that no event announces, by asking again until a deadline.</summary>
internal static class Eventually
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    public static async Task HoldsAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(15);
        using var deadline = new CancellationTokenSource(limit);
        using var ticks = new PeriodicTimer(Interval);
        do
        {
            if (await condition())
            {
                return;
            }
        }
        while (await WaitForTickAsync(ticks, deadline.Token));

        Assert.Fail($"{what}: still not true after {limit.TotalSeconds} s");
    }

    private static async Task<bool> WaitForTickAsync(PeriodicTimer ticks, CancellationToken deadline)
    {
        try
        {
            return await ticks.WaitForNextTickAsync(deadline);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
