using System.Collections.Immutable;
using MemoryPack;

namespace SocketPush.Node.Owner.Records;

/// <summary>
/// A last-writer-wins register: the value with the highest stamp. A removal is a write of null, so it is ordered
/// against sets like any other write.
/// </summary>
[MemoryPackable]
internal sealed partial record Register(string? Value, Stamp Stamp)
{
    public static readonly Register Empty = new(null, Stamp.Zero);

    public Register Merge(Register other) => other.Stamp.CompareTo(Stamp) > 0 ? other : this;
}

/// <summary>One element of an <see cref="ElementSet"/>: in or out, as of its stamp.</summary>
[MemoryPackable]
internal readonly partial record struct Element(bool Present, Stamp Stamp);

/// <summary>
/// A set whose elements are each a last-writer-wins flag: adding and removing stamp the element, and merging keeps
/// each element's latest stamp. Removed elements stay as tombstones, so a late copy of an older add cannot bring
/// them back.
/// </summary>
[MemoryPackable]
internal sealed partial record ElementSet
{
    public static readonly ElementSet Empty = new(ImmutableSortedDictionary.Create<string, Element>(StringComparer.Ordinal));

    private ImmutableHashSet<string>? _present;

    public ElementSet(ImmutableSortedDictionary<string, Element> elements) => Elements = elements;

    /// <summary>Rebuilds a set from the wire with the ordinal comparer (MemoryPack would give the culture's).</summary>
    [MemoryPackConstructor]
    private ElementSet(KeyValuePair<string, Element>[] wire)
        : this(wire.ToImmutableSortedDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal))
    {
    }

    [MemoryPackIgnore]
    public ImmutableSortedDictionary<string, Element> Elements { get; }

    /// <summary>The elements as they travel: in order, so the same set always has the same bytes (anti-entropy hashes them).</summary>
    [MemoryPackInclude]
    private KeyValuePair<string, Element>[] Wire => [.. Elements];

    /// <summary>The elements that are in, built once per set: channel.publish reads it for every message.</summary>
    [MemoryPackIgnore]
    public ImmutableHashSet<string> Present =>
        _present ??= Elements.Where(e => e.Value.Present).Select(e => e.Key).ToImmutableHashSet(StringComparer.Ordinal);

    [MemoryPackIgnore]
    public bool HasAny => Elements.Values.Any(e => e.Present);

    public bool Contains(string element) => Elements.TryGetValue(element, out var e) && e.Present;

    public ElementSet Set(string element, bool present, Stamp stamp) =>
        Elements.TryGetValue(element, out var current) && current.Stamp.CompareTo(stamp) >= 0
            ? this
            : new ElementSet(Elements.SetItem(element, new Element(present, stamp)));

    public ElementSet Merge(ElementSet other)
    {
        var merged = Elements;
        foreach (var (element, theirs) in other.Elements)
        {
            if (!merged.TryGetValue(element, out var ours) || theirs.Stamp.CompareTo(ours.Stamp) > 0)
            {
                merged = merged.SetItem(element, theirs);
            }
        }

        return merged == Elements ? this : new ElementSet(merged);
    }
}

/// <summary><c>u:{userId}</c>: the user's session and the channels the user is subscribed to.</summary>
[MemoryPackable]
internal sealed partial record UserRecord(Register Session, ElementSet Subscriptions)
{
    public static readonly UserRecord Empty = new(Register.Empty, ElementSet.Empty);

    public UserRecord Merge(UserRecord other) => new(Session.Merge(other.Session), Subscriptions.Merge(other.Subscriptions));

    [MemoryPackIgnore]
    public bool IsLive => Session.Value is not null || Subscriptions.HasAny;
}

/// <summary><c>s:{sessionId}</c>: the user the session belongs to, which serves auth.check.</summary>
[MemoryPackable]
internal sealed partial record SessionRecord(Register User)
{
    public static readonly SessionRecord Empty = new(Register.Empty);

    public SessionRecord Merge(SessionRecord other) => new(User.Merge(other.User));

    [MemoryPackIgnore]
    public bool IsLive => User.Value is not null;
}

/// <summary><c>c:{channelId}</c>: the channel's subscribers.</summary>
[MemoryPackable]
internal sealed partial record ChannelRecord(ElementSet Subscribers)
{
    public static readonly ChannelRecord Empty = new(ElementSet.Empty);

    public ChannelRecord Merge(ChannelRecord other) => new(Subscribers.Merge(other.Subscribers));

    [MemoryPackIgnore]
    public bool IsLive => Subscribers.HasAny;
}

/// <summary>Records on their way to another node (a handoff batch); merged on arrival.</summary>
[MemoryPackable]
internal sealed partial record RecordBatch(
    Dictionary<string, UserRecord> Users,
    Dictionary<string, SessionRecord> Sessions,
    Dictionary<string, ChannelRecord> Channels)
{
    [MemoryPackIgnore]
    public int Count => Users.Count + Sessions.Count + Channels.Count;

    /// <summary>The latest clock value stamped on anything in the batch (0 when empty).</summary>
    [MemoryPackIgnore]
    public long LatestStamp =>
        Users.Values.SelectMany(u => u.Subscriptions.Elements.Values.Select(e => e.Stamp).Append(u.Session.Stamp))
            .Concat(Sessions.Values.Select(s => s.User.Stamp))
            .Concat(Channels.Values.SelectMany(c => c.Subscribers.Elements.Values.Select(e => e.Stamp)))
            .Select(stamp => stamp.Time)
            .DefaultIfEmpty(0)
            .Max();

    /// <summary>The records in batches of at most <paramref name="size"/>.</summary>
    public IEnumerable<RecordBatch> Split(int size)
    {
        var additions = Users.Select(r => (Action<RecordBatch>)(b => b.Users[r.Key] = r.Value))
            .Concat(Sessions.Select(r => (Action<RecordBatch>)(b => b.Sessions[r.Key] = r.Value)))
            .Concat(Channels.Select(r => (Action<RecordBatch>)(b => b.Channels[r.Key] = r.Value)));
        var part = new RecordBatch([], [], []);
        foreach (var add in additions)
        {
            add(part);
            if (part.Count == size)
            {
                yield return part;
                part = new RecordBatch([], [], []);
            }
        }

        if (part.Count > 0)
        {
            yield return part;
        }
    }

    /// <summary>Adds another batch's records.</summary>
    public void Add(RecordBatch other)
    {
        foreach (var (id, record) in other.Users)
        {
            Users[id] = record;
        }

        foreach (var (id, record) in other.Sessions)
        {
            Sessions[id] = record;
        }

        foreach (var (id, record) in other.Channels)
        {
            Channels[id] = record;
        }
    }
}
