using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;

namespace SocketPush.EndToEnd.Tests;

/// <summary>
/// One user's client on the official .NET SignalR client, as an app would run it: it negotiates through an entry
/// node (which redirects it to the owner of its user), reconnects on its own through that entry node when its
/// connection breaks, and, when told <c>moved</c>, connects to the node named there and closes the old connection,
/// as the client page does. Messages whose data carries a <c>generation</c> are timed by generation: when the
/// first of each arrived.
/// </summary>
internal sealed class PushClient : IAsyncDisposable
{
    /// <summary>How long the client keeps trying to reconnect, a retry every quarter second.</summary>
    private static readonly TimeSpan ReconnectFor = TimeSpan.FromSeconds(60);

    private readonly string _sessionId;
    private readonly bool _reconnect;
    private readonly bool _recover;
    private readonly Dictionary<string, (string Epoch, long Offset)> _positions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<JsonElement>> _received = new(StringComparer.Ordinal);
    private readonly List<Delivery> _deliveries = [];
    private readonly List<StreamRecoveryReport> _recoveries = [];
    private int _connectionCount;
    private int _duplicates;
    private int _incompleteRecoveries;
    private readonly Lock _gate = new();
    private readonly List<HubConnection> _connections = [];
    private readonly ConcurrentDictionary<int, long> _firstOfGeneration = new();
    private readonly Channel<Move> _moves = Channel.CreateUnbounded<Move>();
    private HubConnection _current;
    private int _disposed;

    private PushClient(string userId, string sessionId, Uri entry, bool reconnect, bool skipNegotiation, bool recover = false)
    {
        UserId = userId;
        _sessionId = sessionId;
        _reconnect = reconnect;
        _recover = recover;
        Entry = entry;
        (_current, _) = Connect(entry, skipNegotiation);
    }

    /// <summary>The node the client first connected through.</summary>
    public Uri Entry { get; }

    /// <summary>
    /// Connects through <paramref name="entry"/> as an app that keeps its streams does: it authenticates with
    /// <c>Recover</c> and the positions it saw, on the first connection, after each automatic reconnect and after a
    /// move, and takes each stream's messages in offset order once (a message at or before the position it holds
    /// is one a second connection also got during a move).
    /// </summary>
    public static async Task<PushClient> ConnectRecoveringAsync(Uri entry, string userId, string sessionId)
    {
        var client = new PushClient(userId, sessionId, entry, reconnect: true, skipNegotiation: false, recover: true);
        await client.StartAndRecoverAsync(client._current, 1);
        return client;
    }

    /// <summary>What the app took of a stream (a channel, or "" for the user's own), in order: each message's data.</summary>
    public IReadOnlyList<JsonElement> Received(string stream)
    {
        lock (_positions)
        {
            return _received.TryGetValue(stream, out var list) ? [.. list] : [];
        }
    }

    /// <summary>
    /// Every message with a position that arrived, on any connection, in the order it arrived, those the app dropped
    /// as duplicates included: what the server sent, for checks of order, gaps and duplicates.
    /// </summary>
    public IReadOnlyList<Delivery> Deliveries
    {
        get
        {
            lock (_positions)
            {
                return [.. _deliveries];
            }
        }
    }

    /// <summary>What each <c>Recover</c> answered, per stream, in the order they completed.</summary>
    public IReadOnlyList<StreamRecoveryReport> Recoveries
    {
        get
        {
            lock (_positions)
            {
                return [.. _recoveries];
            }
        }
    }

    /// <summary>The number of the connection in use: 1 for the first, one more for each move or <see cref="ReconnectAsync"/>.</summary>
    public int Connection => Volatile.Read(ref _connectionCount);

    /// <summary>
    /// Closes every connection the client has and connects again through <see cref="Entry"/>, recovering with the
    /// positions it holds, as an app does after a network change; returns once <c>Recover</c> has answered.
    /// </summary>
    public async Task ReconnectAsync()
    {
        if (!_recover)
        {
            throw new InvalidOperationException("Only a client made by ConnectRecoveringAsync reconnects with its positions.");
        }

        HubConnection[] old;
        lock (_gate)
        {
            old = [.. _connections];
        }

        foreach (var connection in old)
        {
            await connection.DisposeAsync();
        }

        HubConnection next;
        int number;
        lock (_gate)
        {
            _connections.RemoveAll(old.Contains);
            (next, number) = Connect(Entry, skipNegotiation: false);
            _current = next;
        }

        await StartAndRecoverAsync(next, number);
    }

    /// <summary>Messages that arrived at or before the position the app held (two connections during a move).</summary>
    public int Duplicates => Volatile.Read(ref _duplicates);

    /// <summary>Streams the server said it could not recover completely.</summary>
    public int IncompleteRecoveries => Volatile.Read(ref _incompleteRecoveries);

