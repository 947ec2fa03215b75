using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Owner.History;

/// <summary>What the other replicas of a key hold of its stream, as a new owner asks them.</summary>
/// <param name="Epoch">The replica's epoch; empty when it holds no copy.</param>
/// <param name="Offset">Its copy's last offset.</param>
/// <param name="Complete">Whether <paramref name="Entries"/> follow the new owner's position without a gap (its latest entries, when the new owner has no copy).</param>
/// <param name="Entries">What it holds beyond the new owner's position.</param>
/// <param name="Terms">Its copy's owners' stretches of the epoch.</param>
/// <param name="PublishIds">Every publish id its copy refuses, which a new epoch inherits (see <see cref="FormerId"/>).</param>
internal sealed record ReplicaStream(
    string Epoch, long Offset, bool Complete, IReadOnlyList<HistoryEntry> Entries, IReadOnlyList<WriterTerm> Terms, IReadOnlyList<FormerId>? PublishIds = null);

/// <summary>The key's other replicas, as the owner of a stream reaches them: the cluster implements it.</summary>
internal interface IStreamReplicas
{
    /// <summary>
    /// Copies a sequenced entry to the key's other replicas; completes once <c>cluster.writeQuorum</c> copies (this
    /// node's included) hold it, or fails <c>unavailable</c> (also when a replica holds another owner's messages of
    /// the epoch: the stream's next message then starts with a takeover).
    /// </summary>
    Task CopyAsync(string key, string epoch, HistoryEntry entry);

    /// <summary>Copies this node's whole stream (a new epoch, before anyone holds a position in it) to the key's other replicas, up to the write quorum.</summary>
    Task CopyWholeAsync(string key);

    /// <summary>
    /// Whether this node owns the key in the ring as it sees it now. A call that reached it as the owner just before
    /// the ring moved must not write the stream beside the new owner (two writers of one epoch).
    /// </summary>
    bool OwnsNow(string key);

    /// <summary>Asks the key's other replicas for their copy beyond <paramref name="mine"/>; null for a replica that did not answer.</summary>
    Task<IReadOnlyList<ReplicaStream?>> AskOthersAsync(string key, StreamPosition? mine);

    /// <summary>
    /// Copies that must agree before a new owner continues an epoch, its own included: replicas − write quorum + 1,
    /// so that they share a node with every write quorum, and so hold every acknowledged message.
    /// </summary>
    int TakeoverQuorum { get; }
}

/// <summary>
/// The owner's side of the streams: it sequences a publish, copies it to the key's replicas, and hands it to the
/// fan-out once the write quorum holds it, in offset order. A node that becomes a stream's owner (it did not write
/// the stream's last message) first asks the other replicas what they hold: it continues the epoch only when
/// enough of them agree to cover every acknowledged message (<see cref="IStreamReplicas.TakeoverQuorum"/>), taking
/// what it lacked, and starts a new epoch otherwise.
/// </summary>
internal sealed class OwnerStreams(HistoryStore history, IStreamReplicas replicas, LiveConfig config, ILogger<OwnerStreams> logger)
{
    private readonly SingleFlight<string, bool> _takeovers = new(StringComparer.Ordinal);

    private string LocalId => config.Current.Node.Id;

    /// <summary>
    /// Publishes to the stream of <paramref name="key"/>: <paramref name="fanOut"/> gets the message's position
    /// (null without history) and its result is the publish's. A publish id the stream holds, delivered, answers 0.
    /// </summary>
    public async Task<int> PublishAsync(string key, string publishId, JsonElement data, Func<StreamPosition?, Task<int>> fanOut)
    {
        if (history.RuleFor(key) is null)
        {
            return await fanOut(null).ConfigureAwait(false);
        }

        RefuseUnlessOwner(key);
        await TakeOverIfNeededAsync(key).ConfigureAwait(false);
        if (history.Sequence(key, publishId, data, LocalId) is not { } sequenced)
        {
            return await fanOut(null).ConfigureAwait(false);
        }

        if (sequenced.Duplicate)
        {
            return 0;
        }

        try
        {
            await replicas.CopyAsync(key, sequenced.Position.Epoch, sequenced.Entry).ConfigureAwait(false);
            await sequenced.Previous.ConfigureAwait(false);
            // The fan-out hands the message to local connections and starts its batches to other nodes before it
            // returns its task: the turn passes on once that is done, so the stream's messages go out in order.
            var delivery = fanOut(sequenced.Position);
            history.Confirm(key, sequenced.Position);
            sequenced.Turn.TrySetResult();
            return await delivery.ConfigureAwait(false);
        }
        finally
        {
            // A publish that failed its quorum gives up its turn; its entry stays unconfirmed, so a retry with the
            // same publish id copies and delivers it again instead of answering it was a duplicate.
            sequenced.Turn.TrySetResult();
        }
    }

    /// <summary>Reads the stream as its owner: after a takeover, so that a new owner answers with what the replicas hold.</summary>
    public async Task<HistoryRead?> ReadAsync(string key, StreamPosition? since, int limit)
    {
        if (history.RuleFor(key) is null)
        {
            return null;
        }

        RefuseUnlessOwner(key);
        await TakeOverIfNeededAsync(key).ConfigureAwait(false);
        return history.Read(key, since, limit);
    }

    /// <summary>
    /// Refuses a call that reached this node as the key's owner after the ring moved the key away: the caller's
    /// failover sends it to the new owner (see <c>ClusterRouter.AskOwnerWithFailoverAsync</c>).
    /// </summary>
    private void RefuseUnlessOwner(string key)
    {
        if (!replicas.OwnsNow(key))
        {
            throw new ServiceException(ErrorCodes.Unavailable, $"This node no longer owns {key}: the ring moved it; the call goes to the new owner.");
        }
    }

