using Microsoft.Extensions.Time.Testing;
using SocketPush.Node.Cluster;

namespace SocketPush.Node.Tests;

/// <summary>The rate pacer (anti-entropy bytes, <c>moved</c> clients) and the paced queue of <c>moved</c>, on a fake clock.</summary>
public sealed class PacingTests
{
    [Fact]
    public async Task The_pacer_lets_a_transfer_start_only_once_the_bytes_before_it_took_their_time_at_the_rate()
    {
        var time = new FakeTimeProvider();
        var pacer = new RatePacer(time);

        // The first transfer goes at once; 1000 bytes at 1000 bytes/s hold the next one for a second.
        await pacer.PaceAsync(1000, perSecond: 1000, CancellationToken.None).WaitAsync(Eventually.DefaultTimeout);
        var second = pacer.PaceAsync(500, perSecond: 1000, CancellationToken.None);
        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(second.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await second.WaitAsync(Eventually.DefaultTimeout);

        // Received bytes count too: 500 sent and 2000 received hold the next transfer for 2.5 s.
        pacer.Charge(2000, perSecond: 1000);
        var third = pacer.PaceAsync(1, perSecond: 1000, CancellationToken.None);
        time.Advance(TimeSpan.FromMilliseconds(2499));
        Assert.False(third.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await third.WaitAsync(Eventually.DefaultTimeout);

        // A pause longer than the debt leaves no credit behind: a burst after idling is one transfer, then the rate again.
        time.Advance(TimeSpan.FromSeconds(60));
        await pacer.PaceAsync(1000, perSecond: 1000, CancellationToken.None).WaitAsync(Eventually.DefaultTimeout);
        var fourth = pacer.PaceAsync(1, perSecond: 1000, CancellationToken.None);
        Assert.False(fourth.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        await fourth.WaitAsync(Eventually.DefaultTimeout);
    }

    [Fact]
    public async Task Moved_goes_out_at_the_configured_rate_in_bursts_of_a_tenth_of_a_second_and_a_refused_client_costs_nothing()
    {
        var time = new FakeTimeProvider();
        var perSecond = 100;
        var sent = new List<int>();
        // Clients 3 and 4 are not asked (gone, or their user is owned here again): they do not take a turn.
        var queue = new PacedQueue<int>(() => perSecond, Send, time);
        using var stop = new CancellationTokenSource();
        var run = queue.RunAsync(stop.Token);

        bool Send(int client)
        {
            if (client is 3 or 4)
            {
                return false;
            }

            lock (sent)
            {
                sent.Add(client);
            }

            return true;
        }

        int Sent()
        {
            lock (sent)
            {
                return sent.Count;
            }
        }

        for (var client = 0; client < 60; client++)
        {
            queue.Enqueue(client);
        }

        // A burst: a tenth of a second at 100/s is 10 clients, and one more may start as the burst's time is used up.
        await Eventually.TrueAsync(() => Sent() == 11 && queue.Pending == 60 - 11 - 2, "the first burst, and clients 3 and 4 passed over");
        // Then 1 every 10 ms: after 10 ms one more, after 100 ms ten more.
        time.Advance(TimeSpan.FromMilliseconds(10));
        await Eventually.TrueAsync(() => Sent() == 12, "one more after 10 ms");
        time.Advance(TimeSpan.FromMilliseconds(100));
        await Eventually.TrueAsync(() => Sent() == 22, "ten more after another 100 ms");

        // A reload to 1,000/s takes effect with the next client: the remaining 36 take 36 ms.
        perSecond = 1000;
        time.Advance(TimeSpan.FromMilliseconds(10));
        await Eventually.TrueAsync(() => Sent() > 22, "the new rate");
        time.Advance(TimeSpan.FromMilliseconds(40));
        await Eventually.TrueAsync(() => queue.Pending == 0, "the queue drained");
        lock (sent)
        {
            Assert.Equal(Enumerable.Range(0, 60).Where(c => c is not (3 or 4)), sent);
        }

        queue.Complete();
        await run.WaitAsync(Eventually.DefaultTimeout);
    }
}
