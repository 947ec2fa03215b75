using System.Text.Json;
using System.Text.Json.Nodes;
using SocketPush.Client.Services;
using SocketPush.Node.Cluster.Delivery;

namespace SocketPush.Node.Edge;

/// <summary>
/// Sends a connection what it missed, from its streams' owners: on reconnect, every message after the positions the
/// client gives (its user's stream and each channel it is subscribed to), then live messages, in order and once; and
/// in a live stream, the messages of a gap (a message arrived past the next offset). The connection holds the
/// stream's live messages meanwhile. What could not be recovered is told per stream (<c>recovered: false</c>).
/// </summary>
internal sealed class StreamRecovery
{
    private readonly IStreamHistory history;
    private readonly IChannelService channels;
    private readonly EdgeMetrics metrics;
    private readonly ILogger<StreamRecovery> logger;
    private readonly TimeProvider time;

    /// <summary>
    /// Gap fills in flight, shared: the connections of a node that miss the same messages (a batch lost on its way
    /// here) wait for one read of the owner. Only gap fills: a gap's held message is in any read that started after
    /// it was sent, and a read that ends before it leaves the gap to be filled again; a recovery has no such message
    /// and reads for itself, after its hold began.
    /// </summary>
    private readonly SingleFlight<(PublicationKind Kind, string Id, StreamPosition? Since), StreamPage?> gapReads = new();

    /// <summary>Every connection that joins <paramref name="registry"/> from now on fills its gaps here.</summary>
    public StreamRecovery(ConnectionRegistry registry, IStreamHistory history, IChannelService channels, EdgeMetrics metrics, ILogger<StreamRecovery> logger, TimeProvider time)
    {
        (this.history, this.channels, this.metrics, this.logger, this.time) = (history, channels, metrics, logger, time);
        registry.Recovery = this;
    }

    /// <summary>The event that tells a client, per stream, its position and whether its recovery was complete.</summary>
    public const string StreamsEvent = "streams";

    /// <summary>The streams a recovering connection must hold before it registers: the user's own and the channels of its token.</summary>
    public static IEnumerable<string> StreamsToHold(IReadOnlyDictionary<string, StreamPosition> positions) => positions.Keys.Append("").Distinct(StringComparer.Ordinal);

    /// <summary>
    /// Recovers a registered connection whose streams of <paramref name="positions"/> (and its user's) are held:
    /// the user's stream and every channel the user is subscribed to, each from the client's position (or from now,
    /// without one). Returns what the <see cref="StreamsEvent"/> event says, which it also sends.
    /// </summary>
    public async Task<JsonObject> RecoverAsync(ClientConnection connection, IReadOnlyDictionary<string, StreamPosition> positions, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> subscribed;
        try
        {
            subscribed = await channels.GetSubscriptionsAsync(connection.UserId, cancellationToken).ConfigureAwait(false);
        }
        catch (ServiceException e)
        {
            // The user's owner cannot answer now (it died, the ring is moving): the channels the client had
            // positions in are the ones it was subscribed to; the others' positions come with their next message.
            ClientLog.RecoveryFailed(logger, connection.UserId, "subscriptions", e.Message);
            subscribed = [.. positions.Keys.Where(s => s.Length > 0)];
        }

        // Channels of the token the user is no longer subscribed to are released as they are: nothing more arrives.
        foreach (var stream in positions.Keys.Where(s => s.Length > 0 && !subscribed.Contains(s, StringComparer.Ordinal)))
        {
            Release(connection, stream, positions[stream], []);
        }

        var streams = subscribed.Prepend("").ToList();
        connection.Hold(streams.Where(s => !positions.ContainsKey(s) && s.Length > 0));
        var results = await Task.WhenAll(streams.Select(stream =>
            RecoverStreamAsync(connection, stream, positions.TryGetValue(stream, out var p) ? p : null, gap: false, cancellationToken))).ConfigureAwait(false);

        var report = Report(streams.Zip(results).Where(r => r.Second is not null).Select(r => (r.First, r.Second!.Value)));
        connection.TrySend(PushMessage.Event(StreamsEvent, JsonSerializer.SerializeToElement(report), time.GetTimestamp()));

        // Streams that could not be recovered go on only now that the client was told so: until then they kept the
        // client's position, so that a client that drops before the report (a plain SSE client's last event id)
        // is told again on its next reconnect rather than resuming silently after the messages it missed. A stream
        // whose history could not be read at all starts again from its next live message.
        foreach (var (stream, result) in streams.Zip(results))
        {
            if (result is { Recovered: false } r && Release(connection, stream, r.ReadFailed ? null : r.Top, []).FillFrom is { } missing)
            {
                FillGap(connection, stream, missing);
            }
        }

        return report;
    }

