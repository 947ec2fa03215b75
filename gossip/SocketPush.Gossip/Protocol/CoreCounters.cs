namespace SocketPush.Gossip.Protocol;

/// <summary>Counters kept by the core; the driver adds what it counts itself.</summary>
internal struct CoreCounters
{
    public long Probes;
    public long FailedProbes;
    public long Suspicions;
    public long Refutations;
    public long DatagramsSent;
    public long BytesSent;
    public long DatagramsReceived;
    public long DroppedMalformed;
    public long DroppedUnauthenticated;
    public long DroppedOversize;
    public long DroppedUnknownVersion;
    public long DroppedReplayed;
    public long PushPulls;
}
