using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Configuration;
using SocketPush.Node.Edge;

namespace SocketPush.Node.Tests.History;

/// <summary>
/// Three nodes whose streams keep 100 messages, except those of users and channels named <c>small-*</c>, which keep
/// 3: a client away for more than three of their messages is told its recovery was incomplete.
/// </summary>
public sealed class HistorySizesClusterFixture : ThreeNodeClusterFixture
{
    /// <summary>Messages a <c>small-*</c> stream keeps.</summary>
    public const int SmallSize = 3;

    /// <summary>Messages every other stream keeps: more than any case publishes to one stream.</summary>
    public const int Size = 100;

    private protected override void Configure(NodeConfig config)
    {
        config.History.Channels = [new HistoryRule { Match = "*", Size = Size }, new HistoryRule { Match = "small-*", Size = SmallSize }];
        config.History.Users = [new HistoryRule { Match = "*", Size = Size }, new HistoryRule { Match = "small-*", Size = SmallSize }];
    }
}

/// <summary>
/// The cluster form of <see cref="RecoveryProperties"/>: random interleavings of publishes (through the management API
/// of any node, some with a publish id and retried with it), disconnects, reconnects through any node (the official
/// SignalR client, <c>Recover</c> with the positions it kept) and waits until the clients are quiet, over one real
/// three-node cluster shared by every case (each case has ids of its own). At the end every client connects and one
/// more message goes to every stream. Then, per client and stream, what it received is the published sequence
/// (acknowledged, a retry of a held publish id not twice) from its first position on: every message once, in
/// order, without a gap, the message at each position the same for every client, except where a <c>streams</c>
/// report said <c>recovered: false</c> or the epoch changed (the stream goes on from there), and it ends at the last
/// message. The CI form checks <see cref="CiCases"/> scenarios; <c>SOCKETPUSH_FUZZ_SECONDS</c> runs batches of them
/// for longer (README "Fuzzing"). A failure prints the shrunk scenario.
/// </summary>
[Collection(FuzzCollection.Name)]
[Trait("Category", "Fuzz")]
public sealed class ClusterRecoveryProperties(HistorySizesClusterFixture fixture) : IClassFixture<HistorySizesClusterFixture>
{
    /// <summary>Scenarios per CI run: a third of a second each, on 2 cores.</summary>
    private const int CiCases = 40;

    /// <summary>How long "wait until quiet" waits for the clients before the next step goes on anyway.</summary>
    private static readonly TimeSpan QuietFor = TimeSpan.FromSeconds(5);

    private static int _cases;
    private static int _incomplete;
    private static int _recovered;

    private TestCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Every_client_receives_every_stream_as_published_through_any_node_except_after_a_reset_it_was_told_of()
    {
        // FsCheck runs a property synchronously; off xunit's synchronization context the blocking wait cannot deadlock.
        await Task.Run(() => Fuzz.Batches("history: recovery across a cluster", CiCases, n => Check.One(
            Config.QuickThrowOnFailure.WithMaxTest(n).WithQuietOnSuccess(true),
            Prop.ForAll(Arb.From(Scenarios, Shrink), (ClusterScenario scenario) => RunAsync(scenario).GetAwaiter().GetResult()))));

        // What the property claims to have covered: recoveries that sent what was missed, and ones that could not.
        Assert.True(_recovered > 0, "no message was recovered");
        Assert.True(_incomplete > 0, "no recovery was incomplete");
    }

    /// <summary>What one step does.</summary>
    private enum OpKind
    {
        /// <summary>Publishes to stream <c>A</c> through node <c>Node</c>, with a publish id when <c>B</c> is 1.</summary>
        Publish,

        /// <summary>Publishes <c>B</c> messages to stream <c>A</c> through node <c>Node</c>, one after the other, without ids.</summary>
        Burst,

        /// <summary>Publishes again, through node <c>Node</c>, with the id of the publish <c>B</c> back among stream <c>A</c>'s with an id.</summary>
        Retry,

        /// <summary>Client <c>A</c> closes its connection (if it has one).</summary>
        Disconnect,

        /// <summary>Client <c>A</c> closes its connection (if it has one) and connects through node <c>Node</c>, recovering.</summary>
        Reconnect,

        /// <summary>Waits until every connected client has what was published to its streams since it connected.</summary>
        Quiet,
    }

