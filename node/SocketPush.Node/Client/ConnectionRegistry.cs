using System.Collections.Concurrent;
using System.Collections.Immutable;
using SocketPush.Node.Admin;

namespace SocketPush.Node.Client;

/// <summary>
/// The authenticated connections on this node, by user. Publishes read a user's connections as an immutable
/// array without locking; connects and disconnects replace the array under a lock.
/// </summary>
internal sealed class ConnectionRegistry(NodeMetrics metrics)
{
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<string, ImmutableArray<ClientConnection>> _byUser = new(StringComparer.Ordinal);

    /// <summary>A user's first connection opened.</summary>
    public event Action<string>? UserOnline;

    /// <summary>A user's last connection closed.</summary>
    public event Action<string>? UserOffline;

    /// <summary>A connection joined (raised after it is registered, whatever the user had open before).</summary>
    public event Action<ClientConnection>? Added;

    public void Add(ClientConnection connection)
    {
        bool first;
        lock (_gate)
        {
            var current = _byUser.GetValueOrDefault(connection.UserId, []);
            first = current.IsEmpty;
            _byUser[connection.UserId] = current.Add(connection);
        }

        metrics.ConnectionOpened(connection.Transport);
        if (first)
        {
            UserOnline?.Invoke(connection.UserId);
        }

        Added?.Invoke(connection);
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
}
