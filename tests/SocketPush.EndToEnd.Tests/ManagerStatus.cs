using System.Globalization;
using System.Text.Json;

namespace SocketPush.EndToEnd.Tests;

/// <summary>
/// What manager.status answered on one node, with the parts the cluster tests look at; as a string, the whole
/// answer, so a failed check shows everything the node said.
/// </summary>
internal sealed record ManagerStatus(JsonElement Json)
{
    public string NodeId => Json.GetProperty("nodeId").GetString()!;

    /// <summary>Every member this node knows (dead and left ones included), by id, with its state: alive, suspect, dead, left.</summary>
    public IReadOnlyDictionary<string, string> States =>
        Members.ToDictionary(m => m.GetProperty("nodeId").GetString()!, m => m.GetProperty("state").GetString()!, StringComparer.Ordinal);

    /// <summary>The members' ids in the state <paramref name="state"/>, in order.</summary>
    public IReadOnlyList<string> MembersIn(string state) =>
        [.. States.Where(s => s.Value == state).Select(s => s.Key).Order(StringComparer.Ordinal)];

    /// <summary>The ring share of every alive member, by id: nodes that compute the same shares name the same owners.</summary>
    public IReadOnlyDictionary<string, decimal> AliveShares =>
        Members.Where(m => m.GetProperty("state").GetString() == "alive")
            .ToDictionary(m => m.GetProperty("nodeId").GetString()!, m => m.GetProperty("ringShare").GetDecimal(), StringComparer.Ordinal);

    public bool RingAgreed => Json.GetProperty("ringAgreed").GetBoolean();

    /// <summary>The members waiting as standbys (node.standby, not promoted), in order.</summary>
    public IReadOnlyList<string> Standbys =>
        [.. Members.Where(m => m.GetProperty("standby").GetBoolean()).Select(m => m.GetProperty("nodeId").GetString()!).Order(StringComparer.Ordinal)];

    /// <summary>The dead member <paramref name="nodeId"/> stands in for ("" unless it is a promoted standby).</summary>
    public string StandsInFor(string nodeId) =>
        Members.Single(m => m.GetProperty("nodeId").GetString() == nodeId).GetProperty("standsInFor").GetString()!;

    public int VirtualNodes => Json.GetProperty("virtualNodes").GetInt32();

    /// <summary>Keys whose copies this node knows to be fewer than min(cluster.replicas, live nodes).</summary>
    public int KeysUnderReplicated => Json.GetProperty("replication").GetProperty("keysUnderReplicated").GetInt32();

    /// <summary>Copies this node still owes other replicas.</summary>
    public int MissingCopies => Json.GetProperty("replication").GetProperty("missingCopies").GetInt32();

    /// <summary>How many copies of each key the live ring allows: min(cluster.replicas, live nodes).</summary>
    public int CopiesPossible => Json.GetProperty("replication").GetProperty("copiesPossible").GetInt32();

    /// <summary>The records a member said it holds (users, sessions, channels, owned, copies), or null when it did not answer.</summary>
    public MemberRecords? RecordsOf(string nodeId) =>
        Members.Single(m => m.GetProperty("nodeId").GetString() == nodeId).GetProperty("records") is { ValueKind: JsonValueKind.Object } records
            ? records.Deserialize<MemberRecords>(JsonSerializerOptions.Web)
            : null;

    /// <summary>The last anti-entropy round this node started, or null before the first.</summary>
    public AntiEntropyRound? LastAntiEntropy =>
        Json.GetProperty("antiEntropy") is { ValueKind: JsonValueKind.Object } round
            ? new AntiEntropyRound(
                round.GetProperty("peer").GetString()!,
                DateTimeOffset.Parse(round.GetProperty("at").GetString()!, CultureInfo.InvariantCulture),
                round.GetProperty("result").GetString()!)
            : null;

    private IEnumerable<JsonElement> Members => Json.GetProperty("members").EnumerateArray();

    public override string ToString() => Json.ToString();
}

/// <summary>One member's records in manager.status.</summary>
internal sealed record MemberRecords(int Users, int Sessions, int Channels, int Owned, int Copies);

/// <summary>An anti-entropy round in manager.status: with whom, when, and <c>in_sync</c>, <c>repaired</c> or <c>failed</c>.</summary>
internal sealed record AntiEntropyRound(string Peer, DateTimeOffset At, string Result);
