using System.Net;
using System.Text;
using System.Text.Json;
using SocketPush.Client.Tests.Infrastructure;

namespace SocketPush.Client.Tests;

/// <summary>
/// manager.status, the first method whose result is a JSON object: described as such, and the same object over
/// socket-push's path form, the JSON form and the .NET client. The node is this class's own, so the record counts are exact.
/// </summary>
public sealed class ManagerStatusTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    [Fact]
    public async Task Api_describes_status_as_a_method_without_parameters_with_an_object_result()
    {
        using var http = new HttpClient();
        using var api = JsonDocument.Parse(await http.GetStringAsync(new Uri(fixture.Node.AdminUrl, "/api")));

        var status = api.RootElement.GetProperty("manager").GetProperty("status");
        Assert.Equal("object", status.GetProperty("result").GetString());
        Assert.Equal(0, status.GetProperty("params").GetArrayLength());
    }

    [Fact]
    public async Task Status_is_the_same_object_over_both_http_forms_and_the_client()
    {
        using var client = fixture.Node.CreateClient();
        await client.Auth.SetAsync("status-a", "s-status-a");
        await client.Channel.SubscribeAsync("status-a", "status/x");
        await client.Channel.SubscribeAsync("status-b", "status/x");
        using var http = new HttpClient { BaseAddress = fixture.Node.AdminUrl };

        var answers = new Dictionary<string, JsonElement>(StringComparer.Ordinal)
        {
            ["GET /manager/status"] = await ResultAsync(http, new HttpRequestMessage(HttpMethod.Get, "/manager/status")),
            ["POST /api/manager/status {}"] = await ResultAsync(http, Post("{}")),
            ["POST /api/manager/status, no body"] = await ResultAsync(http, Post("")),
            ["client.Manager.StatusAsync"] = await client.Manager.StatusAsync(),
        };

        foreach (var (form, status) in answers)
        {
            AssertShape(form, status, users: 2, sessions: 1, channels: 1);
            Assert.True(JsonElement.DeepEquals(answers["GET /manager/status"], status), $"{form}: {status}");
        }
    }

    private void AssertShape(string form, JsonElement status, int users, int sessions, int channels)
    {
        Assert.True(status.ValueKind == JsonValueKind.Object, $"{form}: {status}");
        Assert.Equal(["nodeId", "joined", "members", "ringAgreed", "ringProblem", "virtualNodes", "replicas", "writeQuorum", "records", "pendingHandoff", "replication", "antiEntropy", "history", "config", "clusterConfig"], status.EnumerateObject().Select(p => p.Name));
        // No manager.setConfig on this node (the PHP test's is empty): no layer, and nobody to disagree with.
        Assert.Equal("""{"version":"none","agreed":true,"problem":null}""", status.GetProperty("clusterConfig").GetRawText());
        Assert.Equal(1, status.GetProperty("config").GetProperty("version").GetInt32());
        Assert.Equal(JsonValueKind.Null, status.GetProperty("config").GetProperty("lastReload").ValueKind);
        Assert.True(status.GetProperty("joined").GetBoolean());
        Assert.Equal(fixture.Node.NodeId, status.GetProperty("nodeId").GetString());
        Assert.True(status.GetProperty("ringAgreed").GetBoolean());
        Assert.Equal(2000, status.GetProperty("virtualNodes").GetInt32());
        Assert.Equal(1, status.GetProperty("replicas").GetInt32());
        Assert.Equal(1, status.GetProperty("writeQuorum").GetInt32());

        var member = Assert.Single(status.GetProperty("members").EnumerateArray().ToList());
        Assert.Equal(
            ["nodeId", "state", "incarnation", "address", "clientUrl", "adminUrl", "wireVersion", "configVersion", "standby", "standsInFor", "ringShare", "local", "records"],
            member.EnumerateObject().Select(p => p.Name));
        Assert.Equal(fixture.Node.NodeId, member.GetProperty("nodeId").GetString());
        Assert.Equal("alive", member.GetProperty("state").GetString());
        Assert.Equal(0, member.GetProperty("incarnation").GetInt32());
        Assert.Equal(fixture.Node.ClusterEndpoint, member.GetProperty("address").GetString());
        Assert.Equal(fixture.Node.ClientUrl, new Uri(member.GetProperty("clientUrl").GetString()!));
        Assert.Equal(fixture.Node.AdminUrl, new Uri(member.GetProperty("adminUrl").GetString()!));
        Assert.Equal(3, member.GetProperty("wireVersion").GetInt32());
        Assert.Equal("none", member.GetProperty("configVersion").GetString());
        Assert.Equal("1.0", member.GetProperty("ringShare").GetRawText());
        Assert.True(member.GetProperty("local").GetBoolean());

        // A node of one owns every record it holds and owes no copies.
        var held = $$"""{"users":{{users}},"sessions":{{sessions}},"channels":{{channels}},"owned":{{users + sessions + channels}},"copies":0,"keysUnderReplicated":0,"missingCopies":0}""";
        Assert.Equal(held, status.GetProperty("records").GetRawText());
        Assert.Equal(held, member.GetProperty("records").GetRawText());
        Assert.Equal(
            """{"replicas":3,"copiesPossible":1,"keysUnderReplicated":0,"missingCopies":0,"keysUnderReplicatedSample":[]}""",
            status.GetProperty("replication").GetRawText());
    }

    private static HttpRequestMessage Post(string body) =>
        new(HttpMethod.Post, "/api/manager/status") { Content = new StringContent(body, Encoding.UTF8, "application/json") };

    /// <summary>Sends the request and returns <c>result</c> of its <c>{"result": ...}</c> answer, which must be the only property.</summary>
    private static async Task<JsonElement> ResultAsync(HttpClient http, HttpRequestMessage request)
    {
        using (request)
        {
            using var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{request.Method} {request.RequestUri}: {(int)response.StatusCode} {body}");
            using var answer = JsonDocument.Parse(body);
            Assert.Equal(["result"], answer.RootElement.EnumerateObject().Select(p => p.Name));
            return answer.RootElement.GetProperty("result").Clone();
        }
    }
}
