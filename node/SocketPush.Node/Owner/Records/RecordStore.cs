using System.Collections.Concurrent;
using System.Collections.Immutable;
using SocketPush.Node.Cluster.Routing;

namespace SocketPush.Node.Owner.Records;

/// <summary>
/// The records this node holds, by keyspace. Each record is immutable; a write replaces it under one lock (writes
/// are rare next to reads), so readers such as channel.publish never lock. Every write is stamped by the node's
/// hybrid clock, and every record that arrives from elsewhere is merged, never overwritten.
/// </summary>
internal sealed class RecordStore(HybridClock clock, string nodeId)
{
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<string, UserRecord> _users = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SessionRecord> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ChannelRecord> _channels = new(StringComparer.Ordinal);

    /// <summary>Records with content, per keyspace (tombstones of removed sessions and subscriptions left out).</summary>
    public (int Users, int Sessions, int Channels) LiveCounts() =>
        (_users.Values.Count(r => r.IsLive), _sessions.Values.Count(r => r.IsLive), _channels.Values.Count(r => r.IsLive));

    private Stamp Next() => new(clock.Now(), nodeId);

    /// <summary>Sets the user's session and returns the one it replaced.</summary>
    public string? SetSession(string userId, string? sessionId)
    {
        lock (_gate)
        {
            var user = _users.GetValueOrDefault(userId, UserRecord.Empty);
            _users[userId] = user with { Session = new Register(sessionId, Next()) };
            return user.Session.Value;
        }
    }

    /// <summary>Clears the user's session if it is still <paramref name="sessionId"/> (the session went to another user).</summary>
    public void ClearSessionIf(string userId, string sessionId)
    {
        lock (_gate)
        {
            if (_users.TryGetValue(userId, out var user) && user.Session.Value == sessionId)
            {
                _users[userId] = user with { Session = new Register(null, Next()) };
            }
        }
    }

    public string? SessionOf(string userId) => _users.TryGetValue(userId, out var user) ? user.Session.Value : null;

    /// <summary>Binds a session id to a user and returns the user it belonged to before, if another.</summary>
    public string? BindSession(string sessionId, string userId)
    {
        lock (_gate)
        {
            var session = _sessions.GetValueOrDefault(sessionId, SessionRecord.Empty);
            _sessions[sessionId] = new SessionRecord(new Register(userId, Next()));
            return session.User.Value is { } former && former != userId ? former : null;
        }
    }

    /// <summary>Unbinds a session id if it still belongs to <paramref name="userId"/>.</summary>
    public void UnbindSessionIf(string sessionId, string userId)
    {
        lock (_gate)
        {
            if (_sessions.TryGetValue(sessionId, out var session) && session.User.Value == userId)
            {
                _sessions[sessionId] = new SessionRecord(new Register(null, Next()));
            }
        }
    }

    public string? UserOfSession(string sessionId) => _sessions.TryGetValue(sessionId, out var session) ? session.User.Value : null;

    public void SetSubscription(string userId, string channelId, bool subscribed)
    {
        lock (_gate)
        {
            var user = _users.GetValueOrDefault(userId, UserRecord.Empty);
            _users[userId] = user with { Subscriptions = user.Subscriptions.Set(channelId, subscribed, Next()) };
        }
    }

    /// <summary>
    /// Subscribes the user unless it has <paramref name="max"/> subscriptions already (0: no limit); a channel it is
    /// subscribed to already is always fine. Checked and set under one lock, so concurrent calls cannot pass the limit.
    /// </summary>
    public bool TrySubscribe(string userId, string channelId, int max)
    {
        lock (_gate)
        {
            var user = _users.GetValueOrDefault(userId, UserRecord.Empty);
            if (max > 0 && !user.Subscriptions.Contains(channelId) && user.Subscriptions.Present.Count >= max)
            {
                return false;
            }

            _users[userId] = user with { Subscriptions = user.Subscriptions.Set(channelId, true, Next()) };
            return true;
        }
    }

    /// <summary>Removes every subscription of the user and returns the channels it had.</summary>
    public IReadOnlyList<string> ClearSubscriptions(string userId)
    {
        lock (_gate)
        {
            if (!_users.TryGetValue(userId, out var user))
            {
                return [];
            }

            var channels = user.Subscriptions.Present.ToList();
            var subscriptions = user.Subscriptions;
            foreach (var channelId in channels)
            {
                subscriptions = subscriptions.Set(channelId, false, Next());
            }

            _users[userId] = user with { Subscriptions = subscriptions };
            return channels;
        }
    }

    public ImmutableHashSet<string> SubscriptionsOf(string userId) =>
        _users.TryGetValue(userId, out var user) ? user.Subscriptions.Present : ElementSet.Empty.Present;

    public void SetSubscriber(string channelId, string userId, bool subscribed)
    {
        lock (_gate)
        {
            var channel = _channels.GetValueOrDefault(channelId, ChannelRecord.Empty);
            _channels[channelId] = new ChannelRecord(channel.Subscribers.Set(userId, subscribed, Next()));
        }
    }

    public ImmutableHashSet<string> SubscribersOf(string channelId) =>
        _channels.TryGetValue(channelId, out var channel) ? channel.Subscribers.Present : ElementSet.Empty.Present;

    public IEnumerable<string> Channels() => _channels.Where(c => c.Value.IsLive).Select(c => c.Key);

