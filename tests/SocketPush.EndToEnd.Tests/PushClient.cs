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
    private readonly Lock _gate = new();
    private readonly List<HubConnection> _connections = [];
    private readonly ConcurrentDictionary<int, long> _firstOfGeneration = new();
    private readonly Channel<Move> _moves = Channel.CreateUnbounded<Move>();
    private HubConnection _current;
    private int _disposed;

    private PushClient(string userId, string sessionId, Uri entry, bool reconnect, bool skipNegotiation)
    {
        UserId = userId;
        _sessionId = sessionId;
        _reconnect = reconnect;
        _current = Connect(entry, skipNegotiation);
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
        var url = new Uri(node, $"/push?userId={Uri.EscapeDataString(UserId)}&sessionId={Uri.EscapeDataString(_sessionId)}");
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
            await StartAsync(next);
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