    /// <summary>Positions as the token <c>Recover</c> takes.</summary>
    private static string Token(IReadOnlyDictionary<string, (string Epoch, long Offset)> positions) =>
        string.Join(',', positions.Select(p => (p.Key.Length == 0 ? "u" : "c:" + p.Key) + $":{p.Value.Epoch}.{p.Value.Offset}"));

    private async Task StartAndRecoverAsync(HubConnection connection, int number)
    {
        await StartAsync(connection);
        await RecoverAsync(connection, number);
    }

    private async Task RecoverAsync(HubConnection connection, int number)
    {
        using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
        Dictionary<string, (string Epoch, long Offset)> sent;
        lock (_positions)
        {
            sent = new Dictionary<string, (string Epoch, long Offset)>(_positions, StringComparer.Ordinal);
        }

        var report = await connection.InvokeAsync<JsonElement>("Recover", UserId, _sessionId, Token(sent), timeout.Token);
        var streams = report.GetProperty("channels").EnumerateObject().Select(c => (Stream: c.Name, Report: c.Value));
        if (report.TryGetProperty("user", out var user))
        {
            streams = streams.Append(("", user));
        }

        var reports = streams.ToList();
        Interlocked.Add(ref _incompleteRecoveries, reports.Count(s => s.Report.TryGetProperty("recovered", out var r) && !r.GetBoolean()));
        lock (_positions)
        {
            foreach (var (stream, item) in reports)
            {
                _recoveries.Add(new StreamRecoveryReport(
                    number,
                    stream,
                    sent.TryGetValue(stream, out var position) ? position : null,
                    item.GetProperty("epoch").GetString()!,
                    item.GetProperty("offset").GetInt64(),
                    item.TryGetProperty("recovered", out var recovered) ? recovered.GetBoolean() : null,
                    _deliveries.Count));
            }
        }
    }

    public string UserId { get; }

    /// <summary>Every <c>moved</c> the client was sent, with what it did about it.</summary>
    public ChannelReader<Move> Moves => _moves.Reader;

    /// <summary>The state of the connection in use (the one after the last move).</summary>
    public HubConnectionState State
    {
        get
        {
            lock (_gate)
            {
                return _current.State;
            }
        }
    }

    /// <summary>Connects through <paramref name="entry"/>, with negotiate: the client ends on the owner of its user.</summary>
    /// <param name="entry">The client URL of any node.</param>
    /// <param name="userId">Who connects.</param>
    /// <param name="sessionId">Its session (auth.set before).</param>
    /// <param name="reconnect">Reconnect through the entry node when the connection breaks, and follow <c>moved</c>.</param>
    public static async Task<PushClient> ConnectAsync(Uri entry, string userId, string sessionId, bool reconnect = true)
    {
        var client = new PushClient(userId, sessionId, entry, reconnect, skipNegotiation: false);
        await StartAsync(client._current);
        return client;
    }

    /// <summary>
    /// Connects to <paramref name="node"/> itself, without negotiate, as a plain WebSocket client would: the node
    /// serves it whoever owns its user. It does not reconnect.
    /// </summary>
    public static async Task<PushClient> ConnectWithoutNegotiateAsync(Uri node, string userId, string sessionId)
    {
        var client = new PushClient(userId, sessionId, node, reconnect: false, skipNegotiation: true);
        await StartAsync(client._current);
        return client;
    }

    /// <summary>The <see cref="Stopwatch"/> timestamp at which the first message of <paramref name="generation"/> arrived, or null.</summary>
    public long? FirstReceivedAt(int generation) => _firstOfGeneration.TryGetValue(generation, out var at) ? at : null;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        HubConnection[] connections;
        lock (_gate)
        {
            connections = [.. _connections];
        }

