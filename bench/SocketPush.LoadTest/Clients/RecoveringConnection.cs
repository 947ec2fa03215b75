using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace SocketPush.LoadTest.Clients;

/// <summary>
/// A SocketPush client that keeps its place in the fan-out channel's stream (issue 22, docs/history.md): it
/// authenticates with the hub method <c>Recover(userId, sessionId, since)</c>, <c>since</c> being the position token
/// of the last message it received, and when its connection ends it connects again (to the node it is given for
/// that) and recovers the same way, once a second until it is back or disposed. What it saw goes into <see cref="Log"/>.
/// </summary>
internal sealed class RecoveringConnection(
    Uri first, Uri reconnect, string userId, string sessionId, string channel, HttpMessageInvoker invoker, DeliveryCounters counters, int maxSequence)
    : BenchConnection(counters)
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(30);

    private readonly string _userId = userId;
    private readonly string _sessionId = sessionId;
    private readonly CancellationTokenSource _closing = new();
    private Socket? _current;
    private Task? _watch;

    public StreamLog Log { get; } = new(channel, maxSequence);

    public override async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(first, invoker, Counters, this);
        try
        {
            await socket.ConnectAsync(cancellationToken);
        }
        catch
        {
            await socket.DisposeAsync();
            throw;
        }

        _current = socket;
        _watch = WatchAsync(socket);
    }

    /// <summary>Pings the current socket; one that has just ended is left to the reconnect (a send on it throws, at once or later).</summary>
    public override async Task KeepAliveAsync()
    {
        if (Volatile.Read(ref _current) is { Failure: null } socket)
        {
            try
            {
                await socket.KeepAliveAsync();
            }
            catch (Exception e) when (e is WebSocketException or ObjectDisposedException or InvalidOperationException or IOException)
            {
                // Ended meanwhile: WatchAsync reconnects.
            }
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await _closing.CancelAsync();
        if (Volatile.Read(ref _current) is { } socket)
        {
            await socket.DisposeAsync();
        }

        if (_watch is not null)
        {
            await _watch.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _closing.Dispose();
    }

    /// <summary>Waits for the connection to end, then reconnects and recovers until it is up again; for as long as the client lives.</summary>
    private async Task WatchAsync(Socket socket)
    {
        while (true)
        {
            await socket.Ended;
            if (_closing.IsCancellationRequested)
            {
                return;
            }

            Log.OnDisconnected(socket.Failure);
            await socket.DisposeAsync();
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    if (attempt > 0)
                    {
                        await Task.Delay(RetryDelay, _closing.Token);
                    }

                    var next = new Socket(reconnect, invoker, Counters, this);
                    Volatile.Write(ref _current, next);
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token);
                    timeout.CancelAfter(AttemptTimeout);
                    try
                    {
                        await next.ConnectAsync(timeout.Token);
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !_closing.IsCancellationRequested)
                    {
                        Log.OnFailedAttempt(e.GetType().Name + ": " + e.Message);
                        await next.DisposeAsync();
                        continue;
                    }

                    socket = next;
                    Log.OnReconnected(Stopwatch.GetTimestamp());
                    break;
                }
                catch (OperationCanceledException) when (_closing.IsCancellationRequested)
                {
                    return;
                }
            }
        }
    }

    /// <summary>One WebSocket of the client: the raw hub protocol, authenticated with Recover, each record parsed.</summary>
    private sealed class Socket(Uri uri, HttpMessageInvoker invoker, DeliveryCounters counters, RecoveringConnection client)
        : RawSignalRConnection(uri, invoker, counters)
    {
        private const string RecoverId = "r";
        private bool _seen;

        protected override ValueTask OnHandshakeDoneAsync()
        {
            var invocation = JsonSerializer.Serialize(new
            {
                type = 1,
                invocationId = RecoverId,
                target = "Recover",
                arguments = new[] { client._userId, client._sessionId, client.Log.Token() },
            });
            return SendTextAsync(Encoding.UTF8.GetBytes(invocation + "\u001e"));
        }

        protected override void OnRecords(ReadOnlySpan<byte> records)
        {
            var now = Stopwatch.GetTimestamp();
            while (!records.IsEmpty)
            {
                var end = records.IndexOf(RecordSeparator);
                var record = end < 0 ? records : records[..end];
                records = end < 0 ? default : records[(end + 1)..];
                if (!record.IsEmpty)
                {
                    OnRecord(record, now);
                }
            }
        }

        private void OnRecord(ReadOnlySpan<byte> record, long now)
        {
            var reader = new Utf8JsonReader(record);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            switch (root.GetProperty("type").GetInt32())
            {
                case 1 when root.GetProperty("target").ValueEquals("message"u8):
                    var message = root.GetProperty("arguments")[0];
                    var data = message.GetProperty("data");
                    if (message.TryGetProperty("epoch", out var epoch) && message.TryGetProperty("offset", out var offset))
                    {
                        client.Log.OnMessage(epoch.GetString()!, offset.GetInt64(), data.GetProperty("s").GetInt64(), now);
                    }

                    Counters.OnTimestamp(data.GetProperty("t").GetInt64(), now, ref _seen);
                    break;
                case 3 when root.TryGetProperty("invocationId", out var id) && id.ValueEquals(RecoverId):
                    if (root.TryGetProperty("error", out var error))
                    {
                        Fail("Recover: " + error.GetString());
                        break;
                    }

                    client.Log.OnRecovered(root.GetProperty("result"));
                    Ready.TrySetResult();
                    break;
                case 7:
                    Fail("closed by server: " + Encoding.UTF8.GetString(record));
                    break;
            }
        }
    }
}

