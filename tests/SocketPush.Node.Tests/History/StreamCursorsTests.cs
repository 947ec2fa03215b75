using System.Text.Json;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Edge;

namespace SocketPush.Node.Tests.History;

/// <summary>A connection's place in its streams: order, duplicates, gaps, holds, and the position token.</summary>
public sealed class StreamCursorsTests
{
    private static PushMessage Message(string? channelId, string epoch, long offset) =>
        new(channelId is null ? "user" : "channel", channelId, JsonSerializer.SerializeToElement(offset), 0, new StreamPosition(epoch, offset));

    [Fact]
    public void The_next_offset_is_delivered_an_old_one_dropped_and_one_past_the_next_held_for_a_fill_from_the_last()
    {
        var cursors = new StreamCursors();

        Assert.Equal(Admission.Deliver, cursors.Admit(Message("news", "e", 5), out _));
        Assert.Equal(Admission.Deliver, cursors.Admit(Message("news", "e", 6), out _));
        Assert.Equal(Admission.Duplicate, cursors.Admit(Message("news", "e", 6), out _));
        Assert.Equal(Admission.Deliver, cursors.Admit(Message(null, "u", 1), out _));
        Assert.Equal(Admission.Held, cursors.Admit(Message("news", "e", 9), out var fillFrom));
        Assert.Equal(new StreamPosition("e", 6), fillFrom);
        Assert.Equal(Admission.Held, cursors.Admit(Message("news", "e", 8), out var second));
        Assert.Null(second);

        var sent = cursors.Release("news", new StreamPosition("e", 6), [Message("news", "e", 7), Message("news", "e", 8)], out var again);
        Assert.Null(again);
        Assert.Equal([7L, 8, 9], sent.Select(m => m.Position!.Value.Offset));
        Assert.Equal(Admission.Deliver, cursors.Admit(Message("news", "e", 10), out _));
    }

    [Fact]
    public void A_new_epoch_is_delivered_as_it_comes()
    {
        var cursors = new StreamCursors();
        cursors.Admit(Message("news", "old", 7), out _);

        Assert.Equal(Admission.Deliver, cursors.Admit(Message("news", "new", 1), out _));
        Assert.Equal(Admission.Deliver, cursors.Admit(Message("news", "new", 2), out _));
    }

    [Fact]
    public void A_late_message_of_an_epoch_the_connection_left_is_dropped_so_two_epochs_never_interleave()
    {
        var cursors = new StreamCursors();
        cursors.Admit(Message("news", "old", 7), out _);
        cursors.Admit(Message("news", "new", 1), out _);

        // The old owner's batch, overtaken by the new epoch's first message: dropped, also after a hold.
        Assert.Equal(Admission.Duplicate, cursors.Admit(Message("news", "old", 8), out _));
        cursors.Hold("news");
        Assert.Equal([2L], cursors.Release("news", new StreamPosition("new", 1), [Message("news", "old", 9), Message("news", "new", 2)], out _)
            .Select(m => m.Position!.Value.Offset));
        Assert.Equal(Admission.Deliver, cursors.Admit(Message("news", "new", 3), out _));
        Assert.Equal(Admission.Deliver, cursors.Admit(Message("news", "newer", 1), out _));
        Assert.Equal(Admission.Duplicate, cursors.Admit(Message("news", "new", 4), out _));
    }

    [Fact]
    public void A_held_stream_sends_the_fetched_messages_then_the_held_ones_once_and_asks_again_when_a_gap_remains()
    {
        var cursors = new StreamCursors();
        cursors.Hold("news");
        Assert.Equal(Admission.Held, cursors.Admit(Message("news", "e", 4), out var fill));
        Assert.Null(fill);
        cursors.Admit(Message("news", "e", 7), out _);

        var sent = cursors.Release("news", new StreamPosition("e", 1), [Message("news", "e", 2), Message("news", "e", 3), Message("news", "e", 4)], out var again);

        Assert.Equal([2L, 3, 4], sent.Select(m => m.Position!.Value.Offset));
        Assert.Equal(new StreamPosition("e", 4), again);
        Assert.True(cursors.IsHeld("news"));
        Assert.Equal([5L, 6, 7], cursors.Release("news", new StreamPosition("e", 4), [Message("news", "e", 5), Message("news", "e", 6)], out _)
            .Select(m => m.Position!.Value.Offset));
    }

    [Fact]
    public void Held_messages_of_a_new_epoch_follow_those_of_the_old_one_and_none_is_taken_for_a_duplicate()
    {
        var cursors = new StreamCursors();
        cursors.Hold("news", new StreamPosition("old", 4));
        // The owner forgot the stream and started it anew while it was held: offsets start at 1 again.
        foreach (var message in new[] { Message("news", "old", 5), Message("news", "new", 1), Message("news", "new", 2) })
        {
            Assert.Equal(Admission.Held, cursors.Admit(message, out _));
        }

        var sent = cursors.Release("news", new StreamPosition("old", 4), [], out var again);

        Assert.Null(again);
        Assert.Equal(["old.5", "new.1", "new.2"], sent.Select(m => m.Position!.Value.ToString()));
        Assert.Equal(Admission.Deliver, cursors.Admit(Message("news", "new", 3), out _));
    }