    private sealed record Op(OpKind Kind, int A, int B, int Node)
    {
        public override string ToString() => Kind switch
        {
            OpKind.Publish => $"Publish(s{A}{(B == 1 ? ", id" : "")}) on n{Node + 1}",
            OpKind.Burst => $"Burst(s{A}, {B}) on n{Node + 1}",
            OpKind.Retry => $"Retry(s{A}, {B} back) on n{Node + 1}",
            OpKind.Reconnect => $"Reconnect(c{A}) on n{Node + 1}",
            OpKind.Quiet => "Quiet",
            _ => $"{Kind}(c{A})",
        };
    }

    /// <summary>
    /// One case: users and channels (each small or not), which channels each user is subscribed to, clients (their
    /// user and the node each first connects through) and the steps. Streams s0.. are the users', then the channels'.
    /// </summary>
    private sealed record ClusterScenario(
        ImmutableArray<bool> SmallUsers,
        ImmutableArray<bool> SmallChannels,
        ImmutableArray<ImmutableArray<bool>> Subscribed,
        ImmutableArray<(int User, int Node)> Clients,
        ImmutableArray<Op> Ops)
    {
        public int Streams => SmallUsers.Length + SmallChannels.Length;

        public override string ToString()
        {
            static string Sizes(ImmutableArray<bool> small) => string.Join(", ", small.Select(s => s ? "small" : "big"));
            var subscribed = Subscribed.Select((channels, u) => $"u{u}: [{string.Join(", ", channels.Select((s, c) => s ? $"ch{c}" : null).OfType<string>())}]");
            return $"users [{Sizes(SmallUsers)}], channels [{Sizes(SmallChannels)}] (streams: users' then channels'), subscribed {string.Join(", ", subscribed)}, "
                + $"clients [{string.Join(", ", Clients.Select(c => $"u{c.User} on n{c.Node + 1}"))}]; ops: {string.Join("; ", Ops)}";
        }
    }

    /// <summary>Whether a stream keeps only <see cref="HistorySizesClusterFixture.SmallSize"/> messages: more often than not, so that recoveries are incomplete.</summary>
    private static Gen<bool> Small { get; } = Gen.Frequency((2, Gen.Constant(false)), (3, Gen.Constant(true)));

    private static Gen<ClusterScenario> Scenarios { get; } =
        from users in Gen.Choose(1, 2)
        from smallUsers in Gen.ArrayOf(Small, users)
        from channels in Gen.Choose(1, 3)
        from smallChannels in Gen.ArrayOf(Small, channels)
        from subscribed in Gen.ArrayOf(Gen.ArrayOf(Gen.Frequency((3, Gen.Constant(true)), (1, Gen.Constant(false))), channels), users)
        from clientCount in Gen.Choose(1, 3)
        from clients in Gen.ArrayOf(from user in Gen.Choose(0, users - 1) from node in Gen.Choose(0, 2) select (user, node), clientCount)
        from length in Gen.Choose(1, 40)
        from ops in Gen.ArrayOf(OpOf(users + channels, clientCount), length)
        select new ClusterScenario([.. smallUsers], [.. smallChannels], [.. subscribed.Select(s => s.ToImmutableArray())], [.. clients], [.. ops]);

    private static Gen<Op> OpOf(int streams, int clients) => Gen.Frequency(
        (10, from stream in Gen.Choose(0, streams - 1) from id in Gen.Choose(0, 1) from node in Gen.Choose(0, 2) select new Op(OpKind.Publish, stream, id, node)),
        (2, from stream in Gen.Choose(0, streams - 1) from count in Gen.Choose(2, 6) from node in Gen.Choose(0, 2) select new Op(OpKind.Burst, stream, count, node)),
        (2, from stream in Gen.Choose(0, streams - 1) from back in Gen.Choose(0, 4) from node in Gen.Choose(0, 2) select new Op(OpKind.Retry, stream, back, node)),
        (3, from client in Gen.Choose(0, clients - 1) select new Op(OpKind.Disconnect, client, 0, 0)),
        (4, from client in Gen.Choose(0, clients - 1) from node in Gen.Choose(0, 2) select new Op(OpKind.Reconnect, client, 0, node)),
        (1, Gen.Constant(new Op(OpKind.Quiet, 0, 0, 0))));

