using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using MemoryPack;
using SocketPush.Node.Cluster.ConfigLayer;
using SocketPush.Node.Owner.Records;

namespace SocketPush.Node.Cluster.Peers;

/// <summary>
/// A call from one node to another: a typed MemoryPack record, declared here apart from the public catalog (which
/// stays JSON for users). Each type runs itself on the node that serves it, so a call runs the same code whether its
/// key's owner is this node or another: routing decides where, the request decides what. A type is named
/// <c>{Service}{Method}</c>, which gives the <c>service</c> and <c>method</c> labels of the peer metrics.
/// </summary>
[MemoryPackable]
[MemoryPackUnion(0, typeof(AuthSet))]
[MemoryPackUnion(1, typeof(AuthCheck))]
[MemoryPackUnion(2, typeof(AuthRemove))]
[MemoryPackUnion(3, typeof(UserPublish))]
[MemoryPackUnion(4, typeof(UserRemove))]
[MemoryPackUnion(5, typeof(ChannelSubscribe))]
[MemoryPackUnion(6, typeof(ChannelUnsubscribe))]
[MemoryPackUnion(7, typeof(ChannelUnsubscribeAll))]
[MemoryPackUnion(8, typeof(ChannelGetSubscriptions))]
[MemoryPackUnion(9, typeof(ChannelGetSubscribers))]
[MemoryPackUnion(10, typeof(ChannelPublish))]
[MemoryPackUnion(20, typeof(RecordsBindSession))]
[MemoryPackUnion(21, typeof(RecordsUnbindSession))]
[MemoryPackUnion(22, typeof(RecordsClearSession))]
[MemoryPackUnion(23, typeof(RecordsAddSubscriber))]
[MemoryPackUnion(24, typeof(RecordsRemoveSubscriber))]
[MemoryPackUnion(25, typeof(RecordsSetPresence))]
[MemoryPackUnion(26, typeof(RecordsListChannels))]
[MemoryPackUnion(27, typeof(RecordsMerge))]
[MemoryPackUnion(28, typeof(RecordsCount))]
[MemoryPackUnion(29, typeof(RecordsDigest))]
[MemoryPackUnion(30, typeof(RecordsUserOfSession))]
[MemoryPackUnion(40, typeof(EdgeDeliver))]
[MemoryPackUnion(41, typeof(EdgeDisconnect))]
[MemoryPackUnion(42, typeof(EdgeListUsers))]
[MemoryPackUnion(50, typeof(HistoryFetch))]
[MemoryPackUnion(51, typeof(HistoryCopy))]
[MemoryPackUnion(52, typeof(HistoryDigest))]
[MemoryPackUnion(60, typeof(ConfigExchange))]
internal abstract partial class PeerRequest
{
    private static readonly ConcurrentDictionary<Type, (string Service, string Method)> Labels = new();
    private static readonly ConcurrentDictionary<Type, PropertyInfo[]> NonNullable = new();

    /// <summary>The service and method, as the metrics label them: <c>AuthSet</c> is auth.set, <c>RecordsBindSession</c> records.bindSession.</summary>
    public (string Service, string Method) Label() => Labels.GetOrAdd(GetType(), static type =>
    {
        var name = type.Name;
        var split = 1;
        while (split < name.Length && !char.IsUpper(name[split]))
        {
            split++;
        }

        return (name[..split].ToLowerInvariant(), char.ToLowerInvariant(name[split]) + name[(split + 1)..]);
    });

    /// <summary>
    /// The first property that may not be null and is, or null when the request is whole. MemoryPack reads a null
    /// string wherever the bytes say so; a request from a corrupt or hostile peer is refused here, not inside a service.
    /// </summary>
    public string? MissingProperty() =>
        NonNullable.GetOrAdd(GetType(), static type =>
        {
            var nullability = new NullabilityInfoContext();
            return [.. type.GetProperties().Where(p => !p.PropertyType.IsValueType && nullability.Create(p).ReadState == NullabilityState.NotNull)];
        }).FirstOrDefault(p => p.GetValue(this) is null)?.Name;

    /// <summary>
    /// Whether the call may run twice with the effect of once, so that a call whose link dropped before its answer
    /// may be sent again: record writes merge (the same value again), reads read. A publish or a delivery run twice
    /// would reach clients twice.
    /// </summary>
    public virtual bool Repeatable() => true;

