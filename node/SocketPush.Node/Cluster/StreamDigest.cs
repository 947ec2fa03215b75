using System.IO.Hashing;
using MemoryPack;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Owner.History;

namespace SocketPush.Node.Cluster;

/// <summary>
/// A node's copy of a stream as anti-entropy compares it: its key, epoch, last offset and a hash of the terms that
/// wrote its messages (those starting at or before its last offset: a term the owner claimed after its last message
/// says nothing yet about any copy). Entries are not compared: within one epoch and one set of terms an offset means
/// one message, so two copies with the same summary hold the same messages, and a copy with a lower offset misses some.
/// </summary>
[MemoryPackable]
internal readonly partial record struct StreamSummary(string Key, string Epoch, long Top, ulong Terms)
{
    public static StreamSummary Of(string key, StreamPosition top, IReadOnlyList<WriterTerm> terms) =>
        new(key, top.Epoch, top.Offset, XxHash64.HashToUInt64(MemoryPackSerializer.Serialize(terms.Where(t => t.Start <= top.Offset).ToArray())));

    /// <summary>
    /// Whether the owner's copy (<paramref name="owner"/>) must be sent whole to a replica whose copy is
    /// <paramref name="replica"/>: it has none, one of another epoch, one behind, or one whose terms differ (two owners
    /// wrote the epoch: the replica then refuses the copy as a conflict, and the owner checks with the replicas again).
    /// A copy ahead of the owner's under the same terms is left alone: the owner's next takeover reads it.
    /// </summary>
    public static bool ReplicaNeedsCopy(StreamSummary owner, StreamSummary? replica) =>
        replica is not { } copy || copy.Epoch != owner.Epoch || copy.Top < owner.Top || copy.Terms != owner.Terms;

    /// <summary>
    /// The digest of every bucket (<see cref="RecordDigest.BucketOf"/>) of <paramref name="summaries"/>: the wrapping
    /// sum of the XxHash64 of each summary's MemoryPack form, 0 for a bucket without streams.
    /// </summary>
    public static ulong[] Digests(IEnumerable<StreamSummary> summaries)
    {
        var digests = new ulong[RecordDigest.Buckets];
        foreach (var summary in summaries)
        {
            digests[RecordDigest.BucketOf(summary.Key)] += XxHash64.HashToUInt64(MemoryPackSerializer.Serialize(summary));
        }

        return digests;
    }
}

/// <summary>
/// What <see cref="Peers.HistoryDigest"/> answers: the buckets whose digests differ, those of them whose summaries it
/// sent (whole buckets, until <see cref="DigestRequest.MaxBytes"/>), and the summaries of its copies in them. A stream
/// of an included bucket without a summary is one the peer holds no copy of.
/// </summary>
[MemoryPackable]
internal sealed partial record StreamDigestAnswer(int[] Differing, int[] Included, StreamSummary[] Copies);
