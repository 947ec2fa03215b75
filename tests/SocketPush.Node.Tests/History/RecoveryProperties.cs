using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Edge;
using SocketPush.Node.Owner.History;

namespace SocketPush.Node.Tests.History;

/// <summary>What one step of a <see cref="Scenario"/> does.</summary>
public enum SimOpKind
{
    /// <summary>Publishes the next n to stream <c>A</c> (0 the user's own, 1.. the channels): the owner sequences it.</summary>
    Publish,

    /// <summary>Stream <c>A</c>'s next sequenced message is handed to the fan-out (its copies are done and its turn came).</summary>
    Deliver,

    /// <summary>Publishes again, with its publish id, the publish <c>B</c> back on stream <c>A</c> (a retry).</summary>
    Retry,

    /// <summary>Client <c>A</c> connects (if it is not connected), recovering with what it knows.</summary>
    Connect,

    /// <summary>Client <c>A</c>'s transport closes (if it is connected).</summary>
    Disconnect,

    /// <summary>The pending read <c>A</c> (modulo their number) moves on: the owner reads the stream, or its answer arrives.</summary>
    Step,

    /// <summary>
    /// The clock moves on <c>A</c> seconds (every delivery and read done by then) and the history is swept (messages
    /// age out; idle streams are forgotten, into a new epoch).
    /// </summary>
    Tick,
}

/// <summary>One step.</summary>
public sealed record SimOp(SimOpKind Kind, int A, int B)
{
    public override string ToString() => Kind switch
    {
        SimOpKind.Retry => $"Retry({A}, {B} back)",
        _ => $"{Kind}({A})",
    };
}

/// <summary>
/// A random interleaving: clients (each a hub client, which keeps its positions itself, or a plain SSE client, which
/// sends the last event id back) of one user subscribed to 1–3 channels, and steps over them.
/// </summary>
/// <param name="SseClients">Per client, whether it is a plain SSE client.</param>
/// <param name="Channels">How many channels the user is subscribed to.</param>
/// <param name="Size">Messages each stream keeps (small: evictions happen).</param>
/// <param name="SmallMaxBytes">Whether <c>history.maxBytes</c> holds only a few messages over all streams.</param>
/// <param name="Ops">The steps.</param>
public sealed record Scenario(ImmutableArray<bool> SseClients, int Channels, int Size, bool SmallMaxBytes, ImmutableArray<SimOp> Ops)
{
    public override string ToString() =>
        $"clients [{string.Join(", ", SseClients.Select(s => s ? "sse" : "hub"))}], {Channels} channel(s), size {Size}{(SmallMaxBytes ? ", small maxBytes" : "")}; ops: {string.Join("; ", Ops)}";
}

/// <summary>FsCheck generators of <see cref="Scenario"/> values, shrunk by dropping steps.</summary>
public static class ScenarioGenerators
{
    public static Arbitrary<Scenario> Scenario() => Arb.From(
        from clients in Gen.Choose(1, 3)
        from sse in Gen.ArrayOf(Gen.Elements(false, true), clients)
        from channels in Gen.Choose(1, 3)
        from size in Gen.Choose(1, 4)
        from smallMaxBytes in Gen.Frequency((4, Gen.Constant(false)), (1, Gen.Constant(true)))
        from length in Gen.Choose(1, 80)
        from ops in Gen.ArrayOf(Op(clients, channels), length)
        select new Scenario([.. sse], channels, size, smallMaxBytes, [.. ops]),
        Shrink);

    private static Gen<SimOp> Op(int clients, int channels) => Gen.Frequency(
        (8, from stream in Gen.Choose(0, channels) select new SimOp(SimOpKind.Publish, stream, 0)),
        (8, from stream in Gen.Choose(0, channels) select new SimOp(SimOpKind.Deliver, stream, 0)),
        (1, from stream in Gen.Choose(0, channels) from back in Gen.Choose(0, 3) select new SimOp(SimOpKind.Retry, stream, back)),
        (3, from client in Gen.Choose(0, clients - 1) select new SimOp(SimOpKind.Connect, client, 0)),
        (2, from client in Gen.Choose(0, clients - 1) select new SimOp(SimOpKind.Disconnect, client, 0)),
        (8, from choice in Gen.Choose(0, 99) select new SimOp(SimOpKind.Step, choice, 0)),
        (1, from seconds in Gen.Elements(2, 6) select new SimOp(SimOpKind.Tick, seconds, 0)));

    /// <summary>Every scenario with one step fewer: each step is valid anywhere, so any subsequence replays.</summary>
    private static IEnumerable<Scenario> Shrink(Scenario scenario) =>
        Enumerable.Range(0, scenario.Ops.Length).Select(i => scenario with { Ops = scenario.Ops.RemoveAt(i) });
}

