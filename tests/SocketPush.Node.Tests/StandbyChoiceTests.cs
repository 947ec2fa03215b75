using SocketPush.Gossip;
using SocketPush.Node.Cluster;

namespace SocketPush.Node.Tests;

/// <summary>Which standby stands in for which dead member (<see cref="StandbyChoice"/>): the same pairs from the same members on every node.</summary>
public sealed class StandbyChoiceTests
{
    private static readonly TimeSpan After = TimeSpan.FromSeconds(30);

    private static ClusterMember Member(string id, MemberState state, bool standby = false, string standsInFor = "") =>
        ClusterMember.Of(new GossipMember(id, "127.0.0.1:1", 0, state,
            new NodeMetadata(id, $"http://{id}:8080", $"http://{id}:8181", ClusterSettings.WireVersion, 2000, 3, false, "none", standby, standsInFor).Encode()));

    [Fact]
    public void Dead_members_nobody_stands_in_for_are_paired_with_the_live_standbys_both_by_id()
    {
        List<ClusterMember> members =
        [
            Member("a", MemberState.Alive), Member("d2", MemberState.Dead), Member("d1", MemberState.Dead), Member("d3", MemberState.Dead),
            Member("s2", MemberState.Alive, standby: true), Member("s1", MemberState.Suspect, standby: true),
            Member("s0", MemberState.Dead, standby: true), Member("left", MemberState.Left),
        ];

        // Two standbys for three dead members: the first two; a dead standby and a member that left are stood in for by none.
        Assert.Equal(new Dictionary<string, string> { ["s1"] = "d1", ["s2"] = "d2" }, StandbyChoice.Pairs(members));

        // The same members in another order: the same pairs.
        members.Reverse();
        Assert.Equal(new Dictionary<string, string> { ["s1"] = "d1", ["s2"] = "d2" }, StandbyChoice.Pairs(members));
    }

    [Fact]
    public void A_standby_acts_only_once_its_own_member_has_been_dead_for_standby_after_and_a_promoted_one_covers_its_member()
    {
        List<ClusterMember> members =
        [
            Member("a", MemberState.Alive), Member("d1", MemberState.Dead), Member("d2", MemberState.Dead),
            Member("s1", MemberState.Alive, standby: true), Member("s2", MemberState.Alive, standby: true),
        ];

        // s2 has seen d2 dead long enough but d1 not: s1 waits for d1, and s2 does not take d1 (pairing comes first).
        TimeSpan DeadFor(string id) => id == "d1" ? TimeSpan.FromSeconds(5) : TimeSpan.FromSeconds(40);
        Assert.Null(StandbyChoice.StandInFor("s1", members, DeadFor, After));
        Assert.Equal("d2", StandbyChoice.StandInFor("s2", members, DeadFor, After));
        Assert.Null(StandbyChoice.StandInFor("a", members, DeadFor, After));

        // Once s2 is promoted for d2 (its metadata says so), d1 is the only member left to stand in for, s1's.
        members[4] = Member("s2", MemberState.Alive, standsInFor: "d2");
        Assert.Equal(new Dictionary<string, string> { ["s1"] = "d1" }, StandbyChoice.Pairs(members));

        // A promoted standby that dies in turn still covers its member; it is stood in for itself.
        members[4] = Member("s2", MemberState.Dead, standsInFor: "d2");
        Assert.Equal(new Dictionary<string, string> { ["s1"] = "d1" }, StandbyChoice.Pairs(members));
        members[0] = Member("a", MemberState.Dead);
        Assert.Equal(new Dictionary<string, string> { ["s1"] = "a" }, StandbyChoice.Pairs(members));

        // A dead member that comes back needs nobody.
        members = [Member("d1", MemberState.Alive), Member("s1", MemberState.Alive, standby: true)];
        Assert.Empty(StandbyChoice.Pairs(members));
    }
}
