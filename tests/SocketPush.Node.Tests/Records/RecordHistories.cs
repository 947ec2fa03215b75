using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.Extensions.Time.Testing;
using SocketPush.Node.Owner.Records;

namespace SocketPush.Node.Tests.Records;

/// <summary>What one step of a <see cref="History"/> does on one replica's <see cref="RecordStore"/>.</summary>
public enum StepKind
{
    /// <summary>auth.set on the owner of <c>u:</c>: user <c>Key</c> gets session <c>Other</c>.</summary>
    SetSession,

    /// <summary>auth.remove: user <c>Key</c> loses its session.</summary>
    RemoveSession,

    /// <summary>The session <c>Other</c> went to another user: user <c>Key</c> loses it if it still has it.</summary>
    ClearSessionIf,

    /// <summary>Session <c>Key</c> is bound to user <c>Other</c>.</summary>
    BindSession,

    /// <summary>Session <c>Key</c> is unbound if it still belongs to user <c>Other</c>.</summary>
    UnbindSessionIf,

    /// <summary>User <c>Key</c> subscribes to channel <c>Other</c> (the <c>u:</c> side).</summary>
    Subscribe,

    /// <summary>User <c>Key</c> unsubscribes from channel <c>Other</c>.</summary>
    Unsubscribe,

    /// <summary>User <c>Key</c> unsubscribes from every channel this replica knows of.</summary>
    UnsubscribeAll,

    /// <summary>Channel <c>Key</c> gains subscriber <c>Other</c> (the <c>c:</c> side).</summary>
    AddSubscriber,

    /// <summary>Channel <c>Key</c> loses subscriber <c>Other</c>.</summary>
    RemoveSubscriber,

    /// <summary>Replica <c>Replica</c> merges everything replica <c>Other</c> holds, through JSON as on the wire.</summary>
    Sync,

    /// <summary>Replica <c>Replica</c>'s wall clock jumps by <c>Millis</c> ms, backwards too (an NTP step).</summary>
    Skew,
}

/// <summary>One step; for writes, <c>Millis</c> is how far shared real time moves on before it (0 keeps the millisecond).</summary>
public sealed record Step(StepKind Kind, int Replica, int Key, int Other, int Millis)
{
    public override string ToString() => $"{Kind}(r{Replica}, {Key}, {Other}, {Millis}ms)";
}

/// <summary>
/// A concurrent history: replicas, each with its own skewed wall clock and hybrid clock, apply random writes to a
/// few shared keys and now and then merge another replica's whole store, as owners and handoffs do.
/// </summary>
public sealed record History(ImmutableArray<int> SkewsMs, ImmutableArray<Step> Steps)
{
    public int Replicas => SkewsMs.Length;

    public override string ToString() =>
        $"skews [{string.Join(", ", SkewsMs)}] ms; steps: {string.Join("; ", Steps)}";
}

/// <summary>FsCheck generators of <see cref="History"/> values, shrunk by dropping steps.</summary>
public static class RecordGenerators
{
    /// <summary>Few ids, so that replicas keep writing the same keys and elements concurrently.</summary>
    public const int Ids = 3;

    private static readonly Gen<StepKind> Write = Gen.Elements(
        StepKind.SetSession, StepKind.SetSession, StepKind.RemoveSession, StepKind.ClearSessionIf,
        StepKind.BindSession, StepKind.BindSession, StepKind.UnbindSessionIf,
        StepKind.Subscribe, StepKind.Subscribe, StepKind.Subscribe, StepKind.Unsubscribe, StepKind.Unsubscribe, StepKind.UnsubscribeAll,
        StepKind.AddSubscriber, StepKind.AddSubscriber, StepKind.RemoveSubscriber);

    public static Arbitrary<History> History() => Arb.From(
        from replicas in Gen.Choose(2, 4)
        from skews in Gen.ArrayOf(Gen.Choose(-200, 200), replicas)
        from length in Gen.Choose(1, 40)
        from steps in Gen.ArrayOf(Step(replicas), length)
        select new History([.. skews], [.. steps]),
        Shrink);

    private static Gen<Step> Step(int replicas) =>
        from replica in Gen.Choose(0, replicas - 1)
        from step in Gen.Frequency(
            (12, from kind in Write
                 from key in Gen.Choose(0, Ids - 1)
                 from other in Gen.Choose(0, Ids - 1)
                 from millis in Gen.Elements(0, 0, 1, 2, 5, 30)
                 select new Step(kind, replica, key, other, millis)),
            (4, from offset in Gen.Choose(1, replicas - 1)
                select new Step(StepKind.Sync, replica, 0, (replica + offset) % replicas, 0)),
            (1, from millis in Gen.Choose(-300, 300)
                select new Step(StepKind.Skew, replica, 0, 0, millis)))
        select step;