/// <summary>
/// Recovery as a property of the real edge parts (<see cref="RecoveryHarness"/>): whatever the interleaving of
/// publishes (sequenced, then delivered in their turn; with evictions by size, age and maxBytes, and retries),
/// disconnects, reconnects and the owner's reads,
/// each client receives each stream as it was published: every offset once and in order, across all its
/// connections. The one exception is a reset the client is told of: after a recovery that says
/// <c>recovered: false</c> the stream goes on from the position the recovery gives, and a stream that the owner
/// started anew (a new epoch) goes on from its first message. At the end every client,
/// connected, has every stream's last message. A failure prints the shrunk scenario and the seed; replay it with
/// <c>[Property(Replay = "seed,gamma")]</c>.
/// </summary>
[Properties(Arbitrary = [typeof(ScenarioGenerators)], MaxTest = 500)]
public sealed class RecoveryProperties
{
    /// <summary>The rules' age: a tick of 6 s ages out every message kept, ticks of 2 s those of earlier ticks.</summary>
    private static readonly TimeSpan Age = TimeSpan.FromSeconds(5);

    [Property]
    public void Every_client_receives_every_stream_in_order_and_once_except_after_a_reset_it_was_told_of(Scenario scenario)
    {
        var maxBytes = scenario.SmallMaxBytes ? 5L * MessageStream.CostOf("p100", JsonSerializer.SerializeToElement(new { n = 100 })) : 256L * 1024 * 1024;
        using var harness = new RecoveryHarness(scenario.Channels, scenario.Size, Age, maxBytes);
        var streams = harness.Streams.ToList();
        var clients = scenario.SseClients.Select(sse => new SimClient(sse)).ToList();
        var publishIds = streams.ToDictionary(s => s, _ => new List<string>(), StringComparer.Ordinal);
        var n = 0;
        void Publish(string stream, bool deliverNow)
        {
            var publishId = $"p{++n}";
            publishIds[stream].Add(publishId);
            harness.Publish(stream, n, publishId, deliverNow);
        }

        foreach (var op in scenario.Ops)
        {
            switch (op.Kind)
            {
                case SimOpKind.Publish:
                    Publish(streams[op.A], deliverNow: false);
                    break;
                case SimOpKind.Deliver:
                    harness.Deliver(streams[op.A]);
                    break;
                case SimOpKind.Retry when publishIds[streams[op.A]] is { Count: > 0 } ids
                    && ids[Math.Max(0, ids.Count - 1 - op.B)] is var retried
                    && !harness.IsInFlight(streams[op.A], harness.PositionOf[retried]):
                    // A retry whose id the stream holds, delivered, changes nothing; one evicted already is a new
                    // message. (A retry racing its first attempt, which on one node completes before an answer, is
                    // left out: the owner then delivers the position twice, and a connection that registered in
                    // between takes the second delivery for its first message; when the messages after it were
                    // evicted, its gap fill cannot complete, and the jump is not told.)
                    harness.Publish(streams[op.A], ++n, retried, deliverNow: false);
                    break;
                case SimOpKind.Connect:
                    clients[op.A].Connect(harness);
                    break;
                case SimOpKind.Disconnect:
                    clients[op.A].Disconnect(harness);
                    break;
                case SimOpKind.Step:
                    harness.Step(op.A);
                    break;
                case SimOpKind.Tick:
                    // Seconds pass: deliveries and the owner's reads, which take milliseconds, are done by then.
                    harness.Settle();
                    harness.Time.Advance(TimeSpan.FromSeconds(op.A));
                    harness.Store.Sweep();
                    break;
            }
        }

        // The end: every message delivered, every read answered, every client connected (and recovered), then one
        // more message per stream.
        harness.Settle();
        foreach (var client in clients)
        {
            client.Connect(harness);
        }

        harness.Settle();
        foreach (var stream in streams)
        {
            Publish(stream, deliverNow: true);
        }

        for (var i = 0; i < clients.Count; i++)
        {
            clients[i].Check(harness, $"client {i} ({(clients[i].Sse ? "sse" : "hub")})");
        }
    }

    /// <summary>What a client saw: a message, or a stream position it took from a <c>streams</c> report.</summary>
    private sealed record Observation(SimConnection Connection, string Stream, StreamPosition Position, int? N, bool? Recovered)
    {
        public bool IsMessage => N is not null;

        public override string ToString() => IsMessage
            ? $"{Connection.Id} '{Stream}' {Position} n={N}"
            : $"{Connection.Id} '{Stream}' report {Position} recovered={Recovered?.ToString() ?? "unsaid"}";
    }

    /// <summary>
    /// A client as a real one behaves: a hub client recovers with the positions of the messages it received (and
    /// those a report gave it for streams it had nothing of); a plain SSE client with the id of its last event, as
    /// EventSource sends Last-Event-ID, or with none before it has one.
    /// </summary>
    private sealed class SimClient(bool sse)
    {
        private readonly Dictionary<string, StreamPosition> _positions = new(StringComparer.Ordinal);
        private readonly List<Observation> _seen = [];
        private readonly List<SimConnection> _connections = [];
        private SimConnection? _current;
        private string? _lastEventId;

        public bool Sse { get; } = sse;

