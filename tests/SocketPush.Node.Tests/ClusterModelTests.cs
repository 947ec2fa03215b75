using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.FSharp.Core;
using SocketPush.Node.Edge;

namespace SocketPush.Node.Tests;

public enum ModelOpKind
{
    AuthSet,
    AuthRemove,
    Subscribe,
    Unsubscribe,
    UnsubscribeAll,
    UserRemove,
    UserPublish,
    ChannelPublish,

    /// <summary>A SignalR client of the user connects to the node (and follows the redirect to the owner).</summary>
    Connect,

    /// <summary>One SignalR client of the user stops.</summary>
    Disconnect,
}

/// <summary>One call: sent to node <c>Node</c>, then the read methods are asked on node <c>ReadNode</c>.</summary>
public sealed record ModelOp(ModelOpKind Kind, int Node, int ReadNode, int User, int Other)
{
    public override string ToString() => $"{Kind}(u{User}, {Other}) on n{Node + 1}, read on n{ReadNode + 1}";
}

/// <summary>
/// Model-based test of the cluster: random sequences of management calls, each sent to a random node of one real
/// three-node cluster, must leave every node answering every read method as a one-node model of the service
/// semantics (README "The management API" and "Cluster") does. Writes are acknowledged after the owner (and the
/// owners of the other keys they touch) applied them, so reads agree at once; only the SignalR clients' own opening
/// and closing is awaited, as the node registers a connection after the client's start returns and drops it after
/// user.remove returns.
/// <para>
/// Each case has its own id prefix, so the cases share the cluster without seeing each other. 40 cases of up to 15
/// calls by default, from a fixed seed; <c>SOCKETPUSH_MODEL_RUNS=500</c> runs more cases from a random seed, and
/// <c>SOCKETPUSH_MODEL_SEED=seed,gamma</c> replays the seed a failure printed ("Original seed").
/// </para>
/// </summary>
public sealed class ClusterModelTests(ThreeNodeClusterFixture fixture) : IClassFixture<ThreeNodeClusterFixture>
{
    private const int Users = 4;
    private const int Sessions = 4;
    private const int Channels = 3;
    private const int MaxConnectionsPerUser = 2;

    private static readonly (ulong Seed, ulong Gamma) DefaultSeed = (20260101, 2654435769);

    private static int _cases;

    private TestCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Every_node_answers_like_a_single_node_model_after_every_call()
    {
        var runs = int.TryParse(Environment.GetEnvironmentVariable("SOCKETPUSH_MODEL_RUNS"), CultureInfo.InvariantCulture, out var n) ? n : 40;
        var config = Config.QuickThrowOnFailure.WithMaxTest(runs).WithQuietOnSuccess(true);
        if (Seed() is { } seed)
        {
            config = config.WithReplay(FSharpOption<Replay>.Some(new Replay(new Rnd(seed.Seed, seed.Gamma), FSharpOption<int>.None)));
        }

        var property = Prop.ForAll(Arb.From(Sequences, Shrink), (ImmutableArray<ModelOp> ops) => RunCaseAsync(ops).GetAwaiter().GetResult());
        // FsCheck runs a property synchronously; off xunit's synchronization context the blocking wait cannot deadlock.
        await Task.Run(() => Check.One(config, property));
    }

    private static (ulong Seed, ulong Gamma)? Seed()
    {
        var text = Environment.GetEnvironmentVariable("SOCKETPUSH_MODEL_SEED");
        if (string.IsNullOrWhiteSpace(text))
        {
            return Environment.GetEnvironmentVariable("SOCKETPUSH_MODEL_RUNS") is null ? DefaultSeed : null;
        }

        var parts = text.Trim('(', ')', ' ').Split(',');
        return (ulong.Parse(parts[0], CultureInfo.InvariantCulture), ulong.Parse(parts[1], CultureInfo.InvariantCulture));
    }

    private static Gen<ModelOp> Op { get; } =
        from kind in Gen.Frequency(
            (5, Gen.Constant(ModelOpKind.AuthSet)),
            (2, Gen.Constant(ModelOpKind.AuthRemove)),
            (6, Gen.Constant(ModelOpKind.Subscribe)),
            (2, Gen.Constant(ModelOpKind.Unsubscribe)),
            (1, Gen.Constant(ModelOpKind.UnsubscribeAll)),
            (1, Gen.Constant(ModelOpKind.UserRemove)),
            (2, Gen.Constant(ModelOpKind.UserPublish)),
            (2, Gen.Constant(ModelOpKind.ChannelPublish)),
            (2, Gen.Constant(ModelOpKind.Connect)),
            (1, Gen.Constant(ModelOpKind.Disconnect)))
        from node in Gen.Choose(0, 2)
        from readNode in Gen.Choose(0, 2)
        from user in Gen.Choose(0, Users - 1)
        from other in Gen.Choose(0, Math.Max(Sessions, Channels) - 1)
        select new ModelOp(kind, node, readNode, user, kind == ModelOpKind.AuthSet ? other : other % Channels);

