using SocketPush.Gossip;

namespace SocketPush.Node.Configuration;

/// <summary>The whole configuration of a node, as read from <c>config.yml</c> and the command line.</summary>
internal sealed class NodeConfig
{
    public NodeSection Node { get; set; } = new();

    public AdminSection Admin { get; set; } = new();

    public ClusterSection Cluster { get; set; } = new();

    public ClientOptions Options { get; set; } = new();

    public TlsSection Tls { get; set; } = new();

    public LoggingSection Logging { get; set; } = new();

    public HistorySection History { get; set; } = new();
}

/// <summary>Identity of the node and where clients reach it.</summary>
internal sealed class NodeSection
{
    /// <summary>The node's name in the cluster.</summary>
    /// <value><c>node-1</c> by default.</value>
    public string Id { get; set; } = "node-1";

    /// <summary>The address the client and cluster ports bind to.</summary>
    /// <value><c>127.0.0.1</c> by default.</value>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>The port of the client page, the SignalR hub and the SSE stream.</summary>
    /// <value>8080 by default; 0 lets the OS pick.</value>
    public int ClientPort { get; set; } = 8080;

    /// <summary>The UDP port for gossip and the peer data plane.</summary>
    /// <value>7946 by default; 0 lets the OS pick.</value>
    public int ClusterPort { get; set; } = 7946;

    /// <summary>The client URL other nodes and <c>user.getFrontendServer</c> hand out.</summary>
    /// <value>Empty by default, meaning <c>http://{bindAddress}:{clientPort}</c>.</value>
    public string AdvertisedClientUrl { get; set; } = "";

    /// <summary>
    /// A standby joins gossip but owns no key and takes no client until a member has been dead for
    /// <see cref="ClusterSection.StandbyAfter"/>; then exactly one standby (the same choice on every node) stands in for it.
    /// </summary>
    /// <value>false by default.</value>
    public bool Standby { get; set; }

    /// <summary>
    /// A directory of this node's own (relative to the working directory) where it keeps what must outlive a restart:
    /// the cluster's config layer (<c>manager.setConfig</c>), in <c>cluster-config.json</c>.
    /// </summary>
    /// <value>
    /// Empty by default: nothing is kept; a restarted node takes the layer from its peers again, and a cluster
    /// restarted as a whole loses it.
    /// </value>
    public string StateDir { get; set; } = "";
}

/// <summary>The management port.</summary>
internal sealed class AdminSection
{
    /// <summary>The address the admin port binds to. Anything beyond loopback requires an API key (<see cref="ApiKey"/> or <see cref="ApiKeys"/>).</summary>
    /// <value><c>127.0.0.1</c> by default.</value>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>The port of the management API, UI, metrics and health checks.</summary>
    /// <value>8181 by default; 0 lets the OS pick.</value>
    public int Port { get; set; } = 8181;

    /// <summary>When set, every management call needs <c>Authorization: Bearer &lt;key&gt;</c>; one more key besides <see cref="ApiKeys"/>.</summary>
    /// <value>Empty by default (no key; only allowed on loopback).</value>
    public string ApiKey { get; set; } = "";

    /// <summary>
    /// Keys any of which a management call may carry, so that a key can be rotated without downtime: add the new
    /// one, move the backends over, remove the old one.
    /// </summary>
    /// <value>Empty by default.</value>
    public List<string> ApiKeys { get; set; } = [];

    /// <summary>
    /// Management calls per second each key may make (token bucket; a burst of one second's worth); calls on a node
    /// without keys share one budget per client address. 0 = unlimited.
    /// </summary>
    /// <value>0 by default: the key holders are trusted backends, and one of them may carry all of a busy site's publishes.</value>
    public int RequestsPerSecond { get; set; }

    /// <summary>Every key a call may carry: <see cref="ApiKey"/> (when set) and <see cref="ApiKeys"/>.</summary>
    public IEnumerable<string> AllApiKeys() => ApiKey.Length > 0 ? ApiKeys.Prepend(ApiKey) : ApiKeys;

    /// <summary>The admin URL other nodes and <c>manager.status</c> show for this node.</summary>
    /// <value>Empty by default, meaning <c>http://{bindAddress}:{port}</c>.</value>
    public string AdvertisedUrl { get; set; } = "";
}

/// <summary>How this node finds and talks to its peers.</summary>
internal sealed class ClusterSection
{
    /// <summary>host:port of cluster ports to join through; host names are resolved at start.</summary>
    /// <value>Empty by default: a cluster of one.</value>
    public List<string> Seeds { get; set; } = [];

    /// <summary>The IP address other nodes reach this node's cluster port at, when it differs from <c>node.bindAddress</c> (NAT, 0.0.0.0).</summary>
    /// <value>Empty by default, meaning <c>node.bindAddress</c>.</value>
    public string AdvertiseAddress { get; set; } = "";

    /// <summary>
    /// When set, every datagram and peer message is sealed with AES-GCM under a key derived from it; nodes without it cannot join.
    /// A new value is taken on a reload (a key rotation, with <see cref="PreviousSecret"/>); turning sealing on or off needs a restart.
    /// </summary>
    /// <value>Empty by default (no sealing; use it on any network you do not control).</value>
    public string Secret { get; set; } = "";

