namespace SocketPush.Gossip.Protocol;

/// <summary>
/// Where <see cref="SwimCore"/> puts what it produces. Called synchronously from inside a core
/// call; an implementation copies what it keeps, since the datagram buffer is reused.
/// </summary>
internal interface ICoreOutput
{
    /// <summary>An unreliable datagram (plain wire format, at most the configured payload size).</summary>
    void SendDatagram(string address, ReadOnlySpan<byte> datagram);

    /// <summary>
    /// Starts a push-pull exchange over the reliable channel. The driver hands the peer's answer
    /// to <see cref="SwimCore.OnPushPullReply"/>; a failed exchange needs no report.
    /// </summary>
    void SendPushPull(string address, PushPullMessage message);

    /// <summary>
    /// memberlist's TCP fallback: a ping over the reliable channel, sent when the datagram ping got
    /// no ack in time. Random datagram loss then rarely turns into a suspicion. The driver asks the
    /// peer's <see cref="SwimCore.IsPingTarget"/> and, when it answers, calls <see cref="SwimCore.OnFallbackAck"/>.
    /// </summary>
    void SendFallbackPing(string address, uint seq, string target);

    /// <summary>A member's entry changed; <paramref name="member"/> is the new entry.</summary>
    void MemberChanged(MembershipChangeKind kind, MemberRecord member);
}
