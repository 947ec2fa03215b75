using System.Net;
using Microsoft.Extensions.Time.Testing;
using SocketPush.Gossip.Protocol;
using SocketPush.Gossip.Transport;

namespace SocketPush.Gossip.Tests;

/// <summary>The sealer's replay windows and its two keys during a rotation, on pure code.</summary>
public class SealerTests
{
    private static readonly IPEndPoint SenderEndPoint = new(IPAddress.Parse("10.0.0.7"), 7946);

    [Fact]
    public void A_payload_opens_once_and_its_replay_is_refused_and_counted()
    {
        using var sender = Sender("s");
        using var receiver = new DatagramSealer("s");
        var wire = sender.Seal("probe"u8, SealPurpose.Datagram);

        Assert.Equal("probe"u8.ToArray(), receiver.Open(wire, SealPurpose.Datagram, out var first));
        Assert.Equal(DropReason.None, first);
        Assert.Null(receiver.Open(wire, SealPurpose.Datagram, out var second));
        Assert.Equal(DropReason.Replayed, second);
        Assert.Equal(DropReason.Replayed, receiver.OpenInPlace(wire, SealPurpose.Datagram, out _));
        Assert.Equal(2, receiver.Replayed);
    }

    [Fact]
    public void Payloads_reordered_within_the_window_all_open_and_one_too_far_behind_is_refused()
    {
        using var sender = Sender("s");
        using var receiver = new DatagramSealer("s");
        var wires = Enumerable.Range(0, ReplayWindow.Size + 10).Select(_ => sender.Seal("x"u8, SealPurpose.Datagram)).ToList();

        // The newest first, then the other last Size − 1 in a shuffled order: all inside the window.
        var newest = wires[^1];
        Assert.NotNull(receiver.Open(newest, SealPurpose.Datagram, out _));
        var inWindow = wires[^ReplayWindow.Size..^1].ToArray();
        new Random(4).Shuffle(inWindow);
        Assert.All(inWindow, w => Assert.NotNull(receiver.Open(w, SealPurpose.Datagram, out _)));

        // Exactly Size behind the newest: can no longer be told from a replay.
        Assert.Null(receiver.Open(wires[^(ReplayWindow.Size + 1)], SealPurpose.Datagram, out var old));
        Assert.Equal(DropReason.Replayed, old);
        Assert.Equal(1, receiver.Replayed);
    }

    [Fact]
    public void Purposes_have_windows_of_their_own_and_connect_tokens_open_every_time()
    {
        using var sender = Sender("s");
        using var receiver = new DatagramSealer("s");
        var data = Enumerable.Range(0, 5).Select(_ => sender.Seal("d"u8, SealPurpose.Data)).ToList();
        var datagram = sender.Seal("g"u8, SealPurpose.Datagram);
        var token = sender.Seal("t"u8, SealPurpose.Connect);

        // Many data messages later, the datagram sealed after them still opens, and an earlier one too.
        Assert.All(data, d => Assert.NotNull(receiver.Open(d, SealPurpose.Data, out _)));
        Assert.NotNull(receiver.Open(datagram, SealPurpose.Datagram, out _));
        Assert.NotNull(receiver.Open(token, SealPurpose.Connect, out _));
        Assert.NotNull(receiver.Open(token, SealPurpose.Connect, out _));
        Assert.Equal(0, receiver.Replayed);
    }

    [Fact]
    public void A_restarted_sender_is_accepted_and_its_earlier_life_is_not()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using var receiver = new DatagramSealer("s");
        using var first = Sender("s", clock);
        var before = Enumerable.Range(0, 3).Select(_ => first.Seal("1"u8, SealPurpose.Datagram)).ToList();
        Assert.NotNull(receiver.Open(before[0], SealPurpose.Datagram, out _));

        // The same endpoint a second later: its counters start at its clock, above all it sent before.
        clock.Advance(TimeSpan.FromSeconds(1));
        using var restarted = Sender("s", clock);
        Assert.NotNull(receiver.Open(restarted.Seal("2"u8, SealPurpose.Datagram), SealPurpose.Datagram, out _));