    /// <summary>
    /// What a <see cref="StreamsEvent"/> says of each stream: its position now and, when the client gave one, whether
    /// every message it missed was sent. The user's stream under <c>user</c>, channels under <c>channels</c>.
    /// </summary>
    private static JsonObject Report(IEnumerable<(string Stream, StreamOutcome Outcome)> outcomes)
    {
        var report = new JsonObject();
        var channelReports = new JsonObject();
        foreach (var (stream, outcome) in outcomes)
        {
            var item = new JsonObject { ["epoch"] = outcome.Top.Epoch, ["offset"] = outcome.Top.Offset };
            if (outcome.Recovered is { } recovered)
            {
                item["recovered"] = recovered;
            }

            if (stream.Length == 0)
            {
                report["user"] = item;
            }
            else
            {
                channelReports[stream] = item;
            }
        }

        report["channels"] = channelReports;
        return report;
    }

    /// <summary>
    /// Tells a live connection that one of its streams has a gap it cannot fill: a <see cref="StreamsEvent"/> naming
    /// only that stream, <c>recovered: false</c> at <paramref name="at"/> (where the connection was before the gap),
    /// sent before the messages after the gap.
    /// </summary>
    private void ReportGap(ClientConnection connection, string stream, StreamPosition at) =>
        connection.TrySend(PushMessage.Event(StreamsEvent, JsonSerializer.SerializeToElement(Report([(stream, new StreamOutcome(at, false))])), time.GetTimestamp()));

    /// <summary>
    /// A live gap whose messages the owner no longer holds or cannot send: the client is told (see
    /// <see cref="ReportGap"/>), then the held messages after the gap go out from the first, none dropped; another
    /// gap among them is filled, or told, in turn.
    /// </summary>
    private void GiveUpGap(ClientConnection connection, string stream, StreamPosition at)
    {
        ReportGap(connection, stream, at);
        if (Release(connection, stream, null, []).FillFrom is { } missing)
        {
            FillGap(connection, stream, missing);
        }
    }

    /// <summary>
    /// How one stream's recovery ended: its position (<paramref name="Top"/>) and whether the client got every message
    /// it missed (null: it gave no position). <paramref name="ReadFailed"/>: the history could not be read (the owner
    /// did not answer); <paramref name="Top"/> is then the client's own position.
    /// </summary>
    private readonly record struct StreamOutcome(StreamPosition Top, bool? Recovered, bool ReadFailed = false);

    /// <summary>How long a gap waits for its messages to arrive live before they are fetched from the owner.</summary>
    public static readonly TimeSpan ReorderGrace = TimeSpan.FromMilliseconds(50);

    /// <summary>A live message arrived past the next offset: fetches the missing ones, in the background.</summary>
    public void FillGap(ClientConnection connection, string stream, StreamPosition from) => _ = FillGapAsync(connection, stream, from);

    private async Task FillGapAsync(ClientConnection connection, string stream, StreamPosition from)
    {
        // Batches from the owner are served concurrently by the receiving node, so one may overtake another: the
        // missing message usually arrives within moments, and the fetch from the owner is for one that does not.
        await Task.Delay(ReorderGrace, time).ConfigureAwait(false);
        var (_, _, stillMissing) = Release(connection, stream, from, []);
        if (stillMissing is { } gap)
        {
            await RecoverStreamAsync(connection, stream, gap, gap: true, CancellationToken.None).ConfigureAwait(false);
        }
        else
        {
            metrics.GapFilled("arrived", 0);
        }
    }

    /// <summary>Releases a held stream of a connection and counts what was written at once (queued messages are counted by their queue).</summary>
    private (int Sent, List<PushMessage> Written, StreamPosition? FillFrom) Release(
        ClientConnection connection, string stream, StreamPosition? from, IEnumerable<PushMessage> fetched, StreamPosition? start = null) =>
        Delivered(connection.Release(stream, from, fetched, start));