/// <summary>
/// One client's view of one channel's stream: its position, offsets that skipped ahead (gaps) or came again
/// (duplicates) within an epoch, epoch changes, recoveries answered <c>recovered: false</c>, and when each publish
/// (the message's sequence number <c>s</c>) first arrived.
/// </summary>
internal sealed class StreamLog(string channel, int maxSequence)
{
    private readonly long[] _receivedAt = new long[maxSequence];
    private readonly Lock _gate = new();

    public string? Epoch { get; private set; }

    public long Offset { get; private set; }

    public long Gaps { get; private set; }

    public long MissingOffsets { get; private set; }

    public long Duplicates { get; private set; }

    /// <summary>A publish (by its sequence number) received a second time, at any offset.</summary>
    public long DuplicateSequences { get; private set; }

    public long EpochChanges { get; private set; }

    public long RecoveredFalse { get; private set; }

    public int Disconnects { get; private set; }

    public int Reconnects { get; private set; }

    public int FailedAttempts { get; private set; }

    /// <summary>When the last reconnect's Recover was answered (a Stopwatch timestamp), 0 if it never reconnected.</summary>
    public long ReconnectedAt { get; private set; }

    /// <summary>Up since the last reconnect (or the first connect) and not ended since.</summary>
    public bool Connected => Disconnects == Reconnects;

    public string? LastError { get; private set; }

    /// <summary>The position token Recover takes: <c>c:{channel}:{epoch}.{offset}</c>, empty before the first message.</summary>
    public string Token()
    {
        lock (_gate)
        {
            return Epoch is null ? "" : $"c:{channel}:{Epoch}.{Offset.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        }
    }

    public void OnMessage(string epoch, long offset, long sequence, long now)
    {
        lock (_gate)
        {
            if (Epoch is null || epoch != Epoch)
            {
                EpochChanges += Epoch is null ? 0 : 1;
                Epoch = epoch;
                Offset = offset;
            }
            else if (offset <= Offset)
            {
                Duplicates++;
            }
            else
            {
                if (offset > Offset + 1)
                {
                    Gaps++;
                    MissingOffsets += offset - Offset - 1;
                }

                Offset = offset;
            }

            if (sequence >= 0 && sequence < _receivedAt.Length)
            {
                if (_receivedAt[sequence] != 0)
                {
                    DuplicateSequences++;
                }
                else
                {
                    _receivedAt[sequence] = now;
                }
            }
        }
    }

    /// <summary>
    /// Recover's answer, <c>{"user":…,"channels":{"chan":{"epoch","offset","recovered"}}}</c>: a stream answered
    /// recovered: false is counted, and the client goes on from the position given (as from a first connect's).
    /// </summary>
    public void OnRecovered(JsonElement report)
    {
        if (report.ValueKind != JsonValueKind.Object || !report.TryGetProperty("channels", out var channels)
            || channels.ValueKind != JsonValueKind.Object || !channels.TryGetProperty(channel, out var stream)
            || !stream.TryGetProperty("epoch", out var epoch) || epoch.ValueKind != JsonValueKind.String)
        {
            return;
        }

        var lost = stream.TryGetProperty("recovered", out var recovered) && recovered.ValueKind == JsonValueKind.False;
        lock (_gate)
        {
            if (lost)
            {
                RecoveredFalse++;
            }

            if (Epoch is null || lost)
            {
                EpochChanges += Epoch is not null && Epoch != epoch.GetString() ? 1 : 0;
                Epoch = epoch.GetString();
                Offset = stream.GetProperty("offset").GetInt64();
            }
        }
    }

    public void OnDisconnected(string? reason)
    {
        lock (_gate)
        {
            Disconnects++;
            LastError = reason ?? LastError;
        }
    }

    public void OnFailedAttempt(string reason)
    {
        lock (_gate)
        {
            FailedAttempts++;
            LastError = reason;
        }
    }

    public void OnReconnected(long now)
    {
        lock (_gate)
        {
            Reconnects++;
            ReconnectedAt = now;
        }
    }

    /// <summary>When the client held every one of the publishes <paramref name="required"/> (the latest first arrival), or null while one is missing.</summary>
    public long? CaughtUpAt(IReadOnlyList<int> required)
    {
        lock (_gate)
        {
            long latest = 0;
            foreach (var s in required)
            {
                var at = s >= 0 && s < _receivedAt.Length ? _receivedAt[s] : 0;
                if (at == 0)
                {
                    return null;
                }

                latest = Math.Max(latest, at);
            }

            return latest;
        }
    }
}
