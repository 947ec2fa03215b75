using System.Collections.Immutable;

namespace SocketPush.ConsistentHashing;

/// <summary>A range of positions whose preference list differs between two rings.</summary>
public sealed class RingChange
{
    internal RingChange(KeyRange range, ImmutableArray<string> before, ImmutableArray<string> after)
    {
        Range = range;
        Before = before;
        After = after;
        Gained = After.Where(node => !Before.Contains(node, StringComparer.Ordinal)).ToImmutableArray();
        Lost = Before.Where(node => !After.Contains(node, StringComparer.Ordinal)).ToImmutableArray();
    }

    /// <summary>The positions concerned.</summary>
    public KeyRange Range { get; }

    /// <summary>The preference list of the range in the old ring, owner first (empty if that ring was empty).</summary>
    public ImmutableArray<string> Before { get; }

    /// <summary>The preference list of the range in the new ring, owner first (empty if that ring is empty).</summary>
    public ImmutableArray<string> After { get; }

    /// <summary>Nodes that must receive the range's records: in <see cref="After"/>, not in <see cref="Before"/>.</summary>
    public ImmutableArray<string> Gained { get; }

    /// <summary>Nodes that no longer keep the range's records: in <see cref="Before"/>, not in <see cref="After"/>.</summary>
    public ImmutableArray<string> Lost { get; }

    /// <summary>True when the first node of the list, the owner, differs.</summary>
    public bool OwnerChanged => Before.IsEmpty || After.IsEmpty || !string.Equals(Before[0], After[0], StringComparison.Ordinal);

    /// <inheritdoc />
    public override string ToString() =>
        $"[{Range.Start}..{Range.End}] {string.Join(",", Before)} -> {string.Join(",", After)}";
}