    /// <summary>Every scenario with one step fewer: each step is valid anywhere, so any subsequence replays.</summary>
    private static IEnumerable<ClusterScenario> Shrink(ClusterScenario scenario) =>
        Enumerable.Range(0, scenario.Ops.Length).Select(i => scenario with { Ops = scenario.Ops.RemoveAt(i) });

    /// <summary>One stream of a case and what was published to it: each appended message's n and publish id.</summary>
    private sealed class Stream(string? userId, string? channelId, int size)
    {
        public string? UserId { get; } = userId;

        public string? ChannelId { get; } = channelId;

        public int Size { get; } = size;

        public List<(int N, string? Id)> Appended { get; } = [];

        /// <summary>The ids it was published with, oldest first (again when a retry appended one again).</summary>
        public List<string> Ids { get; } = [];

        /// <summary>Index in <see cref="Appended"/> of each n appended.</summary>
        public Dictionary<int, int> IndexOf { get; } = [];

        /// <summary>The stream's name in a client of <paramref name="userId"/>: its channel, or "" for the user's own.</summary>
        public string NameFor(string userId) => ChannelId ?? (UserId == userId ? "" : throw new InvalidOperationException("another user's stream"));

        public void Append(int n, string? id)
        {
            IndexOf[n] = Appended.Count;
            Appended.Add((n, id));
        }

        /// <summary>Whether the stream holds <paramref name="id"/>: it is among the last <see cref="Size"/> messages appended.</summary>
        public bool Holds(string id) => Appended.TakeLast(Size).Any(m => m.Id == id);

        public override string ToString() => ChannelId is null ? $"user {UserId}" : $"channel {ChannelId}";
    }

