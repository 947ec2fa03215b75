using System.Text;
using SocketPush.Node.Cluster.Delivery;

namespace SocketPush.Node.Edge;

/// <summary>What a connection does with a message of a stream that keeps history.</summary>
internal enum Admission
{
    /// <summary>The next one of its stream (or the first, or of a new epoch): send it.</summary>
    Deliver,

    /// <summary>At or before what the connection has delivered: drop it.</summary>
    Duplicate,

    /// <summary>Kept back until the stream's recovery or gap fill ends.</summary>
    Held,
}

/// <summary>
/// One connection's place in each stream it receives: the last position delivered, so that each stream reaches the
/// client in offset order and once. A message past the next offset is held and the missing ones are fetched from the
/// stream's owner (a gap fill), as during a recovery. Streams are named by channelId, the user's own by "".
/// Not thread-safe: the connection calls it under its stream lock.
/// </summary>
internal sealed class StreamCursors
{
    /// <summary>Longest position token a plain SSE event id carries; streams beyond it are left out (newest kept).</summary>
    public const int MaxTokenLength = 4096;

    private readonly Dictionary<string, Cursor> _cursors = new(StringComparer.Ordinal);
    private long _sequence;

    private sealed class Cursor
    {
        public StreamPosition? Position;

        /// <summary>
        /// The stream's top when the connection joined it without a position (see <see cref="Release"/>): its place in
        /// the <see cref="Token"/> until a message gives it a position. Not a position: it drops nothing.
        /// </summary>
        public StreamPosition? Start;
        public List<PushMessage>? Held;
        public long Touched;

        /// <summary>Epochs the connection delivered and then left for a newer one, newest last (a few at most).</summary>
        public List<string>? Left;
    }

    /// <summary>How many left epochs a stream's cursor remembers.</summary>
    private const int LeftEpochs = 4;

    /// <summary>The stream a message belongs to: its channel, or "" for the user's own.</summary>
    public static string StreamOf(PushMessage message) => message.ChannelId ?? "";

    /// <summary>Decides for a message with a position; on a gap, <paramref name="fillFrom"/> is where the fill starts.</summary>
    public Admission Admit(PushMessage message, out StreamPosition? fillFrom)
    {
        fillFrom = null;
        var position = message.Position!.Value;
        var stream = StreamOf(message);
        if (!_cursors.TryGetValue(stream, out var cursor))
        {
            _cursors[stream] = cursor = new Cursor();
        }

        if (cursor.Held is { } held)
        {
            held.Add(message);
            return Admission.Held;
        }

        switch (Next(cursor, position))
        {
            case Admission.Held:
                cursor.Held = [message];
                fillFrom = cursor.Position;
                return Admission.Held;
            case var admission:
                return admission;
        }
    }

    /// <summary>
    /// Holds the stream's live messages from now on, until <see cref="Release"/> (a recovery is about to start).
    /// <paramref name="from"/>, the position the client gave, or else the one the connection reached (a live message
    /// came before the hold), stays in the <see cref="Token"/> meanwhile: a client that drops out during the recovery
    /// must still name it when it comes back. Messages a gap fill holds already stay held.
    /// </summary>
    public void Hold(string stream, StreamPosition? from = null)
    {
        var current = _cursors.GetValueOrDefault(stream);
        _cursors[stream] = new Cursor { Position = from ?? current?.Position, Held = current?.Held ?? [], Touched = ++_sequence, Left = current?.Left };
    }

    /// <summary>The position the connection reached in a stream (or holds it at), or null.</summary>
    public StreamPosition? PositionOf(string stream) => _cursors.GetValueOrDefault(stream)?.Position;

    public bool IsHeld(string stream) => _cursors.TryGetValue(stream, out var cursor) && cursor.Held is not null;

    /// <summary>How many live messages of a stream are held.</summary>
    public int HeldCount(string stream) => _cursors.TryGetValue(stream, out var cursor) ? cursor.Held?.Count ?? 0 : 0;

    /// <summary>
    /// A first part of what a recovery fetched, while the stream stays held: from <paramref name="from"/>, the
    /// messages to send now, in order and once. <see cref="PositionOf"/> is then where the next part (or the
    /// <see cref="Release"/>) goes on from.
    /// </summary>
    public List<PushMessage> Feed(string stream, StreamPosition from, IEnumerable<PushMessage> fetched)
    {
        var cursor = _cursors[stream];
        cursor.Position = from;
        return [.. fetched.Where(message => Next(cursor, message.Position!.Value) == Admission.Deliver)];
    }

