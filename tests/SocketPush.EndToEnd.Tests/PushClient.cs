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
        _current = Connect(entry, skipNegotiation);
    }

    /// <summary>
    /// Connects through <paramref name="entry"/> as an app that keeps its streams does: it authenticates with
    /// <c>Recover</c> and the positions it saw, on the first connection, after each automatic reconnect and after a
    /// move, and takes each stream's messages in offset order once (a message at or before the position it holds
    /// is one a second connection also got during a move).
    /// </summary>
    public static async Task<PushClient> ConnectRecoveringAsync(Uri entry, string userId, string sessionId)
    {
        var client = new PushClient(userId, sessionId, entry, reconnect: true, skipNegotiation: false, recover: true);
        await client.StartAndRecoverAsync(client._current);
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

    /// <summary>Messages that arrived at or before the position the app held (two connections during a move).</summary>
    public int Duplicates => Volatile.Read(ref _duplicates);

    /// <summary>Streams the server said it could not recover completely.</summary>
    public int IncompleteRecoveries => Volatile.Read(ref _incompleteRecoveries);

    /// <summary>The positions the app holds, as the token <c>Recover</c> takes.</summary>
    private string Token()
    {
        lock (_positions)
        {
            return string.Join(',', _positions.Select(p => (p.Key.Length == 0 ? "u" : "c:" + p.Key) + $":{p.Value.Epoch}.{p.Value.Offset}"));
        }
    }

    private async Task StartAndRecoverAsync(HubConnection connection)
    {
        await StartAsync(connection);
        await RecoverAsync(connection);
    }

    private async Task RecoverAsync(HubConnection connection)
    {
        using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
        var report = await connection.InvokeAsync<JsonElement>("Recover", UserId, _sessionId, Token(), timeout.Token);
        var streams = report.GetProperty("channels").EnumerateObject().Select(c => c.Value);
        if (report.TryGetProperty("user", out var user))
        {
            streams = streams.Append(user);
        }

        Interlocked.Add(ref _incompleteRecoveries, streams.Count(s => s.TryGetProperty("recovered", out var r) && !r.GetBoolean()));
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

    private HubConnection Connect(Uri node, bool skipNegotiation)
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
        connection.On<JsonElement>("message", OnMessage);
        if (_recover)
        {
            connection.Reconnected += _ => RecoverAsync(connection);
        }

        connection.On<JsonElement>("moved", moved => _ = FollowAsync(connection, moved));
        lock (_gate)
        {
            _connections.Add(connection);
        }

        return connection;
    }

    private static async Task StartAsync(HubConnection connection)
    {
        using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
        await connection.StartAsync(timeout.Token);
    }

    private void OnMessage(JsonElement message)
    {
        if (message.TryGetProperty("epoch", out var epoch) && message.TryGetProperty("offset", out var offset))
        {
            var stream = message.TryGetProperty("channelId", out var channel) ? channel.GetString()! : "";
            lock (_positions)
            {
                if (_positions.TryGetValue(stream, out var held) && held.Epoch == epoch.GetString() && offset.GetInt64() <= held.Offset)
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
        lock (_gate)
        {
            next = Connect(new Uri(url), skipNegotiation: false);
            _current = next;
        }

        try
        {
            await (_recover ? StartAndRecoverAsync(next) : StartAsync(next));
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
