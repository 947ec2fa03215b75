using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace SocketPush.Node.Edge.HubServer;

/// <summary>
/// The connection tokens negotiate hands out, and the HTTP-transport sessions (SSE, long polling) opened with them.
/// A token is good for one connection: a WebSocket takes it off the table, an SSE stream or a first poll puts its
/// session in its place. Tokens nobody uses expire after <see cref="Lifetime"/>, and so do sessions that ended while
/// their client stopped asking, so the table only holds what real clients use.
/// </summary>
internal sealed class HubConnectionTokens(TimeProvider time)
{
    /// <summary>How long a negotiated token waits for its connection, and an ended session for its last poll (SignalR's disconnect timeout).</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(15);

    /// <summary>Tokens waiting for their connection beyond this are refused: negotiate in a loop cannot grow memory without bound.</summary>
    public const int MaxPending = 100_000;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly TimeProvider _time = time;
    private int _pending;

    /// <summary>Tokens issued and not used yet.</summary>
    public int Pending => Volatile.Read(ref _pending);

    /// <summary>A new connection id and its secret token, or null when too many tokens wait already.</summary>
    public (string ConnectionId, string Token)? Issue()
    {
        if (Interlocked.Increment(ref _pending) > MaxPending)
        {
            Interlocked.Decrement(ref _pending);
            return null;
        }

        var (connectionId, token) = (NewId(), NewId());
        _entries[token] = new Entry(_time.GetTimestamp(), connectionId, null);
        return (connectionId, token);
    }

    /// <summary>Takes an unused token for a WebSocket, which needs no entry once open.</summary>
    public bool TryClaim(string token)
    {
        if (!_entries.TryGetValue(token, out var entry) || entry.Session is not null || !_entries.TryRemove(KeyValuePair.Create(token, entry)))
        {
            return false;
        }

        Interlocked.Decrement(ref _pending);
        return !Expired(entry);
    }

    /// <summary>
    /// Puts a session, made from the token's connection id, in the place of an unused token; null when the token is
    /// unknown, expired or in use.
    /// </summary>
    public HttpHubSession? TryOpen(string token, Func<string, HttpHubSession> create)
    {
        if (!_entries.TryGetValue(token, out var entry) || entry.Session is not null || Expired(entry))
        {
            return null;
        }

        var session = create(entry.ConnectionId);
        if (!_entries.TryUpdate(token, entry with { Session = session }, entry))
        {
            return null;
        }

        Interlocked.Decrement(ref _pending);
        return session;
    }

    /// <summary>The session a token belongs to, or null (unknown, unused or expired token).</summary>
    public HttpHubSession? Find(string token) => _entries.TryGetValue(token, out var entry) ? entry.Session : null;

    /// <summary>Forgets a session's token; later requests with it get 404.</summary>
    public void Remove(HttpHubSession session) => _entries.TryRemove(KeyValuePair.Create(session.Token, new Entry(0, session.Id, session)));

    /// <summary>Drops expired unused tokens and sessions that ended a while ago; <see cref="HubSessions"/>' timer runs it.</summary>
    public void Sweep()
    {
        var now = _time.GetTimestamp();
        foreach (var (token, entry) in _entries)
        {
            if (entry.Session is null ? Expired(entry, now) : entry.Session.EndedLongAgo(now, Lifetime))
            {
                if (_entries.TryRemove(KeyValuePair.Create(token, entry)) && entry.Session is null)
                {
                    Interlocked.Decrement(ref _pending);
                }
            }
        }
    }

    private bool Expired(Entry entry, long? now = null) => _time.GetElapsedTime(entry.Created, now ?? _time.GetTimestamp()) >= Lifetime;

    /// <summary>128 random bits, URL-safe: a token must not be guessable, since it alone lets a request act for a connection.</summary>
    private static string NewId()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        return Base64Url.EncodeToString(bytes);
    }

    /// <summary>An unused token (no session) or an open one. Compared by value so removals only take the entry they saw.</summary>
    private readonly record struct Entry(long Created, string ConnectionId, HttpHubSession? Session)
    {
        public bool Equals(Entry other) => Session is null ? other.Session is null && Created == other.Created : ReferenceEquals(Session, other.Session);

        public override int GetHashCode() => Session is null ? Created.GetHashCode() : Session.GetHashCode();
    }
}
