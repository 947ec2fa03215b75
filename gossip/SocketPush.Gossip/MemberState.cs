namespace SocketPush.Gossip;

/// <summary>What a member believes about another member. At one incarnation the later state wins.</summary>
public enum MemberState : byte
{
    /// <summary>Answers probes, or has refuted every suspicion so far.</summary>
    Alive = 0,

    /// <summary>Missed a probe; declared dead unless it refutes before the suspicion timeout.</summary>
    Suspect = 1,

    /// <summary>Did not refute in time. Remembered so that stale rumours cannot revive it.</summary>
    Dead = 2,

    /// <summary>Announced its own departure.</summary>
    Left = 3,
}
