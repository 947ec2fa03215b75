namespace SocketPush.ConsistentHashing;

/// <summary>A node of a <see cref="HashRing"/> and its relative capacity.</summary>
/// <param name="Id">The node id: any non-empty string, compared ordinally.</param>
/// <param name="Weight">
/// The node's share relative to a node of weight 1: a finite number greater than zero. A node of
/// weight 2 owns about twice the keys of a node of weight 1.
/// </param>
public readonly record struct RingMember(string Id, double Weight = 1.0);