        // What the earlier life sent, captured and sent now, is far behind the window.
        Assert.Null(receiver.Open(before[1], SealPurpose.Datagram, out var reason));
        Assert.Equal(DropReason.Replayed, reason);
    }

    [Fact]
    public void A_sender_whose_clock_went_back_is_refused_until_it_is_forgotten()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using var receiver = new DatagramSealer("s");
        using (var first = Sender("s", clock))
        {
            Assert.NotNull(receiver.Open(first.Seal("1"u8, SealPurpose.Datagram), SealPurpose.Datagram, out _));
        }

        // Restarted with its clock set ten seconds back.
        using var restarted = Sender("s", new FakeTimeProvider(clock.GetUtcNow().AddSeconds(-10)));
        Assert.Null(receiver.Open(restarted.Seal("2"u8, SealPurpose.Datagram), SealPurpose.Datagram, out _));

        // Declared dead (the membership forgets its windows then): its new life opens.
        receiver.Forget(SenderEndPoint.ToString());
        Assert.NotNull(receiver.Open(restarted.Seal("3"u8, SealPurpose.Datagram), SealPurpose.Datagram, out _));
    }

    [Fact]
    public void The_windows_kept_are_bounded_and_the_sender_heard_from_longest_ago_goes_first()
    {
        var guard = new ReplayGuard();
        for (ulong sender = 0; sender < ReplayGuard.MaxSenders; sender++)
        {
            Assert.True(guard.Accept(sender, SealPurpose.Datagram, 5));
        }

        Assert.True(guard.Accept(0, SealPurpose.Datagram, 6));              // sender 0 is now the most recent
        Assert.True(guard.Accept(ulong.MaxValue, SealPurpose.Datagram, 5)); // evicts sender 1
        Assert.Equal(ReplayGuard.MaxSenders, guard.Count);
        Assert.False(guard.Accept(0, SealPurpose.Datagram, 6));             // still known: a replay
        Assert.True(guard.Accept(1, SealPurpose.Datagram, 5));              // forgotten: starts afresh
    }

    [Fact]
    public void During_a_rotation_both_keys_open_and_a_dropped_key_no_longer_does()
    {
        using var oldOnly = Sender("old");
        using var rotating = new DatagramSealer("new", previousSecret: "old");
        using var newOnly = new DatagramSealer("new");
        var sealedOld = oldOnly.Seal("o"u8, SealPurpose.Datagram);

        Assert.NotNull(rotating.Open(sealedOld, SealPurpose.Datagram, out _));
        Assert.NotNull(rotating.Open(oldOnly.Seal("o2"u8, SealPurpose.Datagram), SealPurpose.Datagram, out _));
        Assert.Null(newOnly.Open(sealedOld, SealPurpose.Datagram, out var refused));
        Assert.Equal(DropReason.Unauthenticated, refused);

        // Sealing is under the current key only: a member that has only the old key cannot open it.
        Assert.Null(oldOnly.Open(rotating.Seal("n"u8, SealPurpose.Datagram), SealPurpose.Datagram, out var notOld));
        Assert.Equal(DropReason.Unauthenticated, notOld);

        // The rotation's last step on a live sealer: the old key is dropped.
        rotating.UpdateSecrets("new", previousSecret: null);
        Assert.Null(rotating.Open(oldOnly.Seal("o3"u8, SealPurpose.Datagram), SealPurpose.Datagram, out var dropped));
        Assert.Equal(DropReason.Unauthenticated, dropped);
        Assert.NotNull(rotating.Open(newOnly.Seal("n2"u8, SealPurpose.Datagram), SealPurpose.Datagram, out _));
    }

    [Fact]
    public void Sealing_cannot_be_turned_on_while_running()
    {
        using var plain = new DatagramSealer(null);
        Assert.Throws<InvalidOperationException>(() => plain.UpdateSecrets("s", null));
    }

    private static DatagramSealer Sender(string secret, TimeProvider? clock = null)
    {
        var sealer = new DatagramSealer(secret, clock: clock);
        sealer.SetSender(SenderEndPoint);
        return sealer;
    }
}