    /// <summary>Runs the call on this node and returns its result in MemoryPack, for the caller to read as the request's result type.</summary>
    public abstract Task<byte[]> ServeAsync(PeerHandlers local, CancellationToken cancellationToken);
}

/// <summary>A call whose answer is a <typeparamref name="TResult"/>.</summary>
internal abstract class PeerRequest<TResult> : PeerRequest
{
    /// <summary>Runs the call on this node: its own key's owner, or the node a delivery is for.</summary>
    public abstract Task<TResult> RunAsync(PeerHandlers local, CancellationToken cancellationToken);

    public sealed override async Task<byte[]> ServeAsync(PeerHandlers local, CancellationToken cancellationToken) =>
        MemoryPackSerializer.Serialize(await RunAsync(local, cancellationToken).ConfigureAwait(false), MemoryPackSerializerOptions.Utf8);

    /// <summary>Reads the answer of another node; null when the bytes are not a <typeparamref name="TResult"/>.</summary>
    public static bool TryReadResult(byte[] result, out TResult? value)
    {
        try
        {
            value = MemoryPackSerializer.Deserialize<TResult>(result);
            return true;
        }
        catch (Exception e) when (e is MemoryPackSerializationException or ArgumentException or IndexOutOfRangeException or InvalidOperationException or OverflowException)
        {
            value = default;
            return false;
        }
    }
}

// The owner side of the public services, forwarded to the owner of the call's key. Ids were checked where the call
// came in; a void call answers true.

[MemoryPackable]
internal sealed partial class AuthSet(string userId, string sessionId) : PeerRequest<bool>
{
    public string UserId { get; } = userId;

    public string SessionId { get; } = sessionId;

    public override async Task<bool> RunAsync(PeerHandlers local, CancellationToken cancellationToken)
    {
        await local.Auth.SetAsync(UserId, SessionId, cancellationToken).ConfigureAwait(false);
        return true;
    }
}

[MemoryPackable]
internal sealed partial class AuthCheck(string sessionId) : PeerRequest<string>
{
    public string SessionId { get; } = sessionId;

    public override Task<string> RunAsync(PeerHandlers local, CancellationToken cancellationToken) => local.Auth.CheckAsync(SessionId, cancellationToken);
}

[MemoryPackable]
internal sealed partial class AuthRemove(string userId) : PeerRequest<bool>
{
    public string UserId { get; } = userId;

    public override async Task<bool> RunAsync(PeerHandlers local, CancellationToken cancellationToken)
    {
        await local.Auth.RemoveAsync(UserId, cancellationToken).ConfigureAwait(false);
        return true;
    }
}

/// <param name="userId">The user.</param>
/// <param name="message">The message's JSON text (UTF-8), as the publisher sent it.</param>
/// <param name="publishId">The publish's id.</param>
[MemoryPackable]
internal sealed partial class UserPublish(string userId, byte[] message, string publishId) : PeerRequest<int>
{
    public string UserId { get; } = userId;

    public byte[] Message { get; } = message;

    /// <summary>The publish's id, given by the backend or by the node that took the call: a stream appends it once.</summary>
    public string PublishId { get; } = publishId;

    public override bool Repeatable() => false;

    public override Task<int> RunAsync(PeerHandlers local, CancellationToken cancellationToken) =>
        local.Users.PublishAsync(UserId, PeerJson.Read(Message), PublishId, cancellationToken);
}

[MemoryPackable]
internal sealed partial class UserRemove(string userId) : PeerRequest<bool>
{
    public string UserId { get; } = userId;

    public override async Task<bool> RunAsync(PeerHandlers local, CancellationToken cancellationToken)
    {
        await local.Users.RemoveAsync(UserId, cancellationToken).ConfigureAwait(false);
        return true;
    }
}

[MemoryPackable]
internal sealed partial class ChannelSubscribe(string userId, string channelId) : PeerRequest<bool>
{
    public string UserId { get; } = userId;

    public string ChannelId { get; } = channelId;

