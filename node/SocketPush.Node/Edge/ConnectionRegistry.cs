using System.Collections.Concurrent;
using System.Collections.Immutable;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Edge;

/// <summary>
/// The authenticated connections on this node, by user. Publishes read a user's connections as an immutable
/// array without locking; connects and disconnects replace the array under a lock.
/// </summary>
internal sealed class ConnectionRegistry(EdgeMetrics metrics, LiveConfig config)
{
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<string, ImmutableArray<ClientConnection>> _byUser = new(StringComparer.Ordinal);
    private int _count;

    /// <summary>A user's first connection opened.</summary>
    public event Action<string>? UserOnline;

    /// <summary>A user's last connection closed.</summary>
    public event Action<string>? UserOffline;

    /// <summary>A connection joined (raised after it is registered, whatever the user had open before).</summary>
    public event Action<ClientConnection>? Added;

    /// <summary>The connections on this node, over all transports.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Where the connections that join fill the gaps of their streams (none in unit tests of the registry alone).</summary>
    public StreamRecovery? Recovery { get; set; }

    /// <summary>
    /// Whether the node holds <c>options.maxConnections</c> already. Transports ask before they authenticate a new
    /// client, to refuse it at once (503); <see cref="TryAdd"/> decides.
    /// </summary>
    public ConnectionRefusal? Full()
    {
        var max = config.Options.MaxConnections;
        return max > 0 && Count >= max ? Refuse(ConnectionRefusal.NodeFull(max)) : null;
    }

    /// <summary>
    /// Admits an authenticated connection, the one place every transport's connections pass: refused (and counted)
    /// when the node or the user is at its limit, else registered.
    /// </summary>
    public ConnectionRefusal? TryAdd(ClientConnection connection)
    {
        var options = config.Options;
        bool first;
        lock (_gate)
        {
            var current = _byUser.GetValueOrDefault(connection.UserId, []);
            if (options.MaxConnections > 0 && _count >= options.MaxConnections)
            {
                return Refuse(ConnectionRefusal.NodeFull(options.MaxConnections));
            }

            if (options.MaxConnectionsPerUser > 0 && current.Length >= options.MaxConnectionsPerUser)
            {
                return Refuse(ConnectionRefusal.UserFull(options.MaxConnectionsPerUser));
            }

            first = current.IsEmpty;
            connection.Recovery ??= Recovery;
            _byUser[connection.UserId] = current.Add(connection);
            _count++;
        }

        metrics.ConnectionOpened(connection.Transport);
        if (first)
        {
            UserOnline?.Invoke(connection.UserId);
        }

        Added?.Invoke(connection);
        return null;
    }

    public void Remove(ClientConnection connection)
    {
        bool last;
        lock (_gate)
        {
            if (!_byUser.TryGetValue(connection.UserId, out var current) || !current.Contains(connection))
            {
                return;
            }

            var remaining = current.Remove(connection);
            _count--;
            last = remaining.IsEmpty;
            if (last)
            {
                _byUser.TryRemove(connection.UserId, out _);
            }
            else
            {
                _byUser[connection.UserId] = remaining;
            }
        }

        metrics.ConnectionClosed(connection.Transport);
        if (last)
        {
            UserOffline?.Invoke(connection.UserId);
        }
    }

    public ImmutableArray<ClientConnection> ConnectionsOf(string userId) => _byUser.GetValueOrDefault(userId, []);

    public bool IsOnline(string userId) => _byUser.ContainsKey(userId);

    public IReadOnlyList<string> Users() => [.. _byUser.Keys];

    public IEnumerable<ClientConnection> All() => _byUser.Values.SelectMany(c => c);

    private ConnectionRefusal Refuse(ConnectionRefusal refusal)
    {
        metrics.ConnectionRejected(refusal.MetricReason);
        return refusal;
    }
}

/// <summary>Why a connection was not admitted: the message its client sees, and the reason label of the rejection metric.</summary>
internal sealed record ConnectionRefusal(string MetricReason, string Message, bool NodeIsFull)
{
    public static ConnectionRefusal NodeFull(int max) =>
        new("max_connections", $"This node holds options.maxConnections ({max}) connections; try again later.", NodeIsFull: true);

    public static ConnectionRefusal UserFull(int max) =>
        new("max_connections_per_user", $"This user has options.maxConnectionsPerUser ({max}) connections open on this node already; close one first.", NodeIsFull: false);
}
