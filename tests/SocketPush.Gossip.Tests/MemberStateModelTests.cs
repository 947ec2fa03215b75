using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using SocketPush.Gossip.Protocol;

namespace SocketPush.Gossip.Tests;

/// <summary>
/// Feeds random update sequences to a real core and compares every step with a small model of the
/// SWIM rules. Few names and few incarnations force the interesting collisions.
/// </summary>
public class MemberStateModelTests
{
    private static readonly string[] Names = ["self", "b", "c", "d", "new"];

    private static readonly Gen<Update> UpdateGen =
        from kind in Gen.Elements(MemberState.Alive, MemberState.Suspect, MemberState.Dead, MemberState.Left)
        from name in Gen.Elements(Names)
        from incarnation in Gen.Choose(0, 4)
        from sender in Gen.Elements("b", "c", "d")
        select new Update(kind, name, (uint)incarnation, sender);

    private static readonly Arbitrary<Update[]> Updates = UpdateGen.ArrayOf().ToArbitrary();

    [Property(MaxTest = 300)]
    public Property The_core_follows_the_model_at_every_step() => Prop.ForAll(Updates, updates =>
    {
        var (core, model) = Start();
        foreach (var update in updates)
        {
            Feed(core, update);
            model.Apply(update);
            foreach (var name in Names.Skip(1))
            {
                var expected = model.Others.TryGetValue(name, out var m) ? m : ((MemberState, uint)?)null;
                var actual = core.Core.Members.TryGetValue(name, out var r) ? (r.State, r.Incarnation) : ((MemberState, uint)?)null;
                if (expected != actual)
                {
                    return false;
                }
            }

            if (core.Core.Self.State != MemberState.Alive || core.Core.Self.Incarnation != model.SelfIncarnation)
            {
                return false;
            }
        }

        return true;
    });

    [Property(MaxTest = 300)]
    public Property A_higher_incarnation_always_wins() => Prop.ForAll(Updates, UpdateGen.ToArbitrary(), (prefix, last) =>
    {
        if (last.Name == "self")
        {
            return true;
        }

        var (core, _) = Start();
        foreach (var update in prefix)
        {
            Feed(core, update);
        }

        var known = core.Core.Members.TryGetValue(last.Name, out var before);
        Feed(core, last with { Incarnation = (known ? before!.Incarnation : 0) + 1 });
        if (!known)
        {
            // Only an alive message introduces a member.
            return last.Kind == MemberState.Alive
                ? core.Core.Members[last.Name].State == MemberState.Alive
                : !core.Core.Members.ContainsKey(last.Name);
        }

        var after = core.Core.Members[last.Name];
        return after.State == last.Kind && after.Incarnation == before!.Incarnation + 1;
    });

    [Property(MaxTest = 300)]
    public Property Dead_and_left_are_not_revived_by_a_stale_alive() => Prop.ForAll(
        Updates,
        Gen.Elements(MemberState.Dead, MemberState.Left).ToArbitrary(),
        Gen.Choose(0, 4).ToArbitrary(),
        (prefix, down, staleBy) =>
        {
            var (core, _) = Start();
            foreach (var update in prefix)
            {
                Feed(core, update);
            }

            var incarnation = core.Core.Members["b"].Incarnation + 1;
            Feed(core, new Update(down, "b", incarnation, "c"));
            Feed(core, new Update(MemberState.Alive, "b", incarnation - (uint)Math.Min(staleBy, (int)incarnation), "c"));
            return core.Core.Members["b"].State == down;
        });

    [Property(MaxTest = 300)]
    public Property A_member_refutes_any_suspicion_of_itself() => Prop.ForAll(
        Updates,
        Gen.Elements(MemberState.Suspect, MemberState.Dead, MemberState.Left).ToArbitrary(),
        Gen.Choose(0, 3).ToArbitrary(),
        (prefix, accusation, ahead) =>
        {
            var (core, _) = Start();
            foreach (var update in prefix)
            {
                Feed(core, update);
            }

            var current = core.Core.Self.Incarnation;
            var refutations = core.Core.Counters.Refutations;
            Feed(core, new Update(accusation, "self", current + (uint)ahead, "b"));
            core.Outbox.Clear();
            core.Core.OnDatagram("b:7946", SwimCoreTests.Datagram(new PingMessage { Seq = 1, Target = "self" }));
            var refutation = core.AllSent().OfType<AliveMessage>().SingleOrDefault(a => a.Name == "self");
            return core.Core.Self.State == MemberState.Alive
                && core.Core.Self.Incarnation == current + (uint)ahead + 1
                && core.Core.Counters.Refutations == refutations + 1
                && refutation?.Incarnation == core.Core.Self.Incarnation;
        });

    private static (CoreNode Core, Model Model) Start()
    {
        var cluster = new CoreCluster();
        var self = cluster.Add("self");
        foreach (var name in new[] { "b", "c", "d" })
        {
            cluster.Add(name);
        }

        self.Core.SeedMembers(cluster.Nodes.Skip(1).Select(n => n.Core.Self));
        self.Core.Start([]);
        var model = new Model();
        foreach (var name in new[] { "b", "c", "d" })
        {
            model.Others[name] = (MemberState.Alive, 0);
        }

        return (self, model);
    }

    private static void Feed(CoreNode node, Update update)
    {
        IGossipMessage message = update.Kind switch
        {
            MemberState.Alive => new AliveMessage { Name = update.Name, Address = update.Name + ":7946", Incarnation = update.Incarnation, Meta = [1, 2, 3] },
            MemberState.Suspect => new SuspectMessage { Name = update.Name, Incarnation = update.Incarnation, From = update.Sender },
            MemberState.Dead => new DeadMessage { Name = update.Name, Incarnation = update.Incarnation, From = update.Sender },
            _ => new LeftMessage { Name = update.Name, Incarnation = update.Incarnation },
        };
        Assert.Equal(DropReason.None, node.Core.OnDatagram(update.Sender + ":7946", SwimCoreTests.Datagram(message)));
    }

    public sealed record Update(MemberState Kind, string Name, uint Incarnation, string Sender);

    /// <summary>The rules, written as plainly as possible.</summary>
    private sealed class Model
    {
        public Dictionary<string, (MemberState State, uint Incarnation)> Others { get; } = [];

        public uint SelfIncarnation { get; private set; }

        public void Apply(Update u)
        {
            if (u.Name == "self")
            {
                var accused = u.Kind != MemberState.Alive && u.Incarnation >= SelfIncarnation;
                var outbid = u.Kind == MemberState.Alive && u.Incarnation > SelfIncarnation;
                if (accused || outbid)
                {
                    SelfIncarnation = Math.Max(SelfIncarnation, u.Incarnation) + 1;
                }

                return;
            }

            if (!Others.TryGetValue(u.Name, out var current))
            {
                if (u.Kind == MemberState.Alive)
                {
                    Others[u.Name] = (MemberState.Alive, u.Incarnation);
                }

                return;
            }

            var wins = u.Kind == MemberState.Alive
                ? u.Incarnation > current.Incarnation
                : u.Incarnation > current.Incarnation || (u.Incarnation == current.Incarnation && u.Kind > current.State);
            if (wins)
            {
                Others[u.Name] = (u.Kind, u.Incarnation);
            }
        }
    }
}