    /// <summary>
    /// Ends a hold: from <paramref name="from"/>, the fetched messages and then the held ones, in order and without
    /// duplicates. Returns what to send; <paramref name="fillFrom"/> is set when a held message is still past the next
    /// offset (published after the fetch read the stream), and the stream stays held for another fill. Without
    /// <paramref name="from"/> every held message goes out from the first; <paramref name="start"/> then stands for the
    /// stream in the token until a message does.
    /// </summary>
    public List<PushMessage> Release(string stream, StreamPosition? from, IEnumerable<PushMessage> fetched, out StreamPosition? fillFrom, StreamPosition? start = null)
    {
        fillFrom = null;
        var cursor = _cursors[stream];
        var held = cursor.Held ?? [];
        cursor.Held = null;
        cursor.Position = from;
        cursor.Start = from is null ? start : null;
        var send = new List<PushMessage>();
        foreach (var message in fetched)
        {
            if (Next(cursor, message.Position!.Value) == Admission.Deliver)
            {
                send.Add(message);
            }
        }

        // By offset within an epoch, the epochs in the order their messages came: a new epoch's offsets start at 1
        // again, and sorted among the old one's they would go first and be dropped as duplicates of its position.
        var epochs = held.Select(m => m.Position!.Value.Epoch).Distinct(StringComparer.Ordinal).ToList();
        held = [.. held.OrderBy(m => epochs.IndexOf(m.Position!.Value.Epoch)).ThenBy(m => m.Position!.Value.Offset)];
        for (var i = 0; i < held.Count; i++)
        {
            switch (Next(cursor, held[i].Position!.Value))
            {
                case Admission.Deliver:
                    send.Add(held[i]);
                    break;
                case Admission.Held:
                    cursor.Held = held[i..];
                    fillFrom = cursor.Position;
                    return send;
            }
        }

        return send;
    }

    /// <summary>The positions this connection reached, <c>u:epoch.offset,c:channel:epoch.offset</c>: what plain SSE sends as its event id (see docs).</summary>
    /// <remarks>
    /// For <paramref name="sending"/>, the message being sent, its own position stands for its stream's: the cursor
    /// may be past it already (a recovery advances the cursor over every message it then sends).
    /// </remarks>
    public string Token(PushMessage? sending = null)
    {
        var token = new StringBuilder();
        var sendingStream = sending?.Position is null ? null : StreamOf(sending);
        foreach (var (stream, cursor) in _cursors.OrderByDescending(c => c.Value.Touched))
        {
            var current = stream == sendingStream ? sending!.Position : cursor.Position ?? cursor.Start;
            if (current is not { } position)
            {
                continue;
            }

            var item = stream.Length == 0 ? $"u:{position}" : $"c:{stream}:{position}";
            if (token.Length + item.Length + 1 > MaxTokenLength)
            {
                break;
            }

            token.Append(token.Length == 0 ? "" : ",").Append(item);
        }

        return token.ToString();
    }

    /// <summary>
    /// Reads a token of positions (a plain SSE Last-Event-ID, or the since of a hub's Recover): the user's own stream
    /// under "", channels by id. Null when it is not a token; an empty token is no position at all.
    /// </summary>
    public static Dictionary<string, StreamPosition>? ParseToken(string? token)
    {
        var positions = new Dictionary<string, StreamPosition>(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(token))
        {
            return positions;
        }

        if (token.Length > MaxParsedTokenLength)
        {
            return null;
        }

        foreach (var item in token.Split(','))
        {
            var colon = item.LastIndexOf(':');
            if (colon < 1 || !StreamPosition.TryParse(item.AsSpan(colon + 1), out var position))
            {
                return null;
            }

            var name = item[..colon];
            string? stream = name == "u" ? "" : name.StartsWith("c:", StringComparison.Ordinal) && name.Length > 2 ? name[2..] : null;
            if (stream is null || (stream.Length > 0 && SocketPush.Client.Services.Ids.Problem("channelId", stream) is not null) || !positions.TryAdd(stream, position))
            {
                return null;
            }
        }

        return positions;
    }

    /// <summary>Longest token a client may send: a thousand streams with the longest channel ids.</summary>
    public const int MaxParsedTokenLength = 256 * 1024;

    private Admission Next(Cursor cursor, StreamPosition position)
    {
        if (cursor.Left is { } left && left.Contains(position.Epoch))
        {
            // An epoch the connection left (a late message of the owner before a takeover, a batch overtaken by the
            // new epoch's): taking it again would interleave two epochs. The client was told continuity was lost.
            return Admission.Duplicate;
        }

        if (cursor.Position is not { } last || position.Epoch != last.Epoch)
        {
            // The first position, or a new epoch: the stream's continuity was lost, which the client sees in the epoch.
            if (cursor.Position is { } previous)
            {
                (cursor.Left ??= []).Add(previous.Epoch);
                if (cursor.Left.Count > LeftEpochs)
                {
                    cursor.Left.RemoveAt(0);
                }
            }

            cursor.Position = position;
            cursor.Touched = ++_sequence;
            return Admission.Deliver;
        }

        if (position.Offset <= last.Offset)
        {
            return Admission.Duplicate;
        }

        if (position.Offset > last.Offset + 1)
        {
            return Admission.Held;
        }

        cursor.Position = position;
        cursor.Touched = ++_sequence;
        return Admission.Deliver;
    }
}
