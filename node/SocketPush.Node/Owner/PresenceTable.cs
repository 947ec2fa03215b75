using System.Collections.Concurrent;
using System.Collections.Immutable;

namespace SocketPush.Node.Owner;

/// <summary>
/// Which nodes hold connections of the users this node owns (soft state, reported by the nodes themselves). It lets
/// user.publish reach connections that did not follow a redirect, and decides removeUserAfterDisconnectTimeout for
/// the whole cluster. Each node's report is stamped, so a late report cannot undo a newer one.
/// </summary>
internal sealed class PresenceTable(string localId)
{
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<string, ImmutableDictionary<string, Entry>> _byUser = new(StringComparer.Ordinal);
    private int _usersOnOtherNodes;

    /// <summary>The user's first connection anywhere in the cluster opened.</summary>
    public event Action<string>? UserOnline;

    /// <summary>The user's last connection anywhere in the cluster closed.</summary>
    public event Action<string>? UserOffline;

    /// <summary>False while every known connection is on this node: delivery then skips the lookup per user.</summary>
    public bool AnyOnOtherNodes => Volatile.Read(ref _usersOnOtherNodes) > 0;

    public void Set(string userId, string nodeId, bool online, long stamp)
    {
        bool wasOnline, isOnline;
        lock (_gate)
        {
            var nodes = _byUser.GetValueOrDefault(userId, ImmutableDictionary<string, Entry>.Empty);
            if (nodes.TryGetValue(nodeId, out var current) && current.Stamp >= stamp)
            {
                return;
            }

            wasOnline = IsOnline(nodes);
            var wasRemote = IsRemote(nodes);
            nodes = nodes.SetItem(nodeId, new Entry(online, stamp));
            _byUser[userId] = nodes;
            isOnline = IsOnline(nodes);
            Count(wasRemote, IsRemote(nodes));
        }

        Raise(userId, wasOnline, isOnline);
    }

    /// <summary>Online nodes holding connections of the user, this one included.</summary>
    public IEnumerable<string> NodesOf(string userId) =>
        _byUser.TryGetValue(userId, out var nodes) ? nodes.Where(n => n.Value.Online).Select(n => n.Key) : [];

    public IEnumerable<string> OtherNodesOf(string userId) => NodesOf(userId).Where(n => n != localId);

    public bool IsOnline(string userId) => _byUser.TryGetValue(userId, out var nodes) && IsOnline(nodes);

    /// <summary>A node died or left: its connections are gone, and so is their presence.</summary>
    public void DropNode(string nodeId)
    {
        foreach (var userId in _byUser.Keys)
        {
            bool wasOnline, isOnline;
            lock (_gate)
            {
                if (!_byUser.TryGetValue(userId, out var nodes) || !nodes.ContainsKey(nodeId))
                {
                    continue;
                }

                wasOnline = IsOnline(nodes);
                var wasRemote = IsRemote(nodes);
                nodes = nodes.Remove(nodeId);
                _byUser[userId] = nodes;
                isOnline = IsOnline(nodes);
                Count(wasRemote, IsRemote(nodes));
            }

            Raise(userId, wasOnline, isOnline);
        }
    }

    /// <summary>Forgets a user nobody is connected as (after the offline cleanup), or one this node no longer owns.</summary>
    public void Forget(string userId)
    {
        lock (_gate)
        {
            if (_byUser.TryGetValue(userId, out var nodes) && !IsOnline(nodes))
            {
                _byUser.TryRemove(userId, out _);
            }
        }
    }

    private void Count(bool wasRemote, bool isRemote)
    {
        if (wasRemote != isRemote)
        {
            Interlocked.Add(ref _usersOnOtherNodes, isRemote ? 1 : -1);
        }
    }

    private void Raise(string userId, bool wasOnline, bool isOnline)
    {
        if (!wasOnline && isOnline)
        {
            UserOnline?.Invoke(userId);
        }
        else if (wasOnline && !isOnline)
        {
            UserOffline?.Invoke(userId);
        }
    }

    private static bool IsOnline(ImmutableDictionary<string, Entry> nodes) => nodes.Values.Any(e => e.Online);

    private bool IsRemote(ImmutableDictionary<string, Entry> nodes) => nodes.Any(n => n.Value.Online && n.Key != localId);

    private readonly record struct Entry(bool Online, long Stamp);
}