    private async Task RunAsync(ClusterScenario scenario)
    {
        var prefix = $"cr{Interlocked.Increment(ref _cases)}-";
        var users = scenario.SmallUsers.Select((small, i) => $"{(small ? "small-" : "")}{prefix}u{i}").ToList();
        var streams = users.Select((user, i) => new Stream(user, null, Sizes(scenario.SmallUsers[i])))
            .Concat(scenario.SmallChannels.Select((small, i) => new Stream(null, $"{(small ? "small-" : "")}{prefix}c{i}", Sizes(small))))
            .ToList();
        for (var u = 0; u < users.Count; u++)
        {
            var node = Cluster[u % 3];
            await node.CallAsync("auth", "set", new { userId = users[u], sessionId = SessionOf(users[u]) });
            for (var c = 0; c < scenario.SmallChannels.Length; c++)
            {
                if (scenario.Subscribed[u][c])
                {
                    await node.CallAsync("channel", "subscribe", new { userId = users[u], channelId = streams[users.Count + c].ChannelId });
                }
            }
        }

        // A client's streams: its user's own and the channels the user is subscribed to.
        var clients = scenario.Clients.Select(c => new RecoveringClient(
            users[c.User],
            [streams[c.User], .. Enumerable.Range(0, scenario.SmallChannels.Length).Where(ch => scenario.Subscribed[c.User][ch]).Select(ch => streams[users.Count + ch])]))
            .ToList();
        try
        {
            for (var i = 0; i < clients.Count; i++)
            {
                await clients[i].ConnectAsync(Cluster[scenario.Clients[i].Node]);
            }

            var n = 0;
            foreach (var op in scenario.Ops)
            {
                switch (op.Kind)
                {
                    case OpKind.Publish:
                        n++;
                        var id = op.B == 1 ? $"p{n}" : null;
                        await PublishAsync(Cluster[op.Node], streams[op.A], n, id);
                        streams[op.A].Append(n, id);
                        if (id is not null)
                        {
                            streams[op.A].Ids.Add(id);
                        }

                        break;
                    case OpKind.Burst:
                        for (var i = 0; i < op.B; i++)
                        {
                            await PublishAsync(Cluster[op.Node], streams[op.A], ++n, null);
                            streams[op.A].Append(n, null);
                        }

                        break;
                    case OpKind.Retry when streams[op.A].Ids is { Count: > 0 } ids:
                        // A retry carries a new n: if the stream no longer holds the id, it is a new message, told
                        // apart from the first.
                        var retried = ids[Math.Max(0, ids.Count - 1 - op.B)];
                        var held = streams[op.A].Holds(retried);
                        var reached = await PublishAsync(Cluster[op.Node], streams[op.A], ++n, retried);
                        if (held)
                        {
                            Assert.True(reached == 0, $"{op}: the retry of {retried}, which {streams[op.A]} holds, reached {reached} connection(s)");
                        }
                        else
                        {
                            streams[op.A].Append(n, retried);
                            ids.Add(retried);
                        }

                        break;
                    case OpKind.Disconnect:
                        await clients[op.A].DisconnectAsync();
                        break;
                    case OpKind.Reconnect:
                        await clients[op.A].DisconnectAsync();
                        await clients[op.A].ConnectAsync(Cluster[op.Node]);
                        break;
                    case OpKind.Quiet:
                        await QuietAsync(clients);
                        break;
                }
            }

            // The end: every client connected (and recovered), then one more message per stream, which each of them
            // must receive.
            for (var i = 0; i < clients.Count; i++)
            {
                if (!clients[i].Connected)
                {
                    await clients[i].ConnectAsync(Cluster[scenario.Clients[i].Node]);
                }
            }

            for (var s = 0; s < streams.Count; s++)
            {
                await PublishAsync(Cluster[s % 3], streams[s], ++n, null);
                streams[s].Append(n, null);
            }

            await QuietAsync(clients);
            CheckSamePositions(clients, streams);
            for (var i = 0; i < clients.Count; i++)
            {
                clients[i].Check($"client c{i} (user {clients[i].UserId})");
                var (incomplete, recovered) = clients[i].Recoveries();
                Interlocked.Add(ref _incomplete, incomplete);
                Interlocked.Add(ref _recovered, recovered);
            }
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisconnectAsync();
            }
        }
    }

    /// <summary>A session id names one user: each user has its own.</summary>
    private static string SessionOf(string userId) => "s-" + userId;

    private static int Sizes(bool small) => small ? HistorySizesClusterFixture.SmallSize : HistorySizesClusterFixture.Size;

    private static async Task<int> PublishAsync(TestNode node, Stream stream, int n, string? publishId)
    {
        var result = stream.ChannelId is { } channelId
            ? await node.CallAsync("channel", "publish", new { channelId, message = new { n }, publishId })
            : await node.CallAsync("user", "publish", new { userId = stream.UserId, message = new { n }, publishId });
        return result.GetInt32();
    }

    /// <summary>
    /// Waits until every connected client has the last message of each of its streams published since it connected;
    /// one that does not within <see cref="QuietFor"/> is left to the checks (which then say what it missed).
    /// </summary>
    private static async Task QuietAsync(List<RecoveringClient> clients)
    {
        try
        {
            await Eventually.TrueAsync(() => clients.All(c => c.IsQuiet), "every connected client has what was published since it connected", QuietFor);
        }
        catch (TimeoutException)
        {
        }
    }

    /// <summary>Across clients, each position of a stream carries one message, and an epoch's offsets follow the publishes' order.</summary>
    private static void CheckSamePositions(List<RecoveringClient> clients, List<Stream> streams)
    {
        foreach (var stream in streams)
        {
            var at = new Dictionary<StreamPosition, int>();
            var shift = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var client in clients.Where(c => c.Streams.Contains(stream)))
            {
                foreach (var (position, n) in client.MessagesOf(stream))
                {
                    Assert.True(at.TryAdd(position, n) || at[position] == n, $"{stream}: {position} carried n={n} to user {client.UserId}, n={at.GetValueOrDefault(position)} to another client");
                    if (stream.IndexOf.TryGetValue(n, out var index))
                    {
                        var offsetOfFirst = position.Offset - index;
                        Assert.True(shift.TryAdd(position.Epoch, offsetOfFirst) || shift[position.Epoch] == offsetOfFirst,
                            $"{stream}: {position} carried n={n}, the publish #{index} of the stream, not in the order of the epoch's other messages");
                    }
                }
            }
        }
    }

    /// <summary>What a client saw of a stream: a message (n), or the stream's item of a <c>streams</c> report.</summary>
    private sealed record Seen(int Connection, StreamPosition Position, int? N, bool? Recovered, bool Named)
    {
        public override string ToString() => N is { } n
            ? $"  conn {Connection}: {Position} n={n}"
            : $"  conn {Connection}: report {Position} recovered={Recovered?.ToString() ?? "unsaid"}{(Named ? "" : " (not in the token)")}";
    }

    /// <summary>
    /// One client as an app keeps its streams with the official client: it connects to the node it is given (without
    /// negotiate, so that it stays there), authenticates with <c>Recover</c> and the token of its positions, and
    /// takes each stream's position from its messages and, for a stream it has no message of on the connection, from
    /// a report that does not say recovered: true.
    /// </summary>
    private sealed class RecoveringClient(string userId, IReadOnlyList<Stream> streams)
    {
        private readonly Lock _gate = new();
        private readonly Dictionary<string, StreamPosition> _positions = new(StringComparer.Ordinal);
        private readonly Dictionary<string, List<Seen>> _seen = streams.ToDictionary(s => s.NameFor(userId), _ => new List<Seen>(), StringComparer.Ordinal);
        private readonly List<string> _strays = [];
        private readonly HashSet<(string Stream, int N)> _received = [];
        private readonly Dictionary<Stream, int> _publishedAtConnect = [];
        private HubConnection? _hub;
        private int _connection;
        private IReadOnlySet<string> _named = new HashSet<string>();

        public string UserId { get; } = userId;

        public IReadOnlyList<Stream> Streams { get; } = streams;

        public bool Connected => _hub is not null;

        /// <summary>Not connected, or each stream's last message published since the connection is here.</summary>
        public bool IsQuiet
        {
            get
            {
                lock (_gate)
                {
                    return _hub is null || Streams.All(s => s.Appended.Count == _publishedAtConnect[s] || _received.Contains((s.NameFor(UserId), s.Appended[^1].N)));
                }
            }
        }

        public async Task ConnectAsync(TestNode node)
        {
            using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
            var number = ++_connection;
            var hub = node.Hub(null, null, HttpTransportType.WebSockets, skipNegotiation: true);
            hub.On<JsonElement>("message", message => OnMessage(number, message));
            hub.On<JsonElement>(StreamRecovery.StreamsEvent, report => OnReport(number, report));
            _hub = hub;
            await hub.StartAsync(timeout.Token);
            string token;
            lock (_gate)
            {
                token = Positions.Token(_positions);
                _named = _positions.Keys.ToHashSet(StringComparer.Ordinal);
                foreach (var stream in Streams)
                {
                    _publishedAtConnect[stream] = stream.Appended.Count;
                }
            }

            await hub.InvokeAsync<JsonElement>("Recover", UserId, SessionOf(UserId), token, timeout.Token);
        }

        public async Task DisconnectAsync()
        {
            if (_hub is { } hub)
            {
                _hub = null;
                await hub.DisposeAsync();
            }
        }

        /// <summary>Every message of <paramref name="stream"/> it received: position and n.</summary>
        public IEnumerable<(StreamPosition Position, int N)> MessagesOf(Stream stream)
        {
            lock (_gate)
            {
                return [.. _seen[stream.NameFor(UserId)].Where(s => s.N is not null).Select(s => (s.Position, s.N!.Value))];
            }
        }

        private void OnMessage(int connection, JsonElement message)
        {
            lock (_gate)
            {
                var stream = Positions.StreamOf(message);
                if (!_seen.TryGetValue(stream, out var seen) || !message.TryGetProperty("epoch", out _))
                {
                    _strays.Add($"conn {connection}: {message}");
                    return;
                }

                var n = message.GetProperty("data").GetProperty("n").GetInt32();
                seen.Add(new Seen(connection, Positions.Of(message), n, null, true));
                _positions[stream] = Positions.Of(message);
                _received.Add((stream, n));
            }
        }

        private void OnReport(int connection, JsonElement report)
        {
            lock (_gate)
            {
                var recovered = Positions.RecoveredOf(report);
                foreach (var (stream, position) in Positions.OfReport(report))
                {
                    if (!_seen.TryGetValue(stream, out var seen))
                    {
                        _strays.Add($"conn {connection}: a report of '{stream}': {report}");
                        continue;
                    }

                    seen.Add(new Seen(connection, position, null, recovered[stream], _named.Contains(stream)));
                    if (recovered[stream] != true && !seen.Any(s => s.Connection == connection && s.N is not null))
                    {
                        _positions[stream] = position;
                    }
                }
            }
        }

        /// <summary>How many reports said recovered: false, and how many messages came before a report that said true (recovered ones).</summary>
        public (int Incomplete, int Recovered) Recoveries()
        {
            lock (_gate)
            {
                return (
                    _seen.Values.Sum(seen => seen.Count(s => s.Recovered == false)),
                    _seen.Values.Sum(seen => seen.Count(s => s.N is not null
                        && seen.Skip(seen.IndexOf(s)).FirstOrDefault(r => r.N is null && r.Connection == s.Connection) is { Recovered: true })));
            }
        }

        /// <summary>Checks what it received of each stream against what was published.</summary>
        public void Check(string name)
        {
            lock (_gate)
            {
                Assert.True(_strays.Count == 0, $"{name} received what is none of its streams' messages:\n{string.Join("\n", _strays)}");
                foreach (var stream in Streams)
                {
                    var seen = _seen[stream.NameFor(UserId)];
                    var problem = Problem(stream, seen);
                    if (problem is not null)
                    {
                        var text = new StringBuilder($"{name}, {stream}: {problem}.\nPublished (n, id): ")
                            .AppendJoin(", ", stream.Appended.Select(m => m.Id is null ? $"{m.N}" : $"{m.N} {m.Id}"))
                            .Append("\nWhat it saw of the stream:\n")
                            .AppendJoin("\n", seen);
                        Assert.Fail(text.ToString());
                    }
                }
            }
        }

        /// <summary>
        /// The client's walk along one stream: where it stands (its last message, or where a report that said
        /// recovered: false put it), and each next message the next of the epoch and the next publish, unless the
        /// stream was reset (told, or a new epoch at its offset 1).
        /// </summary>
        private static string? Problem(Stream stream, List<Seen> seen)
        {
            StreamPosition? at = null;
            // Where a report of a stream the client had no position in put it: messages at or before that place may
            // still reach the same connection (it registered before the report read the stream), so it binds the
            // connection only to go on no further than the next offset, and a later connection fully.
            (StreamPosition Position, int Connection)? start = null;
            int? last = null;
            string? lastEpoch = null;
            var reset = false;
            var highest = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var s in seen)
            {
                if (s.N is not { } n)
                {
                    switch (s.Recovered)
                    {
                        case false:
                            at = s.Position;
                            reset = true;
                            break;
                        case true when (at ?? start?.Position) is not { } was || was.Epoch != s.Position.Epoch || was.Offset < s.Position.Offset:
                            return $"its recovery on connection {s.Connection} said recovered: true at {s.Position}, but the client was at {(at ?? start?.Position)?.ToString() ?? "nothing"} after the recovered messages";
                        case null when s.Named:
                            return $"the report on connection {s.Connection} does not say whether the position the client gave was recovered";
                        case null when at is null:
                            start = (s.Position, s.Connection);
                            break;
                    }

                    continue;
                }

                var position = s.Position;
                if (!stream.IndexOf.TryGetValue(n, out var index))
                {
                    return $"{position} carries n={n}, which the stream did not append (a retry of an id it held, or no publish of this stream)";
                }

                if (highest.TryGetValue(position.Epoch, out var high) && position.Offset <= high)
                {
                    return $"{position} came again or out of order (the client had {position.Epoch}.{high} already)";
                }

                var newEpoch = position.Offset == 1;
                if (at is { } before)
                {
                    if (position != before with { Offset = before.Offset + 1 } && !(position.Epoch != before.Epoch && newEpoch))
                    {
                        return $"after {before} came {position}" + (reset ? " (a reset)" : "");
                    }
                }
                else if (start is { } from)
                {
                    var next = from.Position with { Offset = from.Position.Offset + 1 };
                    var fine = position.Epoch != from.Position.Epoch ? newEpoch
                        : from.Connection == s.Connection ? position.Offset <= next.Offset : position == next;
                    if (!fine)
                    {
                        return $"its first message came at {position} on connection {s.Connection}, but the report on connection {from.Connection} had put it at {from.Position}";
                    }
                }

                if (last is { } previous && (index <= previous || (index != previous + 1 && !reset && position.Epoch == lastEpoch)))
                {
                    return $"n={n} (publish #{index}) came after publish #{previous}" + (reset ? " (a reset)" : "");
                }

                highest[position.Epoch] = position.Offset;
                at = position;
                last = index;
                lastEpoch = position.Epoch;
                reset = false;
                start = null;
            }

            return last == stream.Appended.Count - 1
                ? null
                : $"it ended at {(last is { } l ? $"publish #{l} (n={stream.Appended[l].N})" : "no message")}, not at the last one, #{stream.Appended.Count - 1} (n={stream.Appended[^1].N})";
        }
    }
}