    /// <summary>Counts what a release wrote at once.</summary>
    private (int Sent, List<PushMessage> Written, StreamPosition? FillFrom) Delivered((int Sent, List<PushMessage> Written, StreamPosition? FillFrom) released)
    {
        foreach (var message in released.Written)
        {
            metrics.Delivered(message, 1, time);
        }

        return released;
    }

    /// <summary>
    /// Reads the stream from <paramref name="from"/> and releases it with what was read (a recovery that is
    /// incomplete leaves the stream held for <see cref="RecoverAsync"/> to release after its report); null when it
    /// keeps no history.
    /// </summary>
    private async Task<StreamOutcome?> RecoverStreamAsync(
        ClientConnection connection, string stream, StreamPosition? from, bool gap, CancellationToken cancellationToken)
    {
        var kind = stream.Length == 0 ? PublicationKind.User : PublicationKind.Channel;
        var id = stream.Length == 0 ? connection.UserId : stream;
        var fetched = new List<PushMessage>();
        var since = from;
        StreamPage? page;
        try
        {
            while (true)
            {
                var (read, limit) = (since, from is null ? 0 : PageSize);
                page = gap
                    ? await gapReads.RunAsync((kind, id, read), () => history.ReadAsync(kind, id, read, limit, CancellationToken.None)).ConfigureAwait(false)
                    : await history.ReadAsync(kind, id, read, limit, cancellationToken).ConfigureAwait(false);
                if (page is null || from is null || !page.Complete)
                {
                    break;
                }

                fetched.AddRange(page.Messages.Select(m => new PushMessage(m)));
                if (page.Messages.Count < PageSize || page.Messages[^1].Position!.Value.Offset >= page.Top.Offset)
                {
                    break;
                }

                since = page.Messages[^1].Position;
            }
        }
#pragma warning disable CA1031 // A recovery that cannot read the owner (unreachable, timed out) ends as incomplete; the connection goes on live.
        catch (Exception e) when (e is ServiceException or TimeoutException or OperationCanceledException or IOException)
#pragma warning restore CA1031
        {
            ClientLog.RecoveryFailed(logger, connection.UserId, stream.Length == 0 ? "its user stream" : stream, e.Message);
            Count(gap, "failed", 0);
            if (from is not { } position)
            {
                // Nothing to recover: the next live message gives the stream its position.
                Release(connection, stream, null, []);
                return null;
            }

            if (!gap)
            {
                // Told in the report, released by RecoverAsync after it.
                return new StreamOutcome(position, false, ReadFailed: true);
            }

            GiveUpGap(connection, stream, position);
            return new StreamOutcome(position, false, ReadFailed: true);
        }

        if (page is null)
        {
            Release(connection, stream, null, []);
            return null;
        }

        if (from is null)
        {
            // No position from the client, so nothing to recover: what was held arrived live after the connection
            // registered, and all of it goes out (releasing from the top would drop those at or before it, published
            // while the top was read), after what a live message reached before the hold, if one did (else a message
            // delivered again, a retried publish's, would go out twice). The top stands for the stream in the
            // position token until a message does.
            var (_, _, fillHeld) = Delivered(connection.Start(stream, page.Top));
            if (fillHeld is { } held)
            {
                FillGap(connection, stream, held);
            }

            return new StreamOutcome(page.Top, null);
        }

        if (!page.Complete)
        {
            Count(gap, "incomplete", 0);
            if (!gap)
            {
                // Released by RecoverAsync once the streams event has told the client.
                return new StreamOutcome(page.Top, false);
            }

            GiveUpGap(connection, stream, from.Value);
            return new StreamOutcome(page.Top, false);
        }

        var (sent, _, fillFrom) = Delivered(await connection.ReleaseAsync(stream, from.Value, fetched, cancellationToken).ConfigureAwait(false));
        Count(gap, "recovered", sent);
        if (fillFrom is { } again)
        {
            FillGap(connection, stream, again);
        }

        return new StreamOutcome(page.Top, true);
    }

    private void Count(bool gap, string result, int messages)
    {
        if (gap)
        {
            metrics.GapFilled(result, messages);
        }
        else
        {
            metrics.Recovery(result, messages);
        }
    }

    /// <summary>Messages read from the owner per request.</summary>
    public const int PageSize = 1000;
}
