using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using SocketPush.Node.Admin;
using SocketPush.Node.Edge;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Tests;

/// <summary>The one outbound queue of every transport, on its own: its bound, the slow-consumer close, order, reloads.</summary>
public sealed class OutboundQueueTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly ServiceProvider _meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly PrometheusExporter _exporter;
    private readonly EdgeMetrics _metrics;
    private readonly CountingLogger _log = new();
    private readonly LiveConfig _config;
    private readonly Owner _owner = new();
    private int _stops;

    public OutboundQueueTests()
    {
        _config = new LiveConfig(WithBound(3));
        var meterFactory = _meters.GetRequiredService<IMeterFactory>();
        _exporter = new PrometheusExporter(meterFactory);
        _metrics = new EdgeMetrics(meterFactory);
    }

    public void Dispose()
    {
        _exporter.Dispose();
        _meters.Dispose();
    }

    [Fact]
    public void The_message_beyond_the_bound_closes_the_connection_once_counted_and_logged_once()
    {
        var queue = NewQueue();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(SendResult.Queued, queue.Enqueue(Bytes(i), null));
        }

        Assert.Equal(SendResult.Refused, queue.Enqueue(Bytes(3), null));
        Assert.Equal(SendResult.Refused, queue.Enqueue(Bytes(4), null));
        Assert.False(queue.Close());

        Assert.True(queue.Closed);
        Assert.Equal(1, _stops);
        Assert.Equal(1, SlowConsumersClosed());
        Assert.Equal([$"Closed connection c1 of user u1: {OutboundQueues.SlowConsumerReason}"], _log.Warnings);
        // Emptied: nothing queued would reach the client in time.
        Assert.Empty(queue.TryTakeAll()!);
    }

    [Fact]
    public void Messages_come_out_in_order_and_what_was_queued_before_a_close_still_comes_out()
    {
        var queue = NewQueue();
        Assert.Null(queue.TryTakeAll());
        queue.Enqueue(Bytes(0), null);
        queue.Enqueue(Bytes(1), null);
        Assert.Equal([0, 1], Numbers(queue.TryTakeAll()!));

        // The lean WebSocket path moves batches into a list of its own.
        queue.Enqueue(Bytes(2), null);
        queue.Enqueue(Bytes(3), null);
        var moved = new List<Outgoing>();
        Assert.Equal(2, queue.MoveTo(moved));
        Assert.Equal(0, queue.MoveTo(moved));
        Assert.Equal([2, 3], Numbers([.. moved]));

        queue.Enqueue(Bytes(4), null);
        queue.Enqueue(Bytes(5), null);
        Assert.True(queue.Close());
        Assert.Equal(SendResult.Refused, queue.Enqueue(Bytes(6), null));

        Assert.Equal([4, 5], Numbers(queue.TryTakeAll()!));
        Assert.Empty(queue.TryTakeAll()!);
        Assert.Equal(0, _stops);
        Assert.Equal(0, SlowConsumersClosed());
    }

    [Fact]
    public void A_reload_of_the_bound_applies_to_the_next_message()
    {
        var queue = NewQueue();
        for (var i = 0; i < 3; i++)
        {
            queue.Enqueue(Bytes(i), null);
        }

        _config.Replace(WithBound(5));
        Assert.Equal(SendResult.Queued, queue.Enqueue(Bytes(3), null));
        Assert.Equal(SendResult.Queued, queue.Enqueue(Bytes(4), null));
        Assert.Equal(SendResult.Refused, queue.Enqueue(Bytes(5), null));
        Assert.Equal(1, _stops);

        // Lowered below what another queue holds: its next message closes it.
        var other = NewQueue();
        other.Enqueue(Bytes(0), null);
        other.Enqueue(Bytes(1), null);
        _config.Replace(WithBound(1));
        Assert.Equal(SendResult.Refused, other.Enqueue(Bytes(2), null));
        Assert.Equal(2, _stops);
        Assert.Equal(2, SlowConsumersClosed());
    }

    [Fact]
    public async Task A_waiting_writer_is_woken_by_a_message_times_out_on_the_clock_and_ends_with_the_queue()
    {
        var queue = NewQueue();
        var waiting = queue.TakeAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        var message = new PushMessage("channel", "c", JsonSerializer.SerializeToElement(1), _time.GetTimestamp());
        queue.Enqueue(Bytes(7), message);
        var batch = await waiting.WaitAsync(Eventually.DefaultTimeout);
        Assert.Equal([7], Numbers(batch!));

        _time.Advance(TimeSpan.FromMilliseconds(250));
        queue.Sent(batch!);
        Assert.Equal(1, Sample("socketpush_messages_delivered_total{kind=\"channel\"}"));
        Assert.Equal(0.25, Sample("socketpush_delivery_latency_seconds_sum{kind=\"channel\"}"));

        var idle = queue.TakeAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Null(await idle.WaitAsync(Eventually.DefaultTimeout));

        var last = queue.TakeAsync(null, CancellationToken.None);
        queue.Close();
        Assert.Empty((await last.WaitAsync(Eventually.DefaultTimeout))!);
    }

    private OutboundQueue NewQueue() => new(_owner, new Lock(), new OutboundQueues(_config, _metrics, _time, _log), () => _stops++);

    private static NodeConfig WithBound(int bound) => new() { Options = new ClientOptions { MaxQueuedMessagesPerConnection = bound } };

    private static ReadOnlyMemory<byte> Bytes(int n) => new[] { (byte)n };

    private static int[] Numbers(Outgoing[] batch) => [.. batch.Select(item => (int)item.Bytes.Span[0])];

    private double SlowConsumersClosed() => Sample("socketpush_slow_consumers_closed_total");

    private double Sample(string sample)
    {
        using var stream = new MemoryStream();
        _exporter.Registry.CollectAndExportAsTextAsync(stream).GetAwaiter().GetResult();
        foreach (var line in System.Text.Encoding.UTF8.GetString(stream.ToArray()).Split('\n'))
        {
            if (line.StartsWith(sample + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(sample.Length + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    private sealed class Owner() : ClientConnection("c1", "u1", ClientTransport.WebSockets)
    {
        protected override SendResult Send(PushMessage message) => throw new NotSupportedException();

        public override void Abort(string reason, bool allowReconnect) => throw new NotSupportedException();
    }

    /// <summary>Keeps the warnings written, formatted.</summary>
    private sealed class CountingLogger : ILogger<OutboundQueue>
    {
        public List<string> Warnings { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning)
            {
                Warnings.Add(formatter(state, exception));
            }
        }
    }
}