    private static Gen<ImmutableArray<ModelOp>> Sequences { get; } =
        Gen.Choose(1, 15).SelectMany(length => Gen.ArrayOf(Op, length)).Select(ops => ops.ToImmutableArray());

    private static IEnumerable<ImmutableArray<ModelOp>> Shrink(ImmutableArray<ModelOp> ops) =>
        Enumerable.Range(0, ops.Length).Select(ops.RemoveAt);

    private async Task RunCaseAsync(ImmutableArray<ModelOp> ops)
    {
        var ids = new CaseIds($"m{Interlocked.Increment(ref _cases)}-");
        var model = new ServiceModel();
        var hubs = new Hubs();
        try
        {
            foreach (var op in ops)
            {
                await ApplyAsync(op, ids, model, hubs);
                await AssertReadsAsync(Cluster.Nodes[op.ReadNode], ids, model, $"after {op}");
            }

            foreach (var node in Cluster.Nodes)
            {
                await AssertReadsAsync(node, ids, model, "at the end");
            }
        }
        finally
        {
            foreach (var hub in hubs.Opened)
            {
                await hub.DisposeAsync();
            }
        }
    }

    private async Task ApplyAsync(ModelOp op, CaseIds ids, ServiceModel model, Hubs hubs)
    {
        var node = Cluster.Nodes[op.Node];
        var user = ids.User(op.User);
        var channel = ids.Channel(op.Other);
        switch (op.Kind)
        {
            case ModelOpKind.AuthSet:
                await node.CallAsync("auth", "set", new { userId = user, sessionId = ids.Session(op.Other) });
                model.AuthSet(user, ids.Session(op.Other));
                break;
            case ModelOpKind.AuthRemove:
                await node.CallAsync("auth", "remove", new { userId = user });
                model.AuthRemove(user);
                break;
            case ModelOpKind.Subscribe:
                await node.CallAsync("channel", "subscribe", new { userId = user, channelId = channel });
                model.Subscribe(user, channel);
                break;
            case ModelOpKind.Unsubscribe:
                await node.CallAsync("channel", "unsubscribe", new { userId = user, channelId = channel });
                model.Unsubscribe(user, channel);
                break;
            case ModelOpKind.UnsubscribeAll:
                await node.CallAsync("channel", "unsubscribeAll", new { userId = user });
                model.UnsubscribeAll(user);
                break;
            case ModelOpKind.UserRemove:
                await node.CallAsync("user", "remove", new { userId = user });
                model.UserRemove(user);
                hubs.Open.Remove(user); // closed by the node; disposed at the end of the case
                await ConnectionsSettleAsync(user, model);
                break;
            case ModelOpKind.UserPublish:
                var reached = await node.CallAsync("user", "publish", new { userId = user, message = new { op = op.ToString() } });
                Assert.True(model.ConnectionsOf(user) == reached.GetInt32(), $"{op}: user.publish reached {reached}, the model says {model.ConnectionsOf(user)}");
                break;
            case ModelOpKind.ChannelPublish:
                var count = await node.CallAsync("channel", "publish", new { channelId = channel, message = new { op = op.ToString() } });
                Assert.True(model.ConnectionsOfSubscribers(channel) == count.GetInt32(), $"{op}: channel.publish reached {count}, the model says {model.ConnectionsOfSubscribers(channel)}");
                break;
            case ModelOpKind.Connect when model.SessionOf(user) is { } session && model.ConnectionsOf(user) < MaxConnectionsPerUser:
                var hub = node.Hub(user, session, HttpTransportType.WebSockets);
                hubs.Add(user, hub);
                await hub.StartAsync();
                model.Connected(user);
                await ConnectionsSettleAsync(user, model);
                break;
            case ModelOpKind.Disconnect when hubs.Open.GetValueOrDefault(user) is [var first, ..] connections:
                connections.Remove(first);
                await first.DisposeAsync();
                model.Disconnected(user);
                await ConnectionsSettleAsync(user, model);
                break;
        }
    }

    /// <summary>The owner holds the user's connections once the clients' openings and closings have reached it.</summary>
    private Task ConnectionsSettleAsync(string user, ServiceModel model) =>
        Eventually.TrueAsync(
            () => Cluster.Nodes.Sum(n => n.Service<ConnectionRegistry>().ConnectionsOf(user).Length) == model.ConnectionsOf(user),
            $"the nodes hold {model.ConnectionsOf(user)} connection(s) of {user}");

