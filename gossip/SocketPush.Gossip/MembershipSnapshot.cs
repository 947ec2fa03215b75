using System.Collections.Immutable;

namespace SocketPush.Gossip;

/// <summary>
/// An immutable view of the membership, replaced as a whole on every change, so a reader never
/// sees half of an update.
/// </summary>
public sealed class MembershipSnapshot
{
    internal MembershipSnapshot(string localName, long version, ImmutableArray<GossipMember> members)
    {
        LocalName = localName;
        Version = version;
        Members = members;
    }

    /// <summary>The local member's name.</summary>
    public string LocalName { get; }

    /// <summary>Grows with every published change.</summary>
    public long Version { get; }

    /// <summary>Every remembered member, the local one included, ordered by name.</summary>
    public ImmutableArray<GossipMember> Members { get; }

    /// <summary>Alive and suspect members, ordered by name.</summary>
    public IEnumerable<GossipMember> Live => Members.Where(m => m.IsLive);

    /// <summary>The entry for <paramref name="name"/>, or null.</summary>
    public GossipMember? Find(string name)
    {
        foreach (var member in Members)
        {
            if (string.Equals(member.Name, name, StringComparison.Ordinal))
            {
                return member;
            }
        }

        return null;
    }
}
