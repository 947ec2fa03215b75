namespace SocketPush.Node.Owner.History;

/// <summary>
/// Ages history out once a second: a stream that receives nothing is trimmed here rather than at its next append,
/// so memory follows <c>age</c>, and streams that kept nothing for their age are forgotten.
/// </summary>
internal sealed class HistorySweeper(HistoryStore history, TimeProvider time) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            history.Sweep();
        }
    }
}
