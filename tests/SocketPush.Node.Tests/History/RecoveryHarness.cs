using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using SocketPush.Client.Services;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Cluster.Routing;
using SocketPush.Node.Configuration;
using SocketPush.Node.Edge;
using SocketPush.Node.Owner.History;

namespace SocketPush.Node.Tests.History;

/// <summary>
/// The edge's recovery with its real parts, on one thread and in an order a test chooses: the real
/// <see cref="HistoryStore"/> (the owner's streams, which sequence and confirm messages as the owner's
/// <see cref="OwnerStreams"/> has them do on one node), the real <see cref="ConnectionRegistry"/>,
/// <see cref="MessageDelivery"/> and <see cref="StreamRecovery"/>, and connections that are real
/// <see cref="ClientConnection"/>s (their <see cref="StreamCursors"/> included). Only the two reads the recovery
/// awaits are the harness's own: the owner's history (<see cref="IStreamHistory"/>, read from the store as
/// <see cref="RoutedHistory"/> pages it) and the user's subscriptions. Each waits in <see cref="Pending"/> until the
/// test advances it, a history read in two steps (the store is read, then the answer arrives), so that publishes,
/// connects and disconnects can fall between the read and the release as they can on a real node.
/// </summary>
internal sealed class RecoveryHarness : IDisposable
{
    public const string User = "u";

    private readonly ServiceProvider _meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly MessageDelivery _delivery;
    private readonly int _thread = Environment.CurrentManagedThreadId;
    private int _connections;