    [Fact]
    public void A_held_stream_keeps_its_position_in_the_token_the_clients_or_the_one_it_reached()
    {
        var cursors = new StreamCursors();
        cursors.Admit(Message("live", "e", 3), out _);
        cursors.Hold("live");
        cursors.Hold("", new StreamPosition("u", 7));

        var token = StreamCursors.ParseToken(cursors.Token())!;
        Assert.Equal(new StreamPosition("e", 3), token["live"]);
        Assert.Equal(new StreamPosition("u", 7), token[""]);
    }

    [Fact]
    public void An_incomplete_recovery_releases_from_the_top_dropping_held_messages_at_or_before_it()
    {
        var cursors = new StreamCursors();
        cursors.Hold("");
        cursors.Admit(Message(null, "e", 9), out _);
        cursors.Admit(Message(null, "e", 11), out _);

        var sent = cursors.Release("", new StreamPosition("e", 10), [], out _);

        Assert.Equal([11L], sent.Select(m => m.Position!.Value.Offset));
    }

    [Fact]
    public void The_token_lists_the_newest_streams_first_reads_back_and_uses_the_position_of_the_message_being_sent()
    {
        var cursors = new StreamCursors();
        cursors.Admit(Message("a:b/c.d", "e1", 3), out _);
        cursors.Admit(Message(null, "e2", 8), out _);

        var token = cursors.Token();
        Assert.Equal("u:e2.8,c:a:b/c.d:e1.3", token);
        var parsed = StreamCursors.ParseToken(token)!;
        Assert.Equal(new StreamPosition("e2", 8), parsed[""]);
        Assert.Equal(new StreamPosition("e1", 3), parsed["a:b/c.d"]);
        Assert.Equal("u:e2.5,c:a:b/c.d:e1.3", cursors.Token(Message(null, "e2", 5)));
    }

    [Fact]
    public void Released_without_a_position_every_held_message_goes_out_and_the_start_stands_in_the_token_until_one_does()
    {
        // A stream the client named no position for: its live messages were held while its top was read, and that
        // top includes them. They arrived after the connection registered, so they are the client's.
        var cursors = new StreamCursors();
        cursors.Hold("news");
        cursors.Admit(Message("news", "e", 3), out _);

        var sent = cursors.Release("news", null, [], out var fill, start: new StreamPosition("e", 3));

        Assert.Null(fill);
        Assert.Equal([3L], sent.Select(m => m.Position!.Value.Offset));
        cursors.Hold("");
        Assert.Empty(cursors.Release("", null, [], out _, start: new StreamPosition("u", 5)));
        Assert.Equal("u:u.5,c:news:e.3", cursors.Token());
        // The start drops nothing: a message of the user's stream that comes live now is delivered, and takes over.
        Assert.Equal(Admission.Deliver, cursors.Admit(Message(null, "u", 5), out _));
        Assert.Equal(Admission.Duplicate, cursors.Admit(Message(null, "u", 5), out _));
        Assert.Equal("u:u.5,c:news:e.3", cursors.Token());
    }

    [Fact]
    public void A_held_stream_keeps_the_position_the_client_gave_in_the_token_until_it_is_released()
    {
        // A recovery of two streams: the user's is released first, news is still being read from its owner. An SSE
        // event sent now carries the token a dropped EventSource comes back with: news must be in it.
        var cursors = new StreamCursors();
        cursors.Hold("news", new StreamPosition("e1", 4));
        cursors.Hold("", new StreamPosition("e2", 2));

        var sent = cursors.Release("", new StreamPosition("e2", 2), [Message(null, "e2", 3)], out _);

        Assert.Equal("u:e2.3,c:news:e1.4", cursors.Token(Assert.Single(sent)));
        Assert.True(cursors.IsHeld("news"));
    }

    [Theory]
    [InlineData("x")]
    [InlineData("u:e.1,u:e.2")]
    [InlineData("u:E.1")]
    [InlineData("u:e.-1")]
    [InlineData("c::e.1")]
    [InlineData("c:bad channel:e.1")]
    [InlineData("q:news:e.1")]
    [InlineData("u:e.1,")]
    public void A_token_that_is_not_a_list_of_positions_is_refused(string token) => Assert.Null(StreamCursors.ParseToken(token));

    [Fact]
    public void A_token_stays_within_its_bound_keeping_the_newest_streams()
    {
        var cursors = new StreamCursors();
        for (var i = 0; i < 100; i++)
        {
            cursors.Admit(Message(new string('c', 150) + i, "e", i + 1), out _);
        }

        var token = cursors.Token();
        Assert.True(token.Length <= StreamCursors.MaxTokenLength);
        Assert.StartsWith("c:" + new string('c', 150) + "99:", token, StringComparison.Ordinal);
        Assert.NotNull(StreamCursors.ParseToken(token));
    }
}