    /// <summary>
    /// Takes the stream over when this node has not written it since the ring last changed (see
    /// <see cref="HistoryStore.NeedsTakeover"/>): before it sequences, answers, or sends its copy as the owner's.
    /// </summary>
    public Task TakeOverIfNeededAsync(string key)
    {
        if (!history.NeedsTakeover(key, LocalId))
        {
            return Task.CompletedTask;
        }

        // Concurrent publishes of a stream wait for one takeover.
        return _takeovers.RunAsync(key, async () =>
        {
            await TakeOverAsync(key).ConfigureAwait(false);
            return true;
        });
    }

    private async Task TakeOverAsync(string key)
    {
        var mine = history.Snapshot(key);
        var answers = await replicas.AskOthersAsync(key, mine?.Top).ConfigureAwait(false);
        var decision = Decide(mine is { } copy ? new ReplicaStream(copy.Top.Epoch, copy.Top.Offset, true, [], copy.Terms) : null, answers, replicas.TakeoverQuorum);
        if (decision.Epoch is null && answers.Any(a => a is null))
        {
            // A replica that did not answer (busy, or dead and not yet out of the ring) may hold what proves the
            // epoch's continuity: a new epoch now would lose it for every client. The write quorum needs that replica
            // as much, so nothing is lost by answering "not now": the next message or read asks again.
            throw new ServiceException(ErrorCodes.Unavailable,
                $"Not every replica of {key} answered its new owner; the stream continues once they do (or once the ring drops them).");
        }

        if (decision.Epoch is null && (mine is not null || answers.Any(a => a is { Epoch.Length: > 0 })))
        {
            // Continuity lost for every client of the stream: say why, with what each copy held.
            static string Describe(ReplicaStream? copy) => copy is null ? "no answer"
                : copy.Epoch.Length == 0 ? "none" : $"{copy.Epoch}.{copy.Offset}{(copy.Complete ? "" : " incomplete")}, {copy.Entries.Count} entries, terms {WriterTerm.Describe(copy.Terms)}";
            OwnerLog.NewEpoch(logger, key, mine is { } m ? $"{m.Top}, terms {WriterTerm.Describe(m.Terms)}" : "none", string.Join("; ", answers.Select(Describe)), replicas.TakeoverQuorum);
        }

        // Whatever the decision, publish ids any copy holds are not appended again (in a new epoch they would be).
        IReadOnlyList<FormerId> publishIds = [.. history.PublishIdsOf(key), .. answers.SelectMany(a => a?.PublishIds ?? [])];
        history.TakeOver(key, decision.Epoch, decision.Top, decision.Entries, decision.Terms, publishIds, LocalId);
        if (decision.Epoch is null)
        {
            // A new epoch reaches the write quorum before a client is given a position in it (a read) or a message
            // of it (a publish): the epoch must outlive this node, as any acknowledged message does.
            try
            {
                await replicas.CopyWholeAsync(key).ConfigureAwait(false);
            }
            catch
            {
                // Not claimed until the replicas hold it: the next message or read tries again.
                history.Unclaim(key);
                throw;
            }
        }
    }

    /// <summary>What a new owner does with a stream, from its copy (<paramref name="mine"/>) and the other replicas' answers.</summary>
    /// <returns>The epoch to continue (null: start a new one), its top, the entries this node lacks and the epoch's terms.</returns>
    internal static (string? Epoch, long Top, IReadOnlyList<HistoryEntry> Entries, IReadOnlyList<WriterTerm> Terms) Decide(
        ReplicaStream? mine, IReadOnlyList<ReplicaStream?> answers, int quorum)
    {
        var newEpoch = ((string?)null, 0L, (IReadOnlyList<HistoryEntry>)[], (IReadOnlyList<WriterTerm>)[]);
        var copies = answers.OfType<ReplicaStream>().Where(a => a.Epoch.Length > 0).ToList();
        var all = mine is null ? copies : [.. copies, mine];
        if (all.Select(c => c.Epoch).Distinct(StringComparer.Ordinal).Count() != 1 || all.Count < quorum)
        {
            // Nobody holds the stream (a new one), copies disagree on the epoch, or too few hold it to be sure
            // they hold every acknowledged message: continuity cannot be shown.
            return newEpoch;
        }

        // Copies written by two owners at once (the two sides of a partition) hold different messages at one offset.
        if (all.Any(a => all.Any(b => WriterTerm.Diverge(a.Terms, a.Offset, b.Terms, b.Offset))))
        {
            return newEpoch;
        }

        // The longest copy that follows this node's position holds every acknowledged message beyond it; a copy
        // beyond that one, whose messages cannot be fetched (evicted), leaves a gap that only a new epoch makes honest.
        var position = mine?.Offset ?? 0;
        var longest = copies.Where(c => c.Complete).MaxBy(c => c.Offset);
        var top = Math.Max(position, longest?.Offset ?? 0);
        var reachesTop = longest is null || longest.Offset <= position
            || (longest.Entries.Count > 0 && longest.Entries[^1].Offset == longest.Offset && (mine is null || longest.Entries[0].Offset == position + 1))
            || (mine is null && longest.Entries.Count == 0);
        if (all.Any(c => c.Offset > top) || !reachesTop)
        {
            return newEpoch;
        }

        // The longest copy's terms describe every offset the others hold (they agree up to each one's end).
        var terms = all.MaxBy(c => c.Offset)!.Terms;
        return (all[0].Epoch, top, longest is not null && longest.Offset > position ? longest.Entries : [], terms);
    }
}