    private async Task AssertReadsAsync(TestNode node, CaseIds ids, ServiceModel model, string when)
    {
        var reads = new List<(string Call, string Expected, Task<string> Actual)>();
        void Read(string service, string method, object parameters, string expected, Func<JsonElement, string>? project = null) =>
            reads.Add(($"{service}.{method}({JsonSerializer.Serialize(parameters)})", expected, AnswerAsync(node, service, method, parameters, project)));

        for (var s = 0; s < Sessions; s++)
        {
            var session = ids.Session(s);
            Read("auth", "check", new { sessionId = session }, model.Check(session) is { } owner ? Json(owner) : "error:authorization_failed");
        }

        for (var u = 0; u < Users; u++)
        {
            var user = ids.User(u);
            Read("channel", "getSubscriptions", new { userId = user }, Json(model.SubscriptionsOf(user)));
            Read("user", "getFrontendServer", new { userId = user }, Json(Cluster.OwnerOf("u:" + user).ClientUrl));
        }

        for (var c = 0; c < Channels; c++)
        {
            var channel = ids.Channel(c);
            Read("channel", "getSubscribers", new { channelId = channel }, Json(model.SubscribersOf(channel)));
        }

        // The lists name every case's ids: only this case's are compared.
        Read("channel", "listAll", new { }, Json(model.Channels()), ids.Own);
        Read("user", "listAll", new { }, Json(model.ConnectedUsers()), ids.Own);

        await Task.WhenAll(reads.Select(r => r.Actual));
        var wrong = reads.Where(r => r.Actual.Result != r.Expected).Select(r => $"{r.Call} answered {r.Actual.Result}, the model says {r.Expected}").ToList();
        Assert.True(wrong.Count == 0, $"{node.Host.Identity.NodeId} {when}:\n{string.Join('\n', wrong)}");
    }

    private static async Task<string> AnswerAsync(TestNode node, string service, string method, object parameters, Func<JsonElement, string>? project)
    {
        var (ok, body) = await node.TryCallAsync(service, method, parameters);
        return !ok ? $"error:{body.GetProperty("code").GetString()}"
            : project is null ? body.GetProperty("result").GetRawText()
            : project(body.GetProperty("result"));
    }

    private static string Json<T>(T value) => JsonSerializer.Serialize(value);

    /// <summary>The SignalR clients of one case: those still open by user, and every one ever opened (to dispose).</summary>
    private sealed class Hubs
    {
        public Dictionary<string, List<HubConnection>> Open { get; } = new(StringComparer.Ordinal);

        public List<HubConnection> Opened { get; } = [];

        public void Add(string user, HubConnection hub)
        {
            Opened.Add(hub);
            (Open.TryGetValue(user, out var list) ? list : Open[user] = []).Add(hub);
        }
    }

    /// <summary>The ids of one case: <c>{prefix}u0</c>, <c>{prefix}s0</c>, <c>{prefix}c0</c>, …</summary>
    private sealed record CaseIds(string Prefix)
    {
        public string User(int i) => $"{Prefix}u{i}";

        public string Session(int i) => $"{Prefix}s{i}";

        public string Channel(int i) => $"{Prefix}c{i}";

        public string Own(JsonElement list) =>
            Json(list.EnumerateArray().Select(e => e.GetString()!).Where(id => id.StartsWith(Prefix, StringComparison.Ordinal)).ToList());
    }

    /// <summary>
    /// The service semantics on one node, written from the README rather than from the node's code: a user has at
    /// most one session and a session id one user; subscriptions are a set seen from both sides; user.remove closes
    /// the user's connections and unsubscribes it but keeps its session; a publish reaches every connection once.
    /// </summary>
    private sealed class ServiceModel
    {
        private readonly Dictionary<string, string> _userOfSession = new(StringComparer.Ordinal);
        private readonly HashSet<(string User, string Channel)> _subscriptions = [];
        private readonly Dictionary<string, int> _connections = new(StringComparer.Ordinal);

        public void AuthSet(string user, string session)
        {
            AuthRemove(user);
            _userOfSession[session] = user;
        }

        public void AuthRemove(string user)
        {
            foreach (var session in _userOfSession.Where(s => s.Value == user).Select(s => s.Key).ToList())
            {
                _userOfSession.Remove(session);
            }
        }

        public string? Check(string session) => _userOfSession.GetValueOrDefault(session);

        public string? SessionOf(string user) => _userOfSession.Where(s => s.Value == user).Select(s => s.Key).SingleOrDefault();

        public void Subscribe(string user, string channel) => _subscriptions.Add((user, channel));

        public void Unsubscribe(string user, string channel) => _subscriptions.Remove((user, channel));

        public void UnsubscribeAll(string user) => _subscriptions.RemoveWhere(s => s.User == user);

        public void UserRemove(string user)
        {
            _connections.Remove(user);
            UnsubscribeAll(user);
        }

        public void Connected(string user) => _connections[user] = ConnectionsOf(user) + 1;

        public void Disconnected(string user) => _connections[user] = ConnectionsOf(user) - 1;

        public int ConnectionsOf(string user) => _connections.GetValueOrDefault(user);

        public int ConnectionsOfSubscribers(string channel) => _subscriptions.Where(s => s.Channel == channel).Sum(s => ConnectionsOf(s.User));

        public List<string> SubscriptionsOf(string user) => Sorted(_subscriptions.Where(s => s.User == user).Select(s => s.Channel));

        public List<string> SubscribersOf(string channel) => Sorted(_subscriptions.Where(s => s.Channel == channel).Select(s => s.User));

        public List<string> Channels() => Sorted(_subscriptions.Select(s => s.Channel).Distinct());

        public List<string> ConnectedUsers() => Sorted(_connections.Where(c => c.Value > 0).Select(c => c.Key));

        private static List<string> Sorted(IEnumerable<string> ids) => [.. ids.Order(StringComparer.Ordinal)];
    }
}
