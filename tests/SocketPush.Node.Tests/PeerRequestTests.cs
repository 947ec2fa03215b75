using System.Reflection;
using MemoryPack;
using SocketPush.Node.Cluster;
using SocketPush.Node.Cluster.ConfigLayer;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Cluster.Peers;
using SocketPush.Node.Owner.History;
using SocketPush.Node.Owner.Records;

namespace SocketPush.Node.Tests;

/// <summary>Every message between nodes travels as a typed MemoryPack record behind the wire version byte.</summary>
[Collection(FuzzCollection.Name)]
public sealed class PeerRequestTests
{
    private static readonly Stamp At = new(1_234_567 << 16, "n1");

    private static RecordBatch SampleBatch() => new(
        new Dictionary<string, UserRecord>
        {
            ["u1"] = new(new Register("s1", At), ElementSet.Empty.Set("news", true, At).Set("sports", false, At with { Time = At.Time + 1 })),
        },
        new Dictionary<string, SessionRecord> { ["s1"] = new(new Register("u1", At)) },
        new Dictionary<string, ChannelRecord> { ["news"] = new(ElementSet.Empty.Set("u1", true, At)) });

    /// <summary>One instance of every request type, each field set to something other than its default.</summary>
    private static readonly PeerRequest[] Samples =
    [
        new AuthSet("u1", "s1"),
        new AuthCheck("s1"),
        new AuthRemove("u1"),
        new UserPublish("u1", """{"text":"hé","n":[1,2.5,null]}"""u8.ToArray(), "p-1"),
        new UserRemove("u1"),
        new ChannelSubscribe("u1", "news/eu"),
        new ChannelUnsubscribe("u1", "news/eu"),
        new ChannelUnsubscribeAll("u1"),
        new ChannelGetSubscriptions("u1"),
        new ChannelGetSubscribers("news/eu"),
        new ChannelPublish("news/eu", "\"plain\""u8.ToArray(), "backend-42"),
        new RecordsBindSession("s1", "u1"),
        new RecordsUserOfSession("s1"),
        new RecordsUnbindSession("s1", "u1"),
        new RecordsClearSession("u1", "s1"),
        new RecordsAddSubscriber("news/eu", "u1"),
        new RecordsRemoveSubscriber("news/eu", "u1"),
        new RecordsSetPresence("u1", "n2", online: true, stamp: 99),
        new RecordsListChannels(),
        new RecordsMerge(SampleBatch()),
        new RecordsCount(),
        new RecordsDigest(new DigestRequest("n2", [1, 2, ulong.MaxValue], 4096)),
        new EdgeDeliver(PublicationKind.Channel, "news/eu", "[1]"u8.ToArray(), 1_700_000_000_000, ["u1", "u2"], ownersDeliver: true, epoch: "k3x9ab", offset: 17),
        new EdgeDeliver(PublicationKind.User, null, "{}"u8.ToArray(), 1_700_000_000_000, ["u1"], ownersDeliver: false, epoch: null, offset: 0),
        new EdgeDisconnect("u1"),
        new EdgeListUsers(),
        new HistoryFetch("c:news/eu", "k3x9ab", 17, 100, asOwner: true),
        new HistoryFetch("u:u1", null, 0, 0, asOwner: false),
        new HistoryCopy("c:news/eu", "k3x9ab", 18, [new HistoryPageEntry(18, "p-18", "{\"a\":1}"u8.ToArray(), 1_700_000_000_000, "n1")], [new("t1", 1), new("t2", 9)], [], CopyKind.Append),
        new HistoryCopy("u:u1", "k3x9ab", 0, [], [], [new("p-3", 1_700_000_000_000)], CopyKind.WholeStream),
        new HistoryDigest(new DigestRequest("n2", [1, ulong.MaxValue], 4096)),
        new ConfigExchange(SampleLayer()),
    ];

    private static StampedLayer SampleLayer() =>
        StampedLayer.Empty.Set(new Dictionary<string, string?> { ["options.maxConnections"] = "5000", ["logging.level"] = null }, At);

    [Fact]
    public void The_samples_cover_every_request_type_of_the_union()
    {
        var union = typeof(PeerRequest).GetCustomAttributes<MemoryPackUnionAttribute>().Select(a => a.Type).ToHashSet();
        Assert.Equal(union.Order(TypeNames.Instance), Samples.Select(s => s.GetType()).Distinct().Order(TypeNames.Instance));
        Assert.Equal(union.Count, union.Select(t => typeof(PeerRequest).GetCustomAttributes<MemoryPackUnionAttribute>().Single(a => a.Type == t).Tag).Distinct().Count());
    }

    [Fact]
    public void Every_request_round_trips_in_an_envelope_behind_the_wire_version()
    {
        foreach (var request in Samples)
        {
            var wire = new PeerEnvelope { Id = 7, From = "n1", Hops = 1, Request = request }.Encode();
            Assert.Equal(ClusterSettings.WireVersion, wire[0]);

            var decoded = PeerEnvelope.TryDecode(wire, out var problem);
            Assert.True(decoded is not null, $"{request.GetType().Name}: {problem}");
            Assert.Equal((7L, "n1", (byte)1), (decoded.Id, decoded.From, decoded.Hops));
            Assert.IsType(request.GetType(), decoded.Request);
            Assert.Null(decoded.Request.MissingProperty());
            // Same bytes again: every field came back as it was sent.
            Assert.Equal(MemoryPackSerializer.Serialize<PeerRequest>(request), MemoryPackSerializer.Serialize(decoded.Request));
        }
    }

