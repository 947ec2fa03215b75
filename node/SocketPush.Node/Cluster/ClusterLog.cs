using System.Net;

namespace SocketPush.Node.Cluster;

/// <summary>Log lines of the cluster: membership, ring, peer calls, handoff, anti-entropy.</summary>
internal static partial class ClusterLog
{
    [LoggerMessage(EventId = 400, Level = LogLevel.Warning, Message = "Seed {Seed} does not resolve to an IPv4 address; it is skipped")]
    public static partial void SeedUnresolved(ILogger logger, string seed);

    [LoggerMessage(EventId = 401, Level = LogLevel.Error, Message = "Not routing: {Problem}")]
    public static partial void RingSettingsDiffer(ILogger logger, string problem);

    [LoggerMessage(EventId = 420, Level = LogLevel.Error,
        Message = "Refusing node {Node} at {Address}: {Why}. Nodes of one cluster must speak one wire version (docs/operations.md, rolling upgrades)")]
    public static partial void PeerRefused(ILogger logger, string node, string address, string why);

    [LoggerMessage(EventId = 402, Level = LogLevel.Information, Message = "Ring changed: {Count} node(s): {Nodes}")]
    public static partial void RingChanged(ILogger logger, int count, string nodes);

    [LoggerMessage(EventId = 403, Level = LogLevel.Warning, Message = "Dropped a peer message from {From}: {Problem}")]
    public static partial void PeerMessageDropped(ILogger logger, IPEndPoint from, string problem);

    [LoggerMessage(EventId = 404, Level = LogLevel.Error, Message = "Serving {Service}.{Method} for node {From} failed")]
    public static partial void ServeFailed(ILogger logger, Exception exception, string service, string method, string from);

    [LoggerMessage(EventId = 405, Level = LogLevel.Information, Message = "Sent {Records} record(s) to node {Node} ({Why})")]
    public static partial void HandedOff(ILogger logger, int records, string node, string why);

    [LoggerMessage(EventId = 406, Level = LogLevel.Warning, Message = "Sending records to node {Node} ({Why}) failed, retrying later: {Reason}")]
    public static partial void HandoffFailed(ILogger logger, string node, string why, string reason);

    [LoggerMessage(EventId = 430, Level = LogLevel.Information, Message = "Node {Node} is leaving or out of the ring; its share of the records ({Why}) goes to the replicas of the ring as it is now")]
    public static partial void HandoffTargetLeaving(ILogger logger, string node, string why);

    [LoggerMessage(EventId = 431, Level = LogLevel.Information, Message = "Every other member is leaving too (the cluster is stopping): nobody is left to hand records or clients to")]
    public static partial void OthersLeavingToo(ILogger logger);

    [LoggerMessage(EventId = 407, Level = LogLevel.Warning, Message = "Telling the owner of user {UserId} about its connections here failed: {Reason}")]
    public static partial void PresenceReportFailed(ILogger logger, string userId, string reason);

    [LoggerMessage(EventId = 409, Level = LogLevel.Error, Message = "Reloaded cluster settings could not be applied to gossip, which keeps its previous settings: {Reason}")]
    public static partial void ReloadNotApplied(ILogger logger, string reason);

    [LoggerMessage(EventId = 410, Level = LogLevel.Information, Message = "Anti-entropy with node {Peer}: {Buckets} bucket(s) differed, {Received} record(s) received, {Sent} sent, {Repaired} changed, {Streams} stream(s) repaired")]
    public static partial void AntiEntropyRepaired(ILogger logger, string peer, int buckets, int received, int sent, int repaired, int streams);

    [LoggerMessage(EventId = 411, Level = LogLevel.Warning, Message = "Anti-entropy with node {Peer} failed, trying again next round: {Reason}")]
    public static partial void AntiEntropyFailed(ILogger logger, string peer, string reason);

    [LoggerMessage(EventId = 412, Level = LogLevel.Error, Message = "An anti-entropy round failed unexpectedly; the next one runs as planned")]
    public static partial void AntiEntropyCrashed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 419, Level = LogLevel.Information,
        Message = "Left the cluster in {Elapsed}: {Held} record(s) held, {NotHandedOver} not handed over; {NotMoved} client(s) not yet asked to move, {Connected} still connected; departure gossiped: {Gossiped}")]
    public static partial void Left(ILogger logger, int held, int notHandedOver, int notMoved, int connected, bool gossiped, TimeSpan elapsed);

    [LoggerMessage(EventId = 440, Level = LogLevel.Warning, Message = "Node {Peer} holds other messages of the stream {Key} than this owner's copy ({Top}, terms {Terms}) at offsets both hold: this node checks with the replicas before its next message")]
    public static partial void StreamCopyConflict(ILogger logger, string peer, string key, string top, string terms);

    [LoggerMessage(EventId = 441, Level = LogLevel.Warning, Message = "This standby stands in for member {Member}, dead for {StandbyAfter} (cluster.standbyAfter): it joins the ring and takes a share of the keys")]
    public static partial void StandbyPromoted(ILogger logger, string member, TimeSpan standbyAfter);
}