    public override async Task<bool> RunAsync(PeerHandlers local, CancellationToken cancellationToken)
    {
        await local.Channels.SubscribeAsync(UserId, ChannelId, cancellationToken).ConfigureAwait(false);
        return true;
    }
}

[MemoryPackable]
internal sealed partial class ChannelUnsubscribe(string userId, string channelId) : PeerRequest<bool>
{
    public string UserId { get; } = userId;

    public string ChannelId { get; } = channelId;

    public override async Task<bool> RunAsync(PeerHandlers local, CancellationToken cancellationToken)
    {
        await local.Channels.UnsubscribeAsync(UserId, ChannelId, cancellationToken).ConfigureAwait(false);
        return true;
    }
}

[MemoryPackable]
internal sealed partial class ChannelUnsubscribeAll(string userId) : PeerRequest<bool>
{
    public string UserId { get; } = userId;

    public override async Task<bool> RunAsync(PeerHandlers local, CancellationToken cancellationToken)
    {
        await local.Channels.UnsubscribeAllAsync(UserId, cancellationToken).ConfigureAwait(false);
        return true;
    }
}

[MemoryPackable]
internal sealed partial class ChannelGetSubscriptions(string userId) : PeerRequest<string[]>
{
    public string UserId { get; } = userId;

    public override Task<string[]> RunAsync(PeerHandlers local, CancellationToken cancellationToken) => Task.FromResult(local.Channels.GetSubscriptions(UserId));
}

[MemoryPackable]
internal sealed partial class ChannelGetSubscribers(string channelId) : PeerRequest<string[]>
{
    public string ChannelId { get; } = channelId;

    public override Task<string[]> RunAsync(PeerHandlers local, CancellationToken cancellationToken) => Task.FromResult(local.Channels.GetSubscribers(ChannelId));
}

/// <param name="channelId">The channel.</param>
/// <param name="message">The message's JSON text (UTF-8), as the publisher sent it.</param>
/// <param name="publishId">The publish's id.</param>
[MemoryPackable]
internal sealed partial class ChannelPublish(string channelId, byte[] message, string publishId) : PeerRequest<int>
{
    public string ChannelId { get; } = channelId;

    public byte[] Message { get; } = message;

    /// <summary>The publish's id, given by the backend or by the node that took the call: a stream appends it once.</summary>
    public string PublishId { get; } = publishId;

    public override bool Repeatable() => false;

    public override Task<int> RunAsync(PeerHandlers local, CancellationToken cancellationToken) =>
        local.Channels.PublishAsync(ChannelId, PeerJson.Read(Message), PublishId, cancellationToken);
}

// Single records on the node that owns their key: a multi-key call such as auth.set runs on the owner of its main
// key, which reaches the other keys' owners with these.

/// <summary>Binds the session id to the user; answers the user it belonged to before, or an empty string.</summary>
[MemoryPackable]
internal sealed partial class RecordsBindSession(string sessionId, string userId) : PeerRequest<string>
{
    public string SessionId { get; } = sessionId;

    public string UserId { get; } = userId;

    public override async Task<string> RunAsync(PeerHandlers local, CancellationToken cancellationToken) =>
        await local.Records.BindSessionAsync(SessionId, UserId).ConfigureAwait(false);
}

/// <summary>The user this node's copy binds the session id to, or an empty string: the owner asks the other replicas when it has none.</summary>
[MemoryPackable]
internal sealed partial class RecordsUserOfSession(string sessionId) : PeerRequest<string>
{
    public string SessionId { get; } = sessionId;

    public override Task<string> RunAsync(PeerHandlers local, CancellationToken cancellationToken) => Task.FromResult(local.Records.UserOfSession(SessionId));
}

/// <summary>Unbinds the session id if it still belongs to the user.</summary>
[MemoryPackable]
internal sealed partial class RecordsUnbindSession(string sessionId, string userId) : PeerRequest<bool>
{
    public string SessionId { get; } = sessionId;

    public string UserId { get; } = userId;

    public override async Task<bool> RunAsync(PeerHandlers local, CancellationToken cancellationToken)
    {
        await local.Records.UnbindSessionAsync(SessionId, UserId).ConfigureAwait(false);
        return true;
    }
}