    /// <summary>
    /// A second secret still accepted during a key rotation; this node seals under <see cref="Secret"/> only.
    /// Rotation on live nodes: (1) every node gets previousSecret = new, (2) every node gets secret = new and
    /// previousSecret = old, (3) every node drops previousSecret. Each step reloads; the next starts once all nodes took it.
    /// </summary>
    /// <value>Empty by default (no rotation under way).</value>
    public string PreviousSecret { get; set; } = "";

    /// <summary>Points per node on the hash ring. Every node of a cluster must use the same value.</summary>
    /// <value>2000 by default.</value>
    public int VirtualNodes { get; set; } = 2000;

    /// <summary>How many distinct nodes hold each user, session and channel. Every node of a cluster must use the same value.</summary>
    /// <value>3 by default; a smaller cluster holds every key on all its nodes.</value>
    public int Replicas { get; set; } = 3;

    /// <summary>How many of a key's replicas, its owner included, must have a write before the call answers.</summary>
    /// <value>2 by default; at most <see cref="Replicas"/>.</value>
    public int WriteQuorum { get; set; } = 2;

    /// <summary>How long a call forwarded to another node may take before it answers 503 <c>unavailable</c>.</summary>
    /// <value>5 seconds by default.</value>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a publish may wait for its stream's owner: one whose owner stops answering waits for the failure
    /// detector to name a new owner and goes there, with the same publish id, before it answers 503.
    /// </summary>
    /// <value>10 seconds by default.</value>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Requests waiting for one peer's answers; one more fails at once with <c>unavailable</c>.</summary>
    /// <value>4096 by default.</value>
    public int MaxRequestsInFlightPerPeer { get; set; } = 4096;

    /// <summary>How many clients per second this node asks to reconnect (<c>moved</c>) after their owner changed.</summary>
    /// <value>200 by default.</value>
    public int MovedPerSecond { get; set; } = 200;

    /// <summary>
    /// How long a stopping node (SIGTERM, Ctrl+C) may take to hand its records to their other replicas, move its
    /// clients and gossip its departure; it exits then whatever is left. The gossip announcement comes last and
    /// takes at most the gossip library's own leave timeout (5 s) of what remains.
    /// </summary>
    /// <value>10 seconds by default.</value>
    public TimeSpan LeaveTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a member must have been dead before a standby node (<c>node.standby</c>) stands in for it.</summary>
    /// <value>30 seconds by default.</value>
    public TimeSpan StandbyAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often this node compares the records it shares with one other node (the next in turn) and exchanges those that differ.</summary>
    /// <value>10 seconds by default.</value>
    public TimeSpan AntiEntropyInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The bytes of records per second the anti-entropy rounds this node starts may carry, both ways together.</summary>
    /// <value>1 MiB (1048576) by default.</value>
    public int AntiEntropyBytesPerSecond { get; set; } = 1024 * 1024;

    /// <summary>SWIM timings: the gossip library's own options class, so that its defaults are the node's.</summary>
    /// <value>memberlist's LAN profile by default (see <see cref="SwimOptions"/>).</value>
    public SwimOptions Swim { get; set; } = new();
}

/// <summary>Limits and timeouts of client sessions and messages (socket-push's <c>options</c>).</summary>
internal sealed class ClientOptions
{
    /// <summary>How long a connection may stay open without authenticating.</summary>
    /// <value>10 seconds by default.</value>
    public TimeSpan AuthenticationTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long after a user's last connection closes the user is unsubscribed from all channels.</summary>
    /// <value>60 seconds by default; 0 disables the cleanup.</value>
    public TimeSpan RemoveUserAfterDisconnectTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The largest message accepted by publish, in bytes of its JSON text.</summary>
    /// <value>65536 by default.</value>
    public int MaxMessageBytes { get; set; } = 65536;

    /// <summary>Messages queued for one slow connection, of any transport, before it is closed.</summary>
    /// <value>1024 by default.</value>
    public int MaxQueuedMessagesPerConnection { get; set; } = 1024;

    /// <summary>
    /// SO_SNDBUF of each client connection's socket, set when it opens; 0 leaves the kernel's autotuning (up to
    /// net.ipv4.tcp_wmem's maximum, 4 MB by default), which lets a client that stops reading hold that much kernel memory.
    /// </summary>
    /// <value>0 by default.</value>
    public int SocketSendBufferBytes { get; set; }

    /// <summary>Connections one user may have open on this node, over all transports; one more is refused. 0 = unlimited.</summary>
    /// <value>100 by default: far more than anyone's tabs and devices, few enough that one user cannot take a node's memory.</value>
    public int MaxConnectionsPerUser { get; set; } = 100;

    /// <summary>Channels one user may be subscribed to; channel.subscribe to one more answers <c>limit_exceeded</c>. 0 = unlimited.</summary>
    /// <value>1000 by default.</value>
    public int MaxSubscriptionsPerUser { get; set; } = 1000;

