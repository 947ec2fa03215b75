using System.Collections.Concurrent;
using System.Net;

namespace SocketPush.EndToEnd.Tests;

/// <summary>
/// A backend's steady traffic through the management API of some nodes while a test does something to another:
/// one writer that gives each new user a session (auth.set), subscribes it to one of four channels and publishes
/// to that channel; and, for every client given, a publisher that sends it a user.publish every tenth of a second,
/// marked with the current <see cref="Generation"/>. The writes answered 200 are remembered, to check later that
/// none was lost; a 503 <c>unavailable</c> is a refusal the backend would retry; anything else is unexpected.
/// </summary>
internal sealed class SteadyLoad : IAsyncDisposable
{
    // Paces, not waits: a backend's steady rate, kept low so that two cores also run three nodes and the clients.
    private static readonly TimeSpan WritePace = TimeSpan.FromMilliseconds(40);
    private static readonly TimeSpan PublishPace = TimeSpan.FromMilliseconds(100);

    private const int Channels = 4;

    private readonly string _prefix;
    private readonly IReadOnlyList<AdminApi> _entries;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<AcknowledgedWrite> _acknowledged = new();
    private readonly ConcurrentQueue<string> _unexpected = new();
    private readonly List<Task> _loops = [];
    private int _generation;
    private int _refused;
    private int _published;

    private SteadyLoad(string prefix, IReadOnlyList<AdminApi> entries)
    {
        _prefix = prefix;
        _entries = entries;
    }

    /// <summary>Marks the publishes to clients from now on; a test moves it on at the moment it acts.</summary>
    public int Generation => Volatile.Read(ref _generation);

    /// <summary>The writes answered 200 so far.</summary>
    public IReadOnlyCollection<AcknowledgedWrite> Acknowledged => _acknowledged;

    /// <summary>Calls answered 503 <c>unavailable</c> so far.</summary>
    public int Refused => Volatile.Read(ref _refused);

    /// <summary>Calls answered otherwise than 200 or 503 <c>unavailable</c>, or that failed without an answer.</summary>
    public IReadOnlyCollection<string> Unexpected => _unexpected;

    /// <summary>Starts the writer and one publisher per client, each call to the next of <paramref name="entries"/>.</summary>
    /// <param name="prefix">Starts every user id, session id and channel id of the load, e.g. <c>crash</c>.</param>
    /// <param name="entries">The nodes the backend calls.</param>
    /// <param name="clients">Clients to publish to.</param>
    public static SteadyLoad Start(string prefix, IReadOnlyList<AdminApi> entries, IEnumerable<PushClient> clients)
    {
        var load = new SteadyLoad(prefix, entries);
        load._loops.Add(Task.Run(load.WriteLoopAsync));
        foreach (var client in clients)
        {
            load._loops.Add(Task.Run(() => load.PublishLoopAsync(client.UserId)));
        }

        return load;
    }

    public void NextGeneration() => Interlocked.Increment(ref _generation);

    /// <summary>Waits until <paramref name="count"/> more writes than now have been acknowledged.</summary>
    public Task AcknowledgedMoreAsync(int count, string when)
    {
        var target = _acknowledged.Count + count;
        return Eventually.TrueAsync(() => _acknowledged.Count >= target, $"{count} more writes were acknowledged {when}", TimeSpan.FromSeconds(30));
    }