    [Fact]
    public void Answers_round_trip_as_the_result_type_of_their_request()
    {
        AssertAnswer("former-user");
        AssertAnswer(true);
        AssertAnswer(1234);
        AssertAnswer<string[]>(["a", "b"]);
        AssertAnswer(new HeldRecords(1, 2, 3, 4, 5, 6, 7));
        AssertAnswer(new DigestAnswer([3, 200], [3], SampleBatch()));
        AssertAnswer(new StreamDigestAnswer([3, 200], [3], [new StreamSummary("c:news/eu", "k3x9ab", 17, ulong.MaxValue)]));
        AssertAnswer(SampleLayer());
        Assert.Equal(SampleLayer().Version, MemoryPackSerializer.Deserialize<StampedLayer>(MemoryPackSerializer.Serialize(SampleLayer()))!.Version);

        var failure = PeerEnvelope.TryDecode(new PeerEnvelope { Id = 9, ErrorCode = "unavailable", ErrorMessage = "no" }.Encode(), out _);
        Assert.NotNull(failure);
        Assert.True(failure.IsAnswer);
        Assert.Equal(("unavailable", "no"), (failure.ErrorCode, failure.ErrorMessage));
    }

    [Fact]
    public void Records_read_back_keep_their_elements_in_ordinal_order_and_merge_as_before()
    {
        var batch = SampleBatch();
        batch.Channels["mixed"] = new(ElementSet.Empty.Set("b", true, At).Set("B", true, At).Set("a-b", true, At).Set("ab", true, At));
        var back = MemoryPackSerializer.Deserialize<RecordBatch>(MemoryPackSerializer.Serialize(batch))!;

        Assert.Equal(["B", "a-b", "ab", "b"], back.Channels["mixed"].Subscribers.Elements.Keys);
        Assert.Same(StringComparer.Ordinal, back.Channels["mixed"].Subscribers.Elements.KeyComparer);
        Assert.Equal(batch.Users["u1"].Session, back.Users["u1"].Session);
        Assert.True(back.Users["u1"].Subscriptions.Contains("news"));
        Assert.False(back.Users["u1"].Subscriptions.Contains("sports"));
        Assert.Equal(batch.LatestStamp, back.LatestStamp);
    }

    [Fact]
    public void A_wrong_version_garbage_or_a_request_without_its_ids_is_refused_without_a_throw()
    {
        var wire = new PeerEnvelope { Id = 1, From = "n1", Request = new AuthSet("u1", "s1") }.Encode();
        byte[] otherVersion = [.. wire];
        otherVersion[0] = ClusterSettings.WireVersion - 1;

        Assert.Null(PeerEnvelope.TryDecode(otherVersion, out var problem));
        Assert.Contains("unknown wire version", problem, StringComparison.Ordinal);
        Assert.Null(PeerEnvelope.TryDecode([ClusterSettings.WireVersion], out _));
        Assert.Null(PeerEnvelope.TryDecode(wire.AsSpan(0, wire.Length / 2), out _));

        var random = new Random(21);
        for (var i = 0; i < 2_000; i++)
        {
            var garbage = new byte[random.Next(1, 64)];
            random.NextBytes(garbage);
            garbage[0] = ClusterSettings.WireVersion;
            _ = PeerEnvelope.TryDecode(garbage, out _);
        }

        // A request whose id decodes as null (a corrupt or hostile peer) names what it lacks instead of reaching a service.
        var nulls = PeerEnvelope.TryDecode(new PeerEnvelope { Id = 2, Request = new AuthSet(null!, "s1") }.Encode(), out _);
        Assert.Equal("UserId", nulls?.Request?.MissingProperty());
        Assert.Null(new ChannelPublish("c", [], "p").MissingProperty());
    }

    [Fact]
    public void Requests_are_labelled_as_the_metrics_were_before_and_only_deliveries_are_not_repeated()
    {
        Assert.Equal(("auth", "set"), new AuthSet("u", "s").Label());
        Assert.Equal(("channel", "unsubscribeAll"), new ChannelUnsubscribeAll("u").Label());
        Assert.Equal(("records", "bindSession"), new RecordsBindSession("s", "u").Label());
        Assert.Equal(("records", "count"), new RecordsCount().Label());
        Assert.Equal(("edge", "deliver"), Samples.OfType<EdgeDeliver>().First().Label());
        Assert.Equal(("history", "fetch"), Samples.OfType<HistoryFetch>().First().Label());
        Assert.Equal(
            ["ChannelPublish", "EdgeDeliver", "UserPublish"],
            Samples.Where(s => !s.Repeatable()).Select(s => s.GetType().Name).Distinct().Order(StringComparer.Ordinal));
    }

    private static void AssertAnswer<T>(T value)
    {
        var wire = new PeerEnvelope { Id = 3, From = "n2", Result = MemoryPackSerializer.Serialize(value) }.Encode();
        var answer = PeerEnvelope.TryDecode(wire, out _);
        Assert.NotNull(answer);
        Assert.True(answer.IsAnswer);
        Assert.True(PeerRequest<T>.TryReadResult(answer.Result, out var back));
        Assert.Equal(MemoryPackSerializer.Serialize(value), MemoryPackSerializer.Serialize(back));
    }

    private sealed class TypeNames : IComparer<Type>
    {
        public static readonly TypeNames Instance = new();

        public int Compare(Type? x, Type? y) => string.CompareOrdinal(x?.Name, y?.Name);
    }
}