    public RecoveryHarness(int channels, int size, TimeSpan age, long maxBytes = 256L * 1024 * 1024)
    {
        var config = new NodeConfig();
        config.History.MaxBytes = maxBytes;
        config.History.Channels = [new HistoryRule { Match = "*", Size = size, Age = age }];
        config.History.Users = [new HistoryRule { Match = "*", Size = size, Age = age }];
        var live = new LiveConfig(config);
        var meterFactory = _meters.GetRequiredService<IMeterFactory>();
        var edgeMetrics = new EdgeMetrics(meterFactory);
        Store = new HistoryStore(live, Time, new HistoryMetrics(meterFactory));
        Registry = new ConnectionRegistry(edgeMetrics, live);
        _delivery = new MessageDelivery(Registry, edgeMetrics, Time);
        Channels = [.. Enumerable.Range(0, channels).Select(i => $"c{i}")];
        Recovery = new StreamRecovery(Registry, new DeferredHistory(this), new DeferredSubscriptions(this), edgeMetrics, NullLogger<StreamRecovery>.Instance, Time);
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public HistoryStore Store { get; }

    public ConnectionRegistry Registry { get; }

    public StreamRecovery Recovery { get; }

    /// <summary>The channels the user is subscribed to.</summary>
    public IReadOnlyList<string> Channels { get; }

    /// <summary>Every stream: the user's own (""), then the channels.</summary>
    public IEnumerable<string> Streams => Channels.Prepend("");

    /// <summary>Reads the recovery waits for, oldest first.</summary>
    public List<PendingRead> Pending { get; } = [];

    /// <summary>What each appended message carries (its n), by stream and position.</summary>
    public Dictionary<(string Stream, StreamPosition Position), int> Published { get; } = [];

    /// <summary>Each stream's last appended position.</summary>
    public Dictionary<string, StreamPosition> Last { get; } = new(StringComparer.Ordinal);

    /// <summary>Messages sequenced and not yet handed to the fan-out, per stream, in their turn's order.</summary>
    public Dictionary<string, Queue<PushMessage>> InFlight { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Publishes <c>{n}</c> to a stream as the owner does (<c>OwnerStreams.PublishAsync</c> on one node): the store
    /// sequences it (once per publish id: a retry of one not delivered yet takes another turn with the same entry),
    /// then, in the stream's turn order, it is handed to the fan-out (the user's connections) and confirmed. With
    /// <paramref name="deliverNow"/> that happens at once; else it waits in <see cref="InFlight"/> for
    /// <see cref="Deliver"/>, as a message waits for its copies and its turn.
    /// </summary>
    public void Publish(string stream, int n, string publishId, bool deliverNow = true)
    {
        var key = stream.Length == 0 ? Keys.User(User) : Keys.Channel(stream);
        var sequenced = Store.Sequence(key, publishId, JsonSerializer.SerializeToElement(new { n }), Writer);
        Assert.NotNull(sequenced);
        if (sequenced.Duplicate)
        {
            return;
        }

        PositionOf[publishId] = sequenced.Position;

        var position = sequenced.Position;
        if (Published.TryAdd((stream, position), sequenced.Entry.Data.GetProperty("n").GetInt32()))
        {
            Last[stream] = position;
        }

        var kind = stream.Length == 0 ? PublicationKind.User : PublicationKind.Channel;
        var message = new PushMessage(new Publication(kind, stream.Length == 0 ? null : stream, sequenced.Entry.Data, Time.GetTimestamp(), position));
        (InFlight.TryGetValue(stream, out var queue) ? queue : InFlight[stream] = new Queue<PushMessage>()).Enqueue(message);
        if (deliverNow)
        {
            Deliver(stream);
        }
    }

    /// <summary>The position each publish id was sequenced at (last).</summary>
    public Dictionary<string, StreamPosition> PositionOf { get; } = new(StringComparer.Ordinal);

    /// <summary>Whether a message of the stream at this position waits for its turn.</summary>
    public bool IsInFlight(string stream, StreamPosition position) =>
        InFlight.TryGetValue(stream, out var queue) && queue.Any(m => m.Position == position);

    /// <summary>Hands the stream's next sequenced message to the fan-out, then confirms it; false when none waits.</summary>
    public bool Deliver(string stream)
    {
        if (!InFlight.TryGetValue(stream, out var queue) || !queue.TryDequeue(out var message))
        {
            return false;
        }

        _delivery.ToUser(message, User);
        Store.Confirm(stream.Length == 0 ? Keys.User(User) : Keys.Channel(stream), message.Position!.Value);
        return true;
    }

    /// <summary>The node that sequences (a single node owns every stream).</summary>
    public const string Writer = "node-1";

    /// <summary>
    /// Connects as the transports do: a hub client's <c>Recover</c> (its positions; "" for none) or plain SSE (its
    /// Last-Event-ID; null for none, which recovers nothing). The streams of the positions are held before the
    /// connection registers; then the recovery starts and waits on <see cref="Pending"/>.
    /// </summary>
    public SimConnection Connect(string? token, bool sse, Action<SimConnection, PushMessage, string?> onSend)
    {
        var connection = new SimConnection($"conn-{++_connections}", sse ? ClientTransport.PlainSse : ClientTransport.WebSockets, this, onSend);
        var positions = token is null ? null : StreamCursors.ParseToken(token) ?? throw new ArgumentException($"not a token: {token}", nameof(token));
        if (positions is not null)
        {
            connection.Hold(StreamRecovery.StreamsToHold(positions), positions);
        }

        Assert.Null(Registry.TryAdd(connection));
        if (positions is not null)
        {
            connection.Recovering = Recovery.RecoverAsync(connection, positions, CancellationToken.None);
        }

        return connection;
    }

    /// <summary>The transport closed: the connection takes nothing more and leaves the registry.</summary>
    public void Disconnect(SimConnection connection)
    {
        connection.Abort("the client went away", allowReconnect: true);
        Registry.Remove(connection);
    }

    /// <summary>Advances one pending read (chosen modulo their number); false when none waits.</summary>
    public bool Step(int choice)
    {
        if (Pending.Count == 0)
        {
            return false;
        }

        var read = Pending[choice % Pending.Count];
        if (Advance(read))
        {
            Pending.Remove(read);
        }

        return true;
    }

    /// <summary>Answers the pending read of a stream (the user's own is ""), or of the subscriptions for null.</summary>
    public void Answer(string? stream)
    {
        var read = Assert.Single(Pending, r => r.Stream == stream);
        while (!Advance(read))
        {
        }

        Pending.Remove(read);
    }

    /// <summary>Lets the clock pass a gap's grace (<see cref="StreamRecovery.ReorderGrace"/>): a gap fill waiting for it reads the owner.</summary>
    public void PassGrace() => Inline(() => Time.Advance(StreamRecovery.ReorderGrace));

    /// <summary>Fails the pending history read of a stream, as a read from an owner that does not answer fails.</summary>
    public void Fail(string stream)
    {
        var read = Assert.IsType<PendingHistoryRead>(Assert.Single(Pending, r => r.Stream == stream));
        Pending.Remove(read);
        Inline(read.Fail);
    }

    /// <summary>
    /// Moves a read on; the recovery's continuations run inline, on this thread, which they only do without a
    /// synchronization context (xUnit's would send them to the thread pool).
    /// </summary>
    public static bool Advance(PendingRead read)
    {
        var answered = false;
        Inline(() => answered = read.Advance());
        return answered;
    }

    /// <summary>
    /// Delivers every message in flight and advances the oldest pending reads until none waits; then lets the
    /// clock pass a gap's grace (<see cref="StreamRecovery.ReorderGrace"/>), so a gap fill waiting for it goes on, and
    /// answers what that read.
    /// </summary>
    public void Settle()
    {
        foreach (var stream in InFlight.Keys)
        {
            while (Deliver(stream))
            {
            }
        }

        for (var round = 0; round < 2; round++)
        {
            for (var steps = 0; Step(0); steps++)
            {
                Assert.True(steps < 10_000, "the recovery keeps reading");
            }

            PassGrace();
        }
    }

    /// <summary>Runs <paramref name="action"/> without a synchronization context (see <see cref="Advance"/>).</summary>
    private static void Inline(Action action)
    {
        var context = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            action();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(context);
        }
    }

    /// <summary>Called by connections on every send: the simulation must stay on its own thread to be deterministic.</summary>
    internal void OnSendThread() =>
        Assert.True(Environment.CurrentManagedThreadId == _thread, "a send ran on another thread: the simulation is not deterministic");

    public void Dispose() => _meters.Dispose();

    /// <summary>A read the recovery awaits; <see cref="Advance"/> moves it on and says whether it is answered.</summary>
    internal abstract class PendingRead
    {
        /// <summary>The stream read ("" for the user's own), or null for the subscriptions.</summary>
        public abstract string? Stream { get; }

        public abstract bool Advance();
    }

    private sealed class PendingHistoryRead(RecoveryHarness harness, PublicationKind kind, string id, StreamPosition? since, int limit) : PendingRead
    {
        public override string? Stream => kind == PublicationKind.User ? "" : id;

        private readonly TaskCompletionSource<StreamPage?> _answer = new();
        private StreamPage? _page;
        private bool _read;

        public Task<StreamPage?> Answer => _answer.Task;

        public override bool Advance()
        {
            if (!_read)
            {
                _read = true;
                _page = ReadNow();
                return false;
            }

            _answer.SetResult(_page);
            return true;
        }

        public void Fail() => _answer.SetException(new ServiceException(ErrorCodes.Unavailable, "The link to node-2 was lost."));

        /// <summary>As <see cref="RoutedHistory.ReadAsync"/> makes a page of the owner's read.</summary>
        private StreamPage? ReadNow()
        {
            var channelId = kind == PublicationKind.Channel ? id : null;
            var read = harness.Store.Read(kind == PublicationKind.User ? Keys.User(id) : Keys.Channel(id), since, Math.Clamp(limit, 0, RoutedHistory.MaxLimit));
            return read is null ? null : new StreamPage(read.Top, read.Complete,
                [.. read.Entries.Select(e => new Publication(kind, channelId, e.Data, harness.Time.GetTimestamp(), new StreamPosition(read.Top.Epoch, e.Offset)))]);
        }
    }

    private sealed class PendingSubscriptions(RecoveryHarness harness) : PendingRead
    {
        private readonly TaskCompletionSource<IReadOnlyList<string>> _answer = new();

        public override string? Stream => null;

        public Task<IReadOnlyList<string>> Answer => _answer.Task;

        public override bool Advance()
        {
            _answer.SetResult(harness.Channels);
            return true;
        }
    }

    private sealed class DeferredHistory(RecoveryHarness harness) : IStreamHistory
    {
        public Task<StreamPage?> ReadAsync(PublicationKind kind, string id, StreamPosition? since, int limit, CancellationToken cancellationToken)
        {
            var read = new PendingHistoryRead(harness, kind, id, since, limit);
            harness.Pending.Add(read);
            return read.Answer;
        }
    }

    /// <summary>The user's subscriptions, which is all the recovery asks of the channel service.</summary>
    private sealed class DeferredSubscriptions(RecoveryHarness harness) : IChannelService
    {
        public Task<IReadOnlyList<string>> GetSubscriptionsAsync(string userId, CancellationToken cancellationToken = default)
        {
            var read = new PendingSubscriptions(harness);
            harness.Pending.Add(read);
            return read.Answer;
        }

        public Task SubscribeAsync(string userId, string channelId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task UnsubscribeAsync(string userId, string channelId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task UnsubscribeAllAsync(string userId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<IReadOnlyList<string>> GetSubscribersAsync(string channelId, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<int> PublishAsync(string channelId, JsonElement message, string? publishId = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public Task<IReadOnlyList<string>> ListAllAsync(CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task<JsonElement> HistoryAsync(string channelId, string? since = null, int? limit = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();
    }
}

/// <summary>
/// A connection of the simulation: what it sends goes to <c>onSend</c> with the event id a plain SSE stream would
/// give it (the positions reached, as <see cref="SseClientConnection"/> computes them), until the transport closes.
/// </summary>
internal sealed class SimConnection(string id, ClientTransport transport, RecoveryHarness harness, Action<SimConnection, PushMessage, string?> onSend)
    : ClientConnection(id, RecoveryHarness.User, transport)
{
    public bool Closed { get; private set; }

    /// <summary>The recovery the connection started with, if it recovers.</summary>
    public Task<JsonObject>? Recovering { get; set; }

    protected override SendResult Send(PushMessage message)
    {
        harness.OnSendThread();
        if (Closed)
        {
            return SendResult.Refused;
        }

        var eventId = message.Position is not null || message.Kind == StreamRecovery.StreamsEvent ? PositionsToken(message) : null;
        onSend(this, message, eventId);
        return SendResult.Written;
    }

    public override void Abort(string reason, bool allowReconnect) => Closed = true;
}