    /// <summary>Ends every loop after the call each is in.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops);
    }

    /// <summary>
    /// Asks every node of <paramref name="nodes"/> for every acknowledged write: the session's user (auth.check),
    /// the user's channels and the channel's subscribers; fails listing every write one of them lacks.
    /// </summary>
    public async Task AssertEveryAcknowledgedWriteIsReadOnAsync(IEnumerable<(string NodeId, AdminApi Api)> nodes)
    {
        var lost = new ConcurrentQueue<string>();
        var writes = _acknowledged.ToList();
        var channels = writes.Where(w => w.ChannelId is not null).GroupBy(w => w.ChannelId!, StringComparer.Ordinal).ToList();
        foreach (var (nodeId, api) in nodes)
        {
            await Parallel.ForEachAsync(writes, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (write, _) =>
            {
                if (write.ChannelId is null)
                {
                    var user = await api.CallAsync("auth", "check", new { sessionId = write.SessionId });
                    if (user.GetString() != write.UserId)
                    {
                        lost.Enqueue($"{nodeId}: auth.check({write.SessionId}) is {user}, not {write.UserId}");
                    }
                }
                else
                {
                    var subscriptions = await api.CallAsync("channel", "getSubscriptions", new { userId = write.UserId });
                    if (!subscriptions.EnumerateArray().Any(c => c.GetString() == write.ChannelId))
                    {
                        lost.Enqueue($"{nodeId}: getSubscriptions({write.UserId}) is {subscriptions}, without {write.ChannelId}");
                    }
                }
            });
            foreach (var channel in channels)
            {
                var subscribers = (await api.CallAsync("channel", "getSubscribers", new { channelId = channel.Key }))
                    .EnumerateArray().Select(u => u.GetString()!).ToHashSet(StringComparer.Ordinal);
                foreach (var write in channel.Where(w => !subscribers.Contains(w.UserId)))
                {
                    lost.Enqueue($"{nodeId}: getSubscribers({channel.Key}) lacks {write.UserId}");
                }
            }
        }

        Assert.True(lost.IsEmpty, $"{lost.Count} acknowledged writes are not read back:\n{string.Join('\n', lost.Take(50))}");
    }

    /// <summary>What the load did, for the test's output.</summary>
    public string Describe() =>
        $"{_acknowledged.Count} writes acknowledged ({_acknowledged.Count(w => w.Generation == 0)} before the test acted), "
        + $"{Refused} calls refused with 503, {Volatile.Read(ref _published)} publishes to clients answered";

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task WriteLoopAsync()
    {
        using var pace = new PeriodicTimer(WritePace);
        for (var i = 0; !_stop.IsCancellationRequested; i++)
        {
            var userId = $"{_prefix}-{i}";
            var sessionId = $"s-{_prefix}-{i}";
            var channelId = $"{_prefix}/{i % Channels}";
            var generation = Generation;
            if (await CallAsync(i, "auth", "set", new { userId, sessionId }))
            {
                _acknowledged.Enqueue(new AcknowledgedWrite(userId, sessionId, null, generation));
            }

            if (await CallAsync(i + 1, "channel", "subscribe", new { userId, channelId }))
            {
                _acknowledged.Enqueue(new AcknowledgedWrite(userId, sessionId, channelId, generation));
            }

            await CallAsync(i, "channel", "publish", new { channelId, message = i });
            if (!await TickAsync(pace))
            {
                return;
            }
        }
    }

    private async Task PublishLoopAsync(string userId)
    {
        using var pace = new PeriodicTimer(PublishPace);
        for (var i = 0; await TickAsync(pace); i++)
        {
            if (await CallAsync(i, "user", "publish", new { userId, message = new { generation = Generation, seq = i } }))
            {
                Interlocked.Increment(ref _published);
            }
        }
    }

    private async Task<bool> TickAsync(PeriodicTimer pace)
    {
        try
        {
            return await pace.WaitForNextTickAsync(_stop.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>One call to the <paramref name="turn"/>-th entry node (round robin); true when it answered 200.</summary>
    private async Task<bool> CallAsync(int turn, string service, string method, object body)
    {
        var api = _entries[turn % _entries.Count];
        try
        {
            // Not cancelled by the stop: a call in flight runs to its answer, so an acknowledged write is never missed.
            var answer = await api.SendAsync(service, method, body);
            if (answer.Ok)
            {
                return true;
            }

            if (answer.Status == HttpStatusCode.ServiceUnavailable && answer.Code == "unavailable")
            {
                Interlocked.Increment(ref _refused);
            }
            else
            {
                _unexpected.Enqueue($"{service}.{method} {body}: {answer}");
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            _unexpected.Enqueue($"{service}.{method} {body}: {e.GetType().Name} {e.Message}");
        }

        return false;
    }
}

/// <summary>One write the cluster answered 200: a session (no channel), or a subscription to the channel.</summary>
internal sealed record AcknowledgedWrite(string UserId, string SessionId, string? ChannelId, int Generation);
