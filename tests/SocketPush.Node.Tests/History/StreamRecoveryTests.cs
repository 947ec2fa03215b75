using System.Text.Json;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Edge;

namespace SocketPush.Node.Tests.History;

/// <summary>
/// The recovery's orderings that a real node meets only by chance, made to happen in <see cref="RecoveryHarness"/>:
/// a message published while the node still learns the user's channels, an event sent while another stream still
/// recovers, a client that drops before it is told a stream could not be recovered.
/// </summary>
public sealed class StreamRecoveryTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    /// <summary>What a connection sent: messages and events, with the event id a plain SSE stream gives them.</summary>
    private sealed class Sent
    {
        public List<(PushMessage Message, string? Id)> Events { get; } = [];

        public void Record(SimConnection connection, PushMessage message, string? id) => Events.Add((message, id));

        /// <summary>Each event as <c>stream@offset</c> (the user's own stream as <c>user</c>), or its name.</summary>
        public List<string> Describe() => [.. Events.Select(e => e.Message.Position is { } p
            ? $"{(StreamCursors.StreamOf(e.Message) is { Length: > 0 } channel ? channel : "user")}@{p.Offset}"
            : e.Message.Kind)];
    }

    [Fact]
    public void A_plain_sse_event_id_sent_while_another_stream_still_recovers_keeps_that_streams_position()
    {
        using var harness = new RecoveryHarness(channels: 1, size: 10, Minute);
        harness.Publish("", 1, "p1");
        var user = harness.Last[""];
        harness.Publish("c0", 2, "p2");
        var channel = harness.Last["c0"];
        harness.Publish("", 3, "p3");
        var sent = new Sent();

        // The client saw the user's first message and the channel's; it missed the user's second.
        harness.Connect($"u:{user},c:c0:{channel}", sse: true, sent.Record);
        harness.Answer(null);
        harness.Answer("");

        var (message, id) = Assert.Single(sent.Events);
        Assert.Equal(user with { Offset = 2 }, message.Position);
        // The channel is still held: its place in the id is the client's, so a reconnect with this id recovers it
        // from there (without it, the channel would start from now and what it missed would be lost unannounced).
        Assert.Equal(new Dictionary<string, StreamPosition> { [""] = user with { Offset = 2 }, ["c0"] = channel }, StreamCursors.ParseToken(id));
    }

    [Fact]
    public void A_channel_a_live_message_reached_before_the_recovery_held_it_goes_on_from_that_message_without_a_gap()
    {
        using var harness = new RecoveryHarness(channels: 1, size: 10, Minute);
        var sent = new Sent();
        harness.Connect("", sse: false, sent.Record);

        // Registered, but the node does not know the user's channels yet: the channel's message goes out live.
        harness.Publish("c0", 1, "p1");
        harness.Answer(null);
        // Now the channel is held while it is read; what is published meanwhile waits.
        harness.Publish("c0", 2, "p2");
        harness.Answer("c0");
        harness.Answer("");
        harness.Publish("c0", 3, "p3");

        Assert.Equal(["c0@1", "c0@2", StreamRecovery.StreamsEvent, "c0@3"], sent.Describe());
        var report = sent.Events[2].Message.Data;
        Assert.Equal(harness.Last["c0"] with { Offset = 2 }, Positions.OfReport(report)["c0"]);
        Assert.Null(Positions.RecoveredOf(report)["c0"]);
    }

    [Fact]
    public void A_channel_the_connection_received_live_before_its_recovery_held_it_stays_in_plain_sse_event_ids()
    {
        using var harness = new RecoveryHarness(channels: 1, size: 10, Minute);
        harness.Publish("", 1, "u1");
        var user = harness.Last[""];
        var sent = new Sent();
        // The client had the user's stream only; the node does not know the user's channels yet when c0's first
        // message goes out to the connection live.
        harness.Connect($"u:{user}", sse: true, sent.Record);
        harness.Publish("c0", 2, "c1");
        var channel = harness.Last["c0"];
        harness.Answer(null);
        harness.Answer("");
        harness.Publish("", 3, "u2");

        Assert.Equal(["c0@1", "user@2"], sent.Describe());
        // c0 is held while it is read: the id of the user's message still names where the client is in it, so a
        // client that drops now and comes back with this id loses nothing of c0 unannounced.
        Assert.Equal(channel, StreamCursors.ParseToken(sent.Events[1].Id)!["c0"]);
    }

    [Fact]
    public void A_message_delivered_again_while_its_channel_is_held_goes_out_once()
    {
        using var harness = new RecoveryHarness(channels: 1, size: 10, Minute);
        var sent = new Sent();
        harness.Connect("", sse: false, sent.Record);
        // A publish retried before its first attempt completed: the owner delivers its position twice.
        harness.Publish("c0", 1, "p1", deliverNow: false);
        harness.Publish("c0", 1, "p1", deliverNow: false);
        harness.Deliver("c0");
        harness.Answer(null);
        harness.Deliver("c0");
        harness.Answer("c0");
        harness.Answer("");
        harness.Publish("c0", 2, "p2");

        Assert.Equal(["c0@1", StreamRecovery.StreamsEvent, "c0@2"], sent.Describe());
    }

    [Fact]
    public void A_stream_that_cannot_be_recovered_goes_on_only_once_the_client_was_told_and_keeps_its_old_place_in_ids_until_then()
    {
        using var harness = new RecoveryHarness(channels: 2, size: 2, Minute);
        harness.Publish("", 1, "u1");
        var user = harness.Last[""];
        harness.Publish("c1", 2, "c1-1");
        var c1 = harness.Last["c1"];
        for (var n = 1; n <= 5; n++)
        {
            harness.Publish("c0", 10 + n, $"c0-{n}");
        }

        var c0 = harness.Last["c0"] with { Offset = 1 };
        var sent = new Sent();
        harness.Connect($"u:{user},c:c0:{c0},c:c1:{c1}", sse: true, sent.Record);
        harness.Answer(null);
        // c0 keeps only its last 2 messages: incomplete. c1 missed nothing and goes on live.
        harness.Answer("c0");
        harness.Answer("c1");
        harness.Publish("c1", 3, "c1-2");
        harness.Publish("c0", 16, "c0-6");
        harness.Answer("");

        Assert.Equal(["c1@2", StreamRecovery.StreamsEvent, "c0@6"], sent.Describe());
        // The id of what went out before the report keeps c0 where the client was: a client that drops before the
        // report recovers from there again and is told, instead of resuming at c0's new start without knowing.
        Assert.Equal(c0, StreamCursors.ParseToken(sent.Events[0].Id)!["c0"]);
        var report = sent.Events[1].Message.Data;
        Assert.False(Positions.RecoveredOf(report)["c0"]);
        Assert.Equal(c0 with { Offset = 5 }, Positions.OfReport(report)["c0"]);
        Assert.True(Positions.RecoveredOf(report)["c1"]);
        Assert.Equal(16, sent.Events[2].Message.Data.GetProperty("n").GetInt32());
        Assert.Equal(c0 with { Offset = 6 }, StreamCursors.ParseToken(sent.Events[2].Id)!["c0"]);
    }

    [Fact]
    public void A_recovery_sends_the_missed_messages_once_before_those_published_while_it_read()
    {
        using var harness = new RecoveryHarness(channels: 1, size: 10, Minute);
        harness.Publish("c0", 1, "p1");
        var seen = harness.Last["c0"];
        harness.Publish("c0", 2, "p2");
        var sent = new Sent();
        harness.Connect($"c:c0:{seen}", sse: false, sent.Record);
        harness.Answer(null);
        var read = Assert.Single(harness.Pending, r => r.Stream == "c0");
        Assert.False(RecoveryHarness.Advance(read));
        // Published after the owner read the stream and before its answer arrived: held, then sent after it once.
        harness.Publish("c0", 3, "p3");
        Assert.True(RecoveryHarness.Advance(read));
        harness.Pending.Remove(read);
        harness.Publish("c0", 4, "p4");
        harness.Answer("");

        Assert.Equal(["c0@2", "c0@3", "c0@4", StreamRecovery.StreamsEvent], sent.Describe());
        Assert.Equal([2, 3, 4], sent.Events.Take(3).Select(e => e.Message.Data.GetProperty("n").GetInt32()));
        Assert.Equal(JsonValueKind.True, sent.Events[3].Message.Data.GetProperty("channels").GetProperty("c0").GetProperty("recovered").ValueKind);
    }

    [Fact]
    public void A_stream_whose_history_cannot_be_read_is_told_recovered_false_at_the_clients_position_then_goes_on_live()
    {
        using var harness = new RecoveryHarness(channels: 1, size: 10, Minute);
        harness.Publish("c0", 1, "p1");
        var seen = harness.Last["c0"];
        harness.Publish("c0", 2, "p2");
        var sent = new Sent();
        harness.Connect($"c:c0:{seen}", sse: true, sent.Record);
        harness.Answer(null);
        harness.Fail("c0");
        harness.Answer("");
        harness.Publish("c0", 3, "p3");

        // Told before anything of the stream goes on, and not silently left out of the report.
        Assert.Equal([StreamRecovery.StreamsEvent, "c0@3"], sent.Describe());
        var report = sent.Events[0].Message.Data;
        Assert.False(Positions.RecoveredOf(report)["c0"]);
        Assert.Equal(seen, Positions.OfReport(report)["c0"]);
        Assert.Equal(seen, StreamCursors.ParseToken(sent.Events[0].Id)!["c0"]);
        Assert.Equal(3, sent.Events[1].Message.Data.GetProperty("n").GetInt32());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_live_gap_that_cannot_be_filled_is_told_before_the_messages_after_it_and_none_of_them_is_dropped(bool readFails)
    {
        // Without a read failure the gap cannot be filled because the stream keeps only its last message.
        using var harness = new RecoveryHarness(channels: 1, size: readFails ? 10 : 1, Minute);
        var sent = new Sent();
        harness.Connect("", sse: true, sent.Record);
        harness.Answer(null);
        harness.Answer("c0");
        harness.Answer("");
        harness.Publish("c0", 1, "p1");
        var before = harness.Last["c0"];

        // p2's delivery batch is lost between nodes: p3 arrives past the next offset and is held for a fill.
        harness.Publish("c0", 2, "p2", deliverNow: false);
        Assert.True(harness.InFlight["c0"].TryDequeue(out _));
        harness.Publish("c0", 3, "p3");
        harness.PassGrace();
        if (readFails)
        {
            harness.Fail("c0");
        }
        else
        {
            harness.Answer("c0");
        }

        harness.Publish("c0", 4, "p4");
        Assert.Equal([StreamRecovery.StreamsEvent, "c0@1", StreamRecovery.StreamsEvent, "c0@3", "c0@4"], sent.Describe());
        var report = sent.Events[2].Message.Data;
        Assert.False(Positions.RecoveredOf(report)["c0"]);
        Assert.Equal(before, Positions.OfReport(report)["c0"]);
        Assert.False(report.TryGetProperty("user", out _), "the report names only the stream with the gap");
        Assert.Equal([3, 4], sent.Events.Skip(3).Select(e => e.Message.Data.GetProperty("n").GetInt32()));
    }
}