/// <summary>Clears the user's session if it is still the given one (the session id went to another user).</summary>
[MemoryPackable]
internal sealed partial class RecordsClearSession(string userId, string sessionId) : PeerRequest<bool>
{
    public string UserId { get; } = userId;

    public string SessionId { get; } = sessionId;

    public override async Task<bool> RunAsync(PeerHandlers local, CancellationToken cancellationToken)
    {
        await local.Records.ClearSessionAsync(UserId, SessionId).ConfigureAwait(false);
        return true;
    }
}

[MemoryPackable]
internal sealed partial class RecordsAddSubscriber(string channelId, string userId) : PeerRequest<bool>
{
    public string ChannelId { get; } = channelId;

    public string UserId { get; } = userId;

    public override async Task<bool> RunAsync(PeerHandlers local, CancellationToken cancellationToken)
    {
        await local.Records.SetSubscriberAsync(ChannelId, UserId, subscribed: true).ConfigureAwait(false);
        return true;
    }
}

[MemoryPackable]
internal sealed partial class RecordsRemoveSubscriber(string channelId, string userId) : PeerRequest<bool>
{
    public string ChannelId { get; } = channelId;

    public string UserId { get; } = userId;

    public override async Task<bool> RunAsync(PeerHandlers local, CancellationToken cancellationToken)
    {
        await local.Records.SetSubscriberAsync(ChannelId, UserId, subscribed: false).ConfigureAwait(false);
        return true;
    }
}

/// <summary>Tells the owner of the user whether a node holds connections of it, stamped by that node's clock.</summary>
[MemoryPackable]
internal sealed partial class RecordsSetPresence(string userId, string nodeId, bool online, long stamp) : PeerRequest<bool>
{
    public string UserId { get; } = userId;

    public string NodeId { get; } = nodeId;

    public bool Online { get; } = online;

    public long Stamp { get; } = stamp;

    public override Task<bool> RunAsync(PeerHandlers local, CancellationToken cancellationToken)
    {
        local.Records.SetPresence(UserId, NodeId, Online, Stamp);
        return Task.FromResult(true);
    }
}

/// <summary>The channels with subscribers whose records the node holds.</summary>
[MemoryPackable]
internal sealed partial class RecordsListChannels : PeerRequest<string[]>
{
    public override Task<string[]> RunAsync(PeerHandlers local, CancellationToken cancellationToken) => Task.FromResult(local.Records.ListChannels());
}

/// <summary>Merges a batch of records (a replicated write, a handoff, an anti-entropy round); answers how many changed the node's records.</summary>
[MemoryPackable]
internal sealed partial class RecordsMerge(RecordBatch batch) : PeerRequest<int>
{
    public RecordBatch Batch { get; } = batch;

    public override Task<int> RunAsync(PeerHandlers local, CancellationToken cancellationToken) => Task.FromResult(local.Records.Merge(Batch));
}

/// <summary>The records the node holds, for manager.status.</summary>
[MemoryPackable]
internal sealed partial class RecordsCount : PeerRequest<HeldRecords>
{
    public override Task<HeldRecords> RunAsync(PeerHandlers local, CancellationToken cancellationToken) => Task.FromResult(local.Records.Count());
}

/// <summary>An anti-entropy round: the caller's bucket digests, answered with the buckets that differ and their records.</summary>
[MemoryPackable]
internal sealed partial class RecordsDigest(DigestRequest request) : PeerRequest<DigestAnswer>
{
    public DigestRequest Request { get; } = request;

    public override Task<DigestAnswer> RunAsync(PeerHandlers local, CancellationToken cancellationToken) => Task.FromResult(local.Records.Digest(Request));
}

// What a node does for its own connections on behalf of the owners.