    /// <summary>The keys of the records with content (see <see cref="LiveCounts"/>).</summary>
    public IEnumerable<string> LiveKeys() =>
        _users.Where(r => r.Value.IsLive).Select(r => Keys.User(r.Key))
            .Concat(_sessions.Where(r => r.Value.IsLive).Select(r => Keys.Session(r.Key)))
            .Concat(_channels.Where(r => r.Value.IsLive).Select(r => Keys.Channel(r.Key)));

    /// <summary>The key of every record held here, tombstones included (a removal must reach every replica too).</summary>
    public IEnumerable<string> AllKeys() =>
        _users.Keys.Select(Keys.User).Concat(_sessions.Keys.Select(Keys.Session)).Concat(_channels.Keys.Select(Keys.Channel));

    /// <summary>The record of one key (<c>u:</c>, <c>s:</c> or <c>c:</c>) as a batch of one, or an empty batch when there is none.</summary>
    public RecordBatch Snapshot(string key)
    {
        var batch = new RecordBatch([], [], []);
        var id = key[2..];
        switch (key[0])
        {
            case 'u' when _users.TryGetValue(id, out var user):
                batch.Users[id] = user;
                break;
            case 's' when _sessions.TryGetValue(id, out var session):
                batch.Sessions[id] = session;
                break;
            case 'c' when _channels.TryGetValue(id, out var channel):
                batch.Channels[id] = channel;
                break;
        }

        return batch;
    }

    /// <summary>
    /// Merges records that arrived from another node (a replicated write, a handoff, an anti-entropy round) and
    /// returns how many of them changed this node's store. A batch stamped too far ahead of this node's clock is
    /// refused as a whole (the sender keeps it and sends it again; once real time has caught up it is taken).
    /// </summary>
    public int Merge(RecordBatch batch)
    {
        clock.ObserveFromPeer(batch.LatestStamp, "Records");

        var changed = 0;
        lock (_gate)
        {
            foreach (var (id, record) in batch.Users)
            {
                changed += Put(_users, id, record, (ours, theirs) => ours.Merge(theirs),
                    (a, b) => a.Session == b.Session && ReferenceEquals(a.Subscriptions, b.Subscriptions));
            }

            foreach (var (id, record) in batch.Sessions)
            {
                changed += Put(_sessions, id, record, (ours, theirs) => ours.Merge(theirs), (a, b) => a.User == b.User);
            }

            foreach (var (id, record) in batch.Channels)
            {
                changed += Put(_channels, id, record, (ours, theirs) => ours.Merge(theirs), (a, b) => ReferenceEquals(a.Subscribers, b.Subscribers));
            }
        }

        return changed;
    }

    /// <summary>Merges one record into its keyspace (under the gate); 1 if that changed what the store held, else 0.</summary>
    private static int Put<T>(ConcurrentDictionary<string, T> records, string id, T theirs, Func<T, T, T> merge, Func<T, T, bool> same)
        where T : class
    {
        if (!records.TryGetValue(id, out var ours))
        {
            records[id] = theirs;
            return 1;
        }

        var merged = merge(ours, theirs);
        records[id] = merged;

        // An element set's merge returns the set itself when nothing came in, so comparing instances is enough there.
        return same(merged, ours) ? 0 : 1;
    }

    /// <summary>
    /// Up to <paramref name="max"/> records that <paramref name="destinations"/> sends to other nodes (null: none),
    /// in one batch per node: a record goes into the batch of each of its nodes.
    /// </summary>
    public Dictionary<string, RecordBatch> RecordsFor(Func<string, string[]?> destinations, int max)
    {
        var batches = new Dictionary<string, RecordBatch>(StringComparer.Ordinal);
        var taken = 0;
        RecordBatch For(string node) => batches.TryGetValue(node, out var b) ? b : batches[node] = new RecordBatch([], [], []);
        void Collect<T>(ConcurrentDictionary<string, T> records, Func<string, string> key, Func<RecordBatch, Dictionary<string, T>> into)
        {
            foreach (var (id, record) in records)
            {
                if (taken >= max)
                {
                    return;
                }

                if (destinations(key(id)) is { Length: > 0 } nodes)
                {
                    foreach (var node in nodes)
                    {
                        into(For(node))[id] = record;
                    }

                    taken++;
                }
            }
        }

        Collect(_users, Keys.User, b => b.Users);
        Collect(_sessions, Keys.Session, b => b.Sessions);
        Collect(_channels, Keys.Channel, b => b.Channels);
        return batches;
    }

    /// <summary>
    /// Drops records another node acknowledged, each only if it is still the instance that was sent (a write that
    /// reached this node after the batch left keeps the record here until the next round carries it too) and is not
    /// in <paramref name="keep"/> (records that a node which did not acknowledge still waits for).
    /// </summary>
    public void Forget(RecordBatch sent, RecordBatch? keep = null)
    {
        lock (_gate)
        {
            foreach (var (id, record) in sent.Users)
            {
                if (keep?.Users.ContainsKey(id) != true)
                {
                    _users.TryRemove(KeyValuePair.Create(id, record));
                }
            }

            foreach (var (id, record) in sent.Sessions)
            {
                if (keep?.Sessions.ContainsKey(id) != true)
                {
                    _sessions.TryRemove(KeyValuePair.Create(id, record));
                }
            }

            foreach (var (id, record) in sent.Channels)
            {
                if (keep?.Channels.ContainsKey(id) != true)
                {
                    _channels.TryRemove(KeyValuePair.Create(id, record));
                }
            }
        }
    }

    /// <summary>Whether the store holds no record at all, tombstones included (tests).</summary>
    internal bool IsEmpty => _users.IsEmpty && _sessions.IsEmpty && _channels.IsEmpty;
}