        foreach (var connection in connections)
        {
            await connection.DisposeAsync();
        }
    }

    /// <summary>A new connection (not started) and its number.</summary>
    private (HubConnection Connection, int Number) Connect(Uri node, bool skipNegotiation)
    {
        // A recovering client names only its user in the URL, which routes negotiate to the user's owner; it
        // authenticates with Recover, which must come before anything live.
        var url = new Uri(node, _recover
            ? $"/push?userId={Uri.EscapeDataString(UserId)}"
            : $"/push?userId={Uri.EscapeDataString(UserId)}&sessionId={Uri.EscapeDataString(_sessionId)}");
        var builder = new HubConnectionBuilder().WithUrl(url, o =>
        {
            o.Transports = HttpTransportType.WebSockets;
            o.SkipNegotiation = skipNegotiation;
        });
        if (_reconnect)
        {
            builder.WithAutomaticReconnect(new SteadyRetry());
        }

        var connection = builder.Build();
        var number = Interlocked.Increment(ref _connectionCount);
        connection.On<JsonElement>("message", message => OnMessage(message, number));
        if (_recover)
        {
            connection.Reconnected += _ => RecoverAsync(connection, number);
        }

        connection.On<JsonElement>("moved", moved => _ = FollowAsync(connection, moved));
        lock (_gate)
        {
            _connections.Add(connection);
        }

        return (connection, number);
    }

    private static async Task StartAsync(HubConnection connection)
    {
        using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
        await connection.StartAsync(timeout.Token);
    }

    private void OnMessage(JsonElement message, int connection)
    {
        if (message.TryGetProperty("epoch", out var epoch) && message.TryGetProperty("offset", out var offset))
        {
            var stream = message.TryGetProperty("channelId", out var channel) ? channel.GetString()! : "";
            lock (_positions)
            {
                var duplicate = _positions.TryGetValue(stream, out var held) && held.Epoch == epoch.GetString() && offset.GetInt64() <= held.Offset;
                _deliveries.Add(new Delivery(connection, stream, epoch.GetString()!, offset.GetInt64(), message.GetProperty("data").Clone(), duplicate));
                if (duplicate)
                {
                    Interlocked.Increment(ref _duplicates);
                    return;
                }

                _positions[stream] = (epoch.GetString()!, offset.GetInt64());
                if (!_received.TryGetValue(stream, out var list))
                {
                    _received[stream] = list = [];
                }

                list.Add(message.GetProperty("data").Clone());
            }
        }

        if (message.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object
            && data.TryGetProperty("generation", out var generation))
        {
            _firstOfGeneration.TryAdd(generation.GetInt32(), Stopwatch.GetTimestamp());
        }
    }

    /// <summary>Connects where <c>moved</c> says, then closes the connection that got it.</summary>
    private async Task FollowAsync(HubConnection from, JsonElement moved)
    {
        var url = moved.GetProperty("url").GetString()!;
        if (!_reconnect || Volatile.Read(ref _disposed) != 0)
        {
            _moves.Writer.TryWrite(new Move(url, moved.GetProperty("nodeId").GetString()!, Stopwatch.GetTimestamp(), null));
            return;
        }

        HubConnection next;
        int number;
        lock (_gate)
        {
            (next, number) = Connect(new Uri(url), skipNegotiation: false);
            _current = next;
        }

        try
        {
            await (_recover ? StartAndRecoverAsync(next, number) : StartAsync(next));
            _moves.Writer.TryWrite(new Move(url, moved.GetProperty("nodeId").GetString()!, Stopwatch.GetTimestamp(), null));
        }
#pragma warning disable CA1031 // Whatever failed is the move's outcome, for the test to see.
        catch (Exception e)
#pragma warning restore CA1031
        {
            _moves.Writer.TryWrite(new Move(url, moved.GetProperty("nodeId").GetString()!, Stopwatch.GetTimestamp(), e));
        }

        await from.StopAsync();
    }

    /// <summary>A retry every quarter second for a minute: a client that wants to be back as soon as a node is.</summary>
    private sealed class SteadyRetry : IRetryPolicy
    {
        public TimeSpan? NextRetryDelay(RetryContext retryContext) =>
            retryContext.ElapsedTime < ReconnectFor ? TimeSpan.FromMilliseconds(250) : null;
    }
}

/// <summary>
/// One <c>moved</c>: where to, and when the client had connected there (a <see cref="Stopwatch"/> timestamp), or
/// what failed (<see cref="Error"/>; a client that does not follow moves records only that it got one).
/// </summary>
internal sealed record Move(string Url, string NodeId, long At, Exception? Error);

/// <summary>One message with a position, as it arrived.</summary>
/// <param name="Connection">The number of the client's connection it came on (<see cref="PushClient.Connection"/>).</param>
/// <param name="Stream">The channel, or "" for the user's own stream.</param>
/// <param name="Epoch">Its epoch.</param>
/// <param name="Offset">Its offset.</param>
/// <param name="Data">What was published.</param>
/// <param name="Dropped">The app dropped it: it was at or before the position the app held.</param>
internal sealed record Delivery(int Connection, string Stream, string Epoch, long Offset, JsonElement Data, bool Dropped);

/// <summary>What one <c>Recover</c> answered for one stream.</summary>
/// <param name="Connection">The connection it was made on.</param>
/// <param name="Stream">The channel, or "" for the user's own stream.</param>
/// <param name="Sent">The position the client sent for the stream, or null when it held none.</param>
/// <param name="Epoch">The stream's epoch, as the answer gives it.</param>
/// <param name="Offset">The stream's offset, as the answer gives it.</param>
/// <param name="Recovered">The answer's <c>recovered</c>: null when the client sent no position.</param>
/// <param name="DeliveriesBefore">How many <see cref="PushClient.Deliveries"/> there were when the answer came (the recovered messages included).</param>
internal sealed record StreamRecoveryReport(int Connection, string Stream, (string Epoch, long Offset)? Sent, string Epoch, long Offset, bool? Recovered, int DeliveriesBefore);

/// <summary>The clients of one test; disposing it disposes them all, also when the test failed.</summary>
internal sealed class PushClientCollection : List<PushClient>, IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        foreach (var client in this)
        {
            await client.DisposeAsync();
        }
    }
}