    /// <summary>Authenticated connections this node holds over all transports; one more is refused with 503. 0 = unlimited.</summary>
    /// <value>100000 by default (about 0.5 GB of connection state at the measured 5 KB each).</value>
    public int MaxConnections { get; set; } = 100_000;

    /// <summary>Origins of pages allowed to connect to the client port from another site (CORS), e.g. <c>https://example.com</c>.</summary>
    /// <value>Empty by default, meaning any origin: clients prove who they are with their session, not with cookies.</value>
    public List<string> AllowedOrigins { get; set; } = [];

    /// <summary>How often an idle SSE stream gets a comment line, so proxies keep it open.</summary>
    /// <value>15 seconds by default.</value>
    public TimeSpan SseKeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How often the hub pings a client it has sent nothing else to; SignalR clients give up after 30 s of silence.</summary>
    /// <value>15 seconds by default.</value>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a hub client may stay silent (SignalR clients ping every 15 s; long polling counts polls) before the server closes it.</summary>
    /// <value>30 seconds by default.</value>
    public TimeSpan ClientTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>HTTPS on the client and admin ports (Kestrel), from a certificate file.</summary>
internal sealed class TlsSection
{
    /// <summary>A PEM certificate (its chain after it) or a PKCS#12 file (<c>.pfx</c>, <c>.p12</c>); read again when the file changes.</summary>
    /// <value>Empty by default: both ports speak plain HTTP.</value>
    public string Certificate { get; set; } = "";

    /// <summary>The PEM private key of <see cref="Certificate"/>, when it is not in the certificate file itself.</summary>
    /// <value>Empty by default.</value>
    public string Key { get; set; } = "";

    /// <summary>The password of a PKCS#12 file or of an encrypted PEM key.</summary>
    /// <value>Empty by default.</value>
    public string Password { get; set; } = "";

    /// <summary>Whether the client port (pages, hub, SSE) speaks HTTPS when a certificate is set.</summary>
    /// <value>True by default.</value>
    public bool Client { get; set; } = true;

    /// <summary>Whether the admin port (management API, UI, metrics, health) speaks HTTPS when a certificate is set.</summary>
    /// <value>True by default.</value>
    public bool Admin { get; set; } = true;

    /// <summary>Whether the client port speaks HTTPS.</summary>
    public bool OnClientPort() => Certificate.Length > 0 && Client;

    /// <summary>Whether the admin port speaks HTTPS.</summary>
    public bool OnAdminPort() => Certificate.Length > 0 && Admin;
}

/// <summary>Log output.</summary>
internal sealed class LoggingSection
{
    /// <summary>The minimum level written: Trace, Debug, Information, Warning, Error, Critical or None.</summary>
    /// <value><c>Information</c> by default.</value>
    public string Level { get; set; } = "Information";
}

/// <summary>
/// Which streams keep their messages, so that clients recover what they missed: a rule per prefix of channel ids
/// and of user ids. The longest matching prefix wins; a stream no rule matches (or whose rule has size 0) keeps nothing.
/// </summary>
internal sealed class HistorySection
{
    /// <summary>What every stream's history may take on this node, in bytes; beyond it the oldest messages are evicted first.</summary>
    /// <value>256 MiB by default; 0 keeps no history at all.</value>
    public long MaxBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Rules for channel streams, by channelId prefix.</summary>
    /// <value>Every channel keeps 100 messages for 2 minutes by default.</value>
    public List<HistoryRule> Channels { get; set; } = [new()];

    /// <summary>Rules for user streams (user.publish), by userId prefix.</summary>
    /// <value>Every user keeps 100 messages for 2 minutes by default.</value>
    public List<HistoryRule> Users { get; set; } = [new()];

    /// <summary>The rule for an id: the longest prefix that matches it, or null when none does.</summary>
    public static HistoryRule? RuleFor(IReadOnlyList<HistoryRule> rules, string id)
    {
        HistoryRule? best = null;
        foreach (var rule in rules)
        {
            if (rule.Matches(id) && (best is null || rule.Prefix.Length > best.Prefix.Length))
            {
                best = rule;
            }
        }

        return best;
    }
}

/// <summary>One history rule: which ids it covers, how many messages and for how long their streams keep them.</summary>
internal sealed class HistoryRule
{
    /// <summary>A prefix ending in <c>*</c> (<c>news/*</c>), or <c>*</c> for every id.</summary>
    public string Match { get; set; } = "*";

    /// <summary>Messages kept per stream; 0 keeps none.</summary>
    public int Size { get; set; } = 100;

    /// <summary>How long a message is kept.</summary>
    public TimeSpan Age { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The match without its <c>*</c>.</summary>
    internal string Prefix => Match.EndsWith('*') ? Match[..^1] : Match;

    internal bool Matches(string id) => id.StartsWith(Prefix, StringComparison.Ordinal);

    public override string ToString() => $"{{match: {Match}, size: {Size.ToString(System.Globalization.CultureInfo.InvariantCulture)}, age: {ConfigKeys.FormatDuration(Age)}}}";
}