/// <summary>
/// One publication for the local connections of the users. From the owner of a channel to the owner of the users
/// (<see cref="OwnersDeliver"/>: it fans out by presence, as for its own publishes), or from a user's owner to a node
/// presence names (its local connections only).
/// </summary>
[MemoryPackable]
internal sealed partial class EdgeDeliver(
    Delivery.PublicationKind kind, string? channelId, byte[] data, long publishedAtUnixMs, string[] users, bool ownersDeliver, string? epoch, long offset)
    : PeerRequest<int>
{
    public Delivery.PublicationKind Kind { get; } = kind;

    public string? ChannelId { get; } = channelId;

    /// <summary>The message's JSON text (UTF-8).</summary>
    public byte[] Data { get; } = data;

    /// <summary>When the publish was accepted, as wall time: timestamps are per process, so latency crosses nodes this way.</summary>
    public long PublishedAtUnixMs { get; } = publishedAtUnixMs;

    public string[] Users { get; } = users;

    public bool OwnersDeliver { get; } = ownersDeliver;

    /// <summary>The stream's epoch, for a publication of a stream that keeps history (null otherwise).</summary>
    public string? Epoch { get; } = epoch;

    /// <summary>The publication's offset in <see cref="Epoch"/>.</summary>
    public long Offset { get; } = offset;

    /// <summary>The publication's position in its stream, if it has one.</summary>
    [MemoryPackIgnore]
    public Delivery.StreamPosition? Position => Epoch is null ? null : new Delivery.StreamPosition(Epoch, Offset);

    /// <summary>With a position, yes: each connection drops a position it delivered already. Without, it would reach clients twice.</summary>
    public override bool Repeatable() => Epoch is not null;

    public override Task<int> RunAsync(PeerHandlers local, CancellationToken cancellationToken) => local.FanOut.DeliverAsync(this, cancellationToken);
}

/// <summary>Closes every local connection of the user, without reconnecting (user.remove).</summary>
[MemoryPackable]
internal sealed partial class EdgeDisconnect(string userId) : PeerRequest<bool>
{
    public string UserId { get; } = userId;

    public override Task<bool> RunAsync(PeerHandlers local, CancellationToken cancellationToken)
    {
        local.Connections.Disconnect(UserId);
        return Task.FromResult(true);
    }
}

/// <summary>The users with a connection open on the node.</summary>
[MemoryPackable]
internal sealed partial class EdgeListUsers : PeerRequest<string[]>
{
    public override Task<string[]> RunAsync(PeerHandlers local, CancellationToken cancellationToken) => Task.FromResult<string[]>([.. local.Connections.Users()]);
}

/// <summary>A published message's JSON text as it crosses nodes: the bytes the publisher sent, read back on arrival.</summary>
internal static class PeerJson
{
    public static byte[] Write(JsonElement message) => System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(message).ToArray();

    /// <summary>The message again; a <see cref="JsonException"/> for bytes that are not JSON (a corrupt peer), which answers the call as malformed.</summary>
    public static JsonElement Read(byte[] message)
    {
        using var document = JsonDocument.Parse(message);
        return document.RootElement.Clone();
    }
}

// The streams' history, on the owner of the stream's key.

/// <summary>
/// Reads a stream after a position (or its latest messages, without an epoch), at most <see cref="Limit"/>: on its
/// owner (<see cref="AsOwner"/>: after a takeover, creating the stream so that it has an epoch), or the copy of
/// another replica, as a new owner asks for it (without creating one: an empty epoch says there is no copy).
/// </summary>
[MemoryPackable]
internal sealed partial class HistoryFetch(string key, string? epoch, long offset, int limit, bool asOwner) : PeerRequest<HistoryPage>
{
    /// <summary>The stream's key: <c>u:{userId}</c> or <c>c:{channelId}</c>.</summary>
    public string Key { get; } = key;

    /// <summary>The epoch of the position to read after; null for the latest messages.</summary>
    public string? Epoch { get; } = epoch;

    public long Offset { get; } = offset;

    public int Limit { get; } = limit;

    public bool AsOwner { get; } = asOwner;

    public override async Task<HistoryPage> RunAsync(PeerHandlers local, CancellationToken cancellationToken)
    {
        var since = Epoch is null ? (Delivery.StreamPosition?)null : new Delivery.StreamPosition(Epoch, Offset);
        var read = AsOwner
            ? await local.Streams.ReadAsync(Key, since, Limit).ConfigureAwait(false)
            : local.History.ReadCopy(Key, since, Limit);
        return read is null
            ? new HistoryPage(false, "", 0, false, [], [], [])
            : new HistoryPage(true, read.Top.Epoch, read.Top.Offset, read.Complete, [.. read.Entries.Select(HistoryPageEntry.Of)], [.. read.Terms],
                AsOwner ? [] : [.. local.History.PublishIdsOf(Key)]);
    }
}

