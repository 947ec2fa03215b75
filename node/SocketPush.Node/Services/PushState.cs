using System.Collections.Concurrent;
using System.Collections.Immutable;

namespace SocketPush.Node.Services;

/// <summary>
/// Sessions and subscriptions held by this node. Writers take one lock (the sets are small and writes are
/// rare next to publishes); readers such as channel.publish read immutable sets without locking.
/// </summary>
internal sealed class PushState
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, string> _sessionByUser = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _userBySession = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ImmutableHashSet<string>> _subscriptionsByUser = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ImmutableHashSet<string>> _subscribersByChannel = new(StringComparer.Ordinal);

    public void SetSession(string userId, string sessionId)
    {
        lock (_gate)
        {
            if (_sessionByUser.Remove(userId, out var previous))
            {
                _userBySession.Remove(previous);
            }

            // A session id belongs to one user: handing it to another user takes it from the first.
            if (_userBySession.Remove(sessionId, out var formerOwner))
            {
                _sessionByUser.Remove(formerOwner);
            }

            _sessionByUser[userId] = sessionId;
            _userBySession[sessionId] = userId;
        }
    }

    public string? UserOfSession(string sessionId)
    {
        lock (_gate)
        {
            return _userBySession.GetValueOrDefault(sessionId);
        }
    }

    public void RemoveSession(string userId)
    {
        lock (_gate)
        {
            if (_sessionByUser.Remove(userId, out var sessionId))
            {
                _userBySession.Remove(sessionId);
            }
        }
    }

    public void Subscribe(string userId, string channelId)
    {
        lock (_gate)
        {
            _subscriptionsByUser[userId] = Get(_subscriptionsByUser, userId).Add(channelId);
            _subscribersByChannel[channelId] = Get(_subscribersByChannel, channelId).Add(userId);
        }
    }

    public void Unsubscribe(string userId, string channelId)
    {
        lock (_gate)
        {
            Shrink(_subscriptionsByUser, userId, channelId);
            Shrink(_subscribersByChannel, channelId, userId);
        }
    }

    public void UnsubscribeAll(string userId)
    {
        lock (_gate)
        {
            if (_subscriptionsByUser.TryRemove(userId, out var channels))
            {
                foreach (var channelId in channels)
                {
                    Shrink(_subscribersByChannel, channelId, userId);
                }
            }
        }
    }

    public ImmutableHashSet<string> SubscriptionsOf(string userId) => Get(_subscriptionsByUser, userId);

    public ImmutableHashSet<string> SubscribersOf(string channelId) => Get(_subscribersByChannel, channelId);

    public IReadOnlyList<string> Channels() => [.. _subscribersByChannel.Keys];

    /// <summary>
    /// How many records this node holds per keyspace: <c>u:</c> users (with a session or subscriptions),
    /// <c>s:</c> sessions and <c>c:</c> channels with subscribers.
    /// </summary>
    public RecordCounts Counts()
    {
        lock (_gate)
        {
            var usersWithoutSession = _subscriptionsByUser.Keys.Count(user => !_sessionByUser.ContainsKey(user));
            return new RecordCounts(_sessionByUser.Count + usersWithoutSession, _userBySession.Count, _subscribersByChannel.Count);
        }
    }

    private static ImmutableHashSet<string> Get(ConcurrentDictionary<string, ImmutableHashSet<string>> map, string key) =>
        map.TryGetValue(key, out var set) ? set : ImmutableHashSet.Create<string>(StringComparer.Ordinal);

    private static void Shrink(ConcurrentDictionary<string, ImmutableHashSet<string>> map, string key, string member)
    {
        if (!map.TryGetValue(key, out var set))
        {
            return;
        }

        var smaller = set.Remove(member);
        if (smaller.IsEmpty)
        {
            map.TryRemove(key, out _);
        }
        else
        {
            map[key] = smaller;
        }
    }
}

/// <summary>Records held per keyspace, as manager.status reports them.</summary>
internal readonly record struct RecordCounts(int Users, int Sessions, int Channels);