        public void Connect(RecoveryHarness harness)
        {
            if (_current is null)
            {
                _current = harness.Connect(Sse ? _lastEventId : Positions.Token(_positions), Sse, OnSend);
                _connections.Add(_current);
            }
        }

        public void Disconnect(RecoveryHarness harness)
        {
            if (_current is { } connection)
            {
                harness.Disconnect(connection);
                _current = null;
            }
        }

        private void OnSend(SimConnection connection, PushMessage message, string? eventId)
        {
            if (message.Kind == StreamRecovery.StreamsEvent)
            {
                var report = message.Data;
                var recovered = Positions.RecoveredOf(report);
                foreach (var (stream, position) in Positions.OfReport(report))
                {
                    // A stream that went on from somewhere else than where the client was: it takes the report's position.
                    if (recovered[stream] != true && !_seen.Any(o => o.Connection == connection && o.Stream == stream && o.IsMessage))
                    {
                        _seen.Add(new Observation(connection, stream, position, null, recovered[stream]));
                        _positions[stream] = position;
                    }
                }

                _lastEventId = eventId;
            }
            else if (message.Position is { } position)
            {
                var stream = StreamCursors.StreamOf(message);
                _seen.Add(new Observation(connection, stream, position, message.Data.GetProperty("n").GetInt32(), null));
                _positions[stream] = position;
                _lastEventId = eventId;
            }
        }

        /// <summary>Checks what the client saw against what was published, stream by stream.</summary>
        public void Check(RecoveryHarness harness, string name)
        {
            var reports = _connections
                .Where(c => c.Recovering is not null)
                .ToDictionary(c => c, c => JsonSerializer.SerializeToElement(Assert.IsType<System.Text.Json.Nodes.JsonObject>(c.Recovering!.Result)));
            foreach (var stream in harness.Streams)
            {
                var seen = _seen.Where(o => o.Stream == stream).ToList();
                StreamPosition? at = null;
                // A stream the client had nothing of starts where its first message is. A report that does not say
                // recovered (the client gave no position) names where the token stands; messages at or before it that
                // reach the connection still go out (it was registered for them), so it binds only a later connection.
                (StreamPosition Position, SimConnection Connection)? start = null;
                var started = new HashSet<(SimConnection, string)>();
                var highest = new Dictionary<string, long>(StringComparer.Ordinal);
                foreach (var observation in seen)
                {
                    var position = observation.Position;
                    string? problem = null;
                    if (!observation.IsMessage)
                    {
                        if (observation.Recovered == false)
                        {
                            // A reset the client was told of.
                            at = position;
                        }
                        else if (at is { } was && was != position)
                        {
                            problem = $"the client was at {was}, but its recovery put it at {position} without saying recovered: false";
                        }
                        else if (at is null)
                        {
                            start = (position, observation.Connection);
                        }
                    }
                    else
                    {
                        var reported = reports.TryGetValue(observation.Connection, out var report) && Positions.RecoveredOf(report).GetValueOrDefault(stream) == false
                            ? Positions.OfReport(report)[stream]
                            : (StreamPosition?)null;
                        // The first message of the reported epoch on this connection: where a reset may take the stream.
                        var first = started.Add((observation.Connection, position.Epoch)) && (reported is null || reported.Value.Epoch == position.Epoch);
                        var before = at ?? (start is { } s && s.Connection != observation.Connection ? s.Position : null);
                        if (harness.Published.GetValueOrDefault((stream, position)) != observation.N)
                        {
                            problem = $"{position} carries n={observation.N}, but n={harness.Published.GetValueOrDefault((stream, position))} was published there";
                        }
                        else if (highest.TryGetValue(position.Epoch, out var high) && position.Offset <= high)
                        {
                            problem = $"{position} came again or out of order (the stream was at {position.Epoch}.{high} already)";
                        }
                        else if (before is { } last
                            && position != last with { Offset = last.Offset + 1 }
                            && !(position.Epoch != last.Epoch && position.Offset == 1)
                            && !(first && reported is { } top && position == top with { Offset = top.Offset + 1 }))
                        {
                            problem = $"after {last} came {position}"
                                + (reported is { } r ? $" (its recovery said recovered: false at {r})" : " (and its connection's recovery did not say recovered: false)");
                        }

                        highest[position.Epoch] = position.Offset;
                        at = position;
                        start = null;
                    }

                    if (problem is not null)
                    {
                        Assert.Fail($"{name}, stream '{stream}': {problem}.\nWhat it saw of the stream:\n{Describe(seen)}");
                    }
                }

                Assert.True(at == harness.Last[stream], $"{name}, stream '{stream}': ended at {at?.ToString() ?? "nothing"}, not at the last message {harness.Last[stream]}.\n{Describe(seen)}");
            }
        }

        private static string Describe(List<Observation> seen)
        {
            var text = new StringBuilder();
            foreach (var observation in seen)
            {
                text.Append("  ").Append(observation).Append('\n');
            }

            return text.ToString();
        }
    }
}