/// <summary>
/// A stream's page: whether it keeps history, its position now (an empty epoch: no copy), whether the page follows
/// the position asked for, and the messages; to a new owner, also every publish id the copy refuses.
/// </summary>
[MemoryPackable]
internal sealed partial record HistoryPage(
    bool Enabled, string Epoch, long Offset, bool Complete, HistoryPageEntry[] Entries, Owner.History.WriterTerm[] Terms, Owner.History.FormerId[] PublishIds);

/// <summary>One message of a stream between nodes, its JSON as UTF-8, with the node that sequenced it.</summary>
[MemoryPackable]
internal sealed partial record HistoryPageEntry(long Offset, string PublishId, byte[] Data, long PublishedAtUnixMs, string Writer)
{
    public static HistoryPageEntry Of(Owner.History.HistoryEntry entry) =>
        new(entry.Offset, entry.PublishId, PeerJson.Write(entry.Data), entry.PublishedAtUnixMs, entry.Writer);

    public Owner.History.HistoryEntry ToEntry()
    {
        var data = PeerJson.Read(Data);
        return new Owner.History.HistoryEntry(Offset, PublishId, data, PublishedAtUnixMs, Owner.History.MessageStream.CostOf(PublishId, data), Writer);
    }
}

/// <summary>
/// The owner's copy of a stream's entries to another replica: the entries it just sequenced, or, with
/// <see cref="Owner.History.CopyKind.WholeStream"/>, its whole stream for a replica whose copy is of another epoch or
/// misses entries; or a handoff's offer from a node that is no longer a replica.
/// </summary>
[MemoryPackable]
internal sealed partial class HistoryCopy(
    string key, string epoch, long top, HistoryPageEntry[] entries, Owner.History.WriterTerm[] terms, Owner.History.FormerId[] formerIds, Owner.History.CopyKind kind)
    : PeerRequest<byte>
{
    public string Key { get; } = key;

    public string Epoch { get; } = epoch;

    /// <summary>The owner's last offset, which a whole stream with no entries kept starts after.</summary>
    public long Top { get; } = top;

    public HistoryPageEntry[] Entries { get; } = entries;

    /// <summary>The owner's stretches of the epoch: a replica whose copy was written by another owner says so.</summary>
    public Owner.History.WriterTerm[] Terms { get; } = terms;

    /// <summary>Publish ids of former epochs the owner's copy refuses (with a whole stream; none with appended entries).</summary>
    public Owner.History.FormerId[] FormerIds { get; } = formerIds;

    public Owner.History.CopyKind Kind { get; } = kind;

    /// <summary>Answers the <see cref="Owner.History.CopyResult"/>.</summary>
    public override Task<byte> RunAsync(PeerHandlers local, CancellationToken cancellationToken) =>
        Task.FromResult((byte)local.History.ApplyCopy(Key, Epoch, Top, [.. Entries.Select(e => e.ToEntry())], Terms, FormerIds, Kind));
}

/// <summary>
/// An anti-entropy round's streams: the digests of the streams the caller owns and this node should hold, answered
/// with the buckets that differ and this node's summaries of its copies there (the owner then sends whole copies).
/// </summary>
[MemoryPackable]
internal sealed partial class HistoryDigest(DigestRequest request) : PeerRequest<StreamDigestAnswer>
{
    public DigestRequest Request { get; } = request;

    public override Task<StreamDigestAnswer> RunAsync(PeerHandlers local, CancellationToken cancellationToken) => Task.FromResult(local.AntiEntropy.AnswerStreams(Request));
}

/// <summary>
/// The cluster's config layer between two nodes whose versions differ: the caller's layer is merged here, and this
/// node's, merged, is the answer, so one round trip brings both up to date.
/// </summary>
[MemoryPackable]
internal sealed partial class ConfigExchange(StampedLayer layer) : PeerRequest<StampedLayer>
{
    public StampedLayer Layer { get; } = layer;

    public override Task<StampedLayer> RunAsync(PeerHandlers local, CancellationToken cancellationToken)
    {
        local.ConfigLayer.Merge(Layer);
        return Task.FromResult(local.ConfigLayer.Layer);
    }
}