    /// <summary>Every history with one step fewer: each step is valid anywhere, so any subsequence replays.</summary>
    private static IEnumerable<History> Shrink(History history) =>
        Enumerable.Range(0, history.Steps.Length).Select(i => history with { Steps = history.Steps.RemoveAt(i) });
}

/// <summary>A wall clock that is shared real time plus an offset that a test moves either way.</summary>
internal sealed class SkewedTime(TimeProvider real, TimeSpan offset) : TimeProvider
{
    public TimeSpan Offset { get; set; } = offset;

    public override DateTimeOffset GetUtcNow() => real.GetUtcNow() + Offset;
}

/// <summary>One write a replica made: what it wrote where, and which earlier writes (by id) it had seen.</summary>
internal sealed record Write(int Id, string Target, string? Value, ImmutableHashSet<int> Saw);

/// <summary>
/// Replays a <see cref="History"/> on real <see cref="RecordStore"/>s and tracks causality beside them: each replica
/// knows the writes it made or merged, so a test can tell which writes observed which.
/// </summary>
internal sealed class Replicas
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly RecordBatch NoRecords = new([], [], []);

    private readonly FakeTimeProvider _real = new(Start);
    private readonly SkewedTime[] _times;
    private readonly ImmutableHashSet<int>[] _seen;
    private readonly List<Write> _writes = [];

    private Replicas(History history)
    {
        _times = [.. history.SkewsMs.Select(s => new SkewedTime(_real, TimeSpan.FromMilliseconds(s)))];
        Clocks = [.. _times.Select(t => new HybridClock(t))];
        Stores = [.. Clocks.Select((c, i) => new RecordStore(c, $"r{i}"))];
        _seen = [.. _times.Select(_ => ImmutableHashSet<int>.Empty)];
    }

    public HybridClock[] Clocks { get; }

    public RecordStore[] Stores { get; }

    public IReadOnlyList<Write> Writes => _writes;

    /// <summary>Applies every step of <paramref name="history"/> to fresh replicas.</summary>
    public static Replicas Run(History history)
    {
        var replicas = new Replicas(history);
        foreach (var step in history.Steps)
        {
            replicas.Apply(step);
        }

        return replicas;
    }

    /// <summary>Lets every replica merge every other one's store, twice round, so each holds what all wrote.</summary>
    public void ExchangeAll()
    {
        for (var round = 0; round < 2; round++)
        {
            for (var to = 0; to < Stores.Length; to++)
            {
                for (var from = 0; from < Stores.Length; from++)
                {
                    if (from != to)
                    {
                        Sync(to, from);
                    }
                }
            }
        }
    }

    /// <summary>Every record a store holds, tombstones included, as one batch (the handoff collector with no limit).</summary>
    public static RecordBatch Snapshot(RecordStore store) =>
        store.RecordsFor(_ => ["all"], int.MaxValue).GetValueOrDefault("all") ?? NoRecords;

    /// <summary>A batch as the receiving node reads it off the wire.</summary>
    public static RecordBatch ThroughJson(RecordBatch batch) =>
        JsonSerializer.SerializeToElement(batch).Deserialize<RecordBatch>()!;

    /// <summary>The full state of a batch, stamps and tombstones included, one sorted line per register or element.</summary>
    public static string Canonical(RecordBatch batch) =>
        string.Join('\n', Lines(batch, stamps: true).Order(StringComparer.Ordinal));

    /// <summary>What reads can see of a batch: each register's value and each element's presence, by target.</summary>
    public static Dictionary<string, string?> Observable(RecordBatch batch) =>
        Lines(batch, stamps: false).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1] == "null" ? null : p[1], StringComparer.Ordinal);

    public static string Canonical(Register register) => $"{register.Value ?? "null"}@{Canonical(register.Stamp)}";

    public static string Canonical(ElementSet set) =>
        string.Join(",", set.Elements.Select(e => $"{e.Key}{(e.Value.Present ? "+" : "-")}@{Canonical(e.Value.Stamp)}"));

    public static string Canonical(UserRecord record) => $"{Canonical(record.Session)}|{Canonical(record.Subscriptions)}";

    public static string Canonical(SessionRecord record) => Canonical(record.User);

    public static string Canonical(ChannelRecord record) => Canonical(record.Subscribers);

    private static string Canonical(Stamp stamp) => string.Create(CultureInfo.InvariantCulture, $"{stamp.Time}/{stamp.Node}");

    private static IEnumerable<string> Lines(RecordBatch batch, bool stamps)
    {
        string At(Stamp stamp) => stamps ? "@" + Canonical(stamp) : "";
        foreach (var (id, user) in batch.Users)
        {
            yield return $"u:{id}.session={user.Session.Value ?? "null"}{At(user.Session.Stamp)}";
            foreach (var (channel, element) in user.Subscriptions.Elements)
            {
                yield return $"u:{id}.sub.{channel}={(element.Present ? "+" : "-")}{At(element.Stamp)}";
            }
        }

        foreach (var (id, session) in batch.Sessions)
        {
            yield return $"s:{id}.user={session.User.Value ?? "null"}{At(session.User.Stamp)}";
        }

        foreach (var (id, channel) in batch.Channels)
        {
            foreach (var (user, element) in channel.Subscribers.Elements)
            {
                yield return $"c:{id}.sub.{user}={(element.Present ? "+" : "-")}{At(element.Stamp)}";
            }
        }
    }

    private void Apply(Step step)
    {
        var store = Stores[step.Replica];
        string User(int i) => $"u{i}";
        string Session(int i) => $"s{i}";
        string Channel(int i) => $"c{i}";
        if (step.Kind != StepKind.Skew)
        {
            _real.Advance(TimeSpan.FromMilliseconds(step.Millis));
        }

        switch (step.Kind)
        {
            case StepKind.SetSession:
                store.SetSession(User(step.Key), Session(step.Other));
                Wrote(step.Replica, $"u:{User(step.Key)}.session", Session(step.Other));
                break;
            case StepKind.RemoveSession:
                store.SetSession(User(step.Key), null);
                Wrote(step.Replica, $"u:{User(step.Key)}.session", null);
                break;
            case StepKind.ClearSessionIf:
                // Conditional writes write only when the condition holds: track them only then.
                WroteNullIf(store.SessionOf(User(step.Key)) == Session(step.Other), step.Replica, $"u:{User(step.Key)}.session");
                store.ClearSessionIf(User(step.Key), Session(step.Other));
                break;
            case StepKind.BindSession:
                store.BindSession(Session(step.Key), User(step.Other));
                Wrote(step.Replica, $"s:{Session(step.Key)}.user", User(step.Other));
                break;
            case StepKind.UnbindSessionIf:
                WroteNullIf(store.UserOfSession(Session(step.Key)) == User(step.Other), step.Replica, $"s:{Session(step.Key)}.user");
                store.UnbindSessionIf(Session(step.Key), User(step.Other));
                break;
            case StepKind.Subscribe or StepKind.Unsubscribe:
                store.SetSubscription(User(step.Key), Channel(step.Other), step.Kind == StepKind.Subscribe);
                Wrote(step.Replica, $"u:{User(step.Key)}.sub.{Channel(step.Other)}", step.Kind == StepKind.Subscribe ? "+" : "-");
                break;
            case StepKind.UnsubscribeAll:
                foreach (var channel in store.ClearSubscriptions(User(step.Key)))
                {
                    Wrote(step.Replica, $"u:{User(step.Key)}.sub.{channel}", "-");
                }

                break;
            case StepKind.AddSubscriber or StepKind.RemoveSubscriber:
                store.SetSubscriber(Channel(step.Key), User(step.Other), step.Kind == StepKind.AddSubscriber);
                Wrote(step.Replica, $"c:{Channel(step.Key)}.sub.{User(step.Other)}", step.Kind == StepKind.AddSubscriber ? "+" : "-");
                break;
            case StepKind.Sync:
                Sync(step.Replica, step.Other);
                break;
            case StepKind.Skew:
                _times[step.Replica].Offset += TimeSpan.FromMilliseconds(step.Millis);
                break;
        }
    }

    private void Sync(int to, int from)
    {
        Stores[to].Merge(ThroughJson(Snapshot(Stores[from])));
        _seen[to] = _seen[to].Union(_seen[from]);
    }

    private void WroteNullIf(bool writes, int replica, string target)
    {
        if (writes)
        {
            Wrote(replica, target, null);
        }
    }

    private void Wrote(int replica, string target, string? value)
    {
        var write = new Write(_writes.Count, target, value, _seen[replica]);
        _writes.Add(write);
        _seen[replica] = _seen[replica].Add(write.Id);
    }
}
