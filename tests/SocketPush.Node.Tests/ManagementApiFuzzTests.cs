using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using SocketPush.Client.Services;
using SocketPush.Node.Tests.HubServer;

namespace SocketPush.Node.Tests;

/// <summary>
/// Bad calls generated from the catalog and sent over raw TCP to a real node, in both HTTP forms: wrong types,
/// missing, extra and doubled parameters, bytes that are not UTF-8, broken escapes, unpaired surrogates, deep nesting,
/// numbers JSON does not allow, ids past their limits, bodies too large, cut short or not objects, under any content
/// type (the API reads the body as JSON whatever the label says, so that <c>curl -d</c> works). Every one gets a 4xx
/// with a JSON error body, changes none of the records of the users and channels involved, and delivers nothing.
/// </summary>
[Collection(FuzzCollection.Name)]
[Trait("Category", "Fuzz")]
public sealed class ManagementApiFuzzTests : IAsyncLifetime
{
    private const int MaxMessageBytes = 1000;
    private static readonly string[] Users = ["fuzz-a", "fuzz-b"];
    private static readonly string[] Channels = ["ch-a", "ch/b"];
    private static readonly string[] Sessions = ["s-a", "s-b", "s-new"];
    private static readonly MethodDescriptor[] Methods = [.. ServiceCatalog.Default.Services.SelectMany(s => s.Methods)];

    private FakeClockNode _node = null!;
    private int _adminPort;

    public async Task InitializeAsync()
    {
        _node = await FakeClockNode.StartAsync(c => c.Options.MaxMessageBytes = MaxMessageBytes);
        _adminPort = new Uri(_node.Node.Host.Identity.AdminUrl).Port;
        await _node.CallAsync("auth", "set", new { userId = Users[0], sessionId = Sessions[0] });
        await _node.CallAsync("auth", "set", new { userId = Users[1], sessionId = Sessions[1] });
        await _node.CallAsync("channel", "subscribe", new { userId = Users[0], channelId = Channels[0] });
        await _node.CallAsync("channel", "subscribe", new { userId = Users[1], channelId = Channels[1] });
    }

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task Every_generated_bad_call_gets_a_4xx_json_error_and_changes_nothing()
    {
        await using var listener = await RawSocketClient.OpenHubAsync(_node.ClientPort, $"?userId={Users[0]}&sessionId={Sessions[0]}");
        var before = await SnapshotAsync();
        var codes = new Dictionary<string, int>(StringComparer.Ordinal);

        await Fuzz.RunAsync("management api: bad calls", 1500, async random =>
        {
            var call = random.Next(3) == 0 ? BadPathCall(random) : BadPostCall(random);
            var (status, body) = await SendAsync(call.Request, call.Truncated);

            // HTTP/1.1 has no half-close: a client that stops sending has gone, and the node just drops the connection.
            if (call.Truncated && status == 0)
            {
                return;
            }

            Assert.True(status is >= 400 and < 500, $"{call.What}: answered {status} {body}");
            var code = ErrorCodeOf(body);
            Assert.True(code is not null, $"{call.What}: answered {status} with a body that is not a JSON error: {body}");
            codes[code] = codes.GetValueOrDefault(code) + 1;
        });

        Assert.Equal(before, await SnapshotAsync());
        await listener.AssertQuietAsync("no refused publish was delivered");
        Assert.True(codes.Count >= 4, $"the calls were refused in too few ways to have reached the checks: {string.Join(", ", codes)}");
    }

    [Fact]
    public async Task A_valid_call_is_read_as_json_whatever_its_content_type_says()
    {
        foreach (var type in new[] { "application/json", "text/plain", "application/x-www-form-urlencoded", null })
        {
            var (status, body) = await SendAsync(Post("/api/channel/getSubscriptions", Encoding.UTF8.GetBytes($"{{\"userId\":\"{Users[0]}\"}}"), type), truncated: false);
            Assert.Equal((200, $"{{\"result\":[\"{Channels[0]}\"]}}"), (status, body));
        }
    }

    [Fact]
    public async Task A_body_that_stalls_short_of_its_content_length_gets_a_400_json_error_and_changes_nothing()
    {
        // Kestrel ends a body that arrives slower than its minimum data rate (240 bytes/s after a 5 s grace period).
        var body = Encoding.UTF8.GetBytes($"{{\"userId\":\"{Users[0]}\",\"channelId\":\"ch-new\"}}");
        await using var client = await RawSocketClient.ConnectAsync(_adminPort);

        await client.SendAsync(Post("/api/channel/subscribe", body, "application/json", declaredLength: body.Length + 10));
        var (status, _, answer) = await client.ReadHttpResponseAsync();

        Assert.Equal(400, status);
        Assert.Equal(ErrorCodes.MalformedJson, ErrorCodeOf(answer));
        Assert.Equal($"[\"{Channels[0]}\"]", (await _node.CallAsync("channel", "getSubscriptions", new { userId = Users[0] })).GetRawText());
    }

    [Theory]
    [InlineData("""{"userId":"fuzz-a","userId":"x"}""", "userId is given twice.")]
    [InlineData("""{"userId":"\ud800"}""", "userId holds an unpaired surrogate escape; it must be valid Unicode.")]
    [InlineData("""{"\udc00":"fuzz-a"}""", "a parameter name holds an unpaired surrogate escape; it must be valid Unicode.")]
    public async Task Doubled_parameters_and_unpaired_surrogates_are_invalid_arguments(string body, string error)
    {
        var (status, answer) = await SendAsync(Post("/api/channel/unsubscribeAll", Encoding.UTF8.GetBytes(body), "application/json"), truncated: false);

        Assert.Equal(400, status);
        using var json = JsonDocument.Parse(answer);
        Assert.Equal((ErrorCodes.InvalidArgument, error), (json.RootElement.GetProperty("code").GetString(), json.RootElement.GetProperty("error").GetString()));
        Assert.Equal($"[\"{Channels[0]}\"]", (await _node.CallAsync("channel", "getSubscriptions", new { userId = Users[0] })).GetRawText());
    }

    /// <summary>
    /// Messages a backend may publish, generated: strings of any Unicode (astral characters, escapes, control
    /// characters), numbers of every size, nesting. What a client receives is always UTF-8 and JSON, equal to what
    /// was published; what no client protocol can carry (an unpaired surrogate, a number beyond a double) is refused
    /// with 400 and reaches nobody; and the audience stays connected and gets the next message.
    /// </summary>
    [Fact]
    public async Task What_reaches_a_client_is_the_published_json_in_utf8_and_a_bad_publish_disconnects_nobody()
    {
        await using var json = await RawSocketClient.OpenHubAsync(_node.ClientPort, $"?userId={Users[1]}&sessionId={Sessions[1]}");
        var received = System.Threading.Channels.Channel.CreateUnbounded<object?>();
        await using var messagePack = _node.Hub(Users[1], Sessions[1], messagePack: true);
        messagePack.ServerTimeout = TimeSpan.FromHours(1); // the node's clock is fake: it sends no keep-alive
        messagePack.On<object?>("message", m => received.Writer.TryWrite(m));
        await messagePack.StartAsync();
        await _node.ConnectionsAsync(Users[1], 2);
        var refused = 0;

        await Fuzz.RunAsync("publish: what reaches a client", 1000, async random =>
        {
            var (message, readable) = Message(random, depth: 0);
            var viaChannel = random.Next(2) == 0;
            var target = viaChannel ? $"\"channelId\":\"{Channels[1]}\"" : $"\"userId\":\"{Users[1]}\"";
            var path = viaChannel ? "/api/channel/publish" : "/api/user/publish";
            var (status, body) = await SendAsync(Post(path, Encoding.UTF8.GetBytes($"{{{target},\"message\":{message}}}"), "application/json"), truncated: false);

            if (!readable)
            {
                Assert.True(status == 400, $"{message} answered {status} {body}");
                refused++;
                return;
            }

            Assert.True(status == 200 && body == "{\"result\":2}", $"{message} answered {status} {body}");
            var frame = await json.ReadMessageAsync();
            Assert.True(System.Text.Unicode.Utf8.IsValid(frame.Payload), $"{message} reached the client as bytes that are not UTF-8");
            using var invocation = JsonDocument.Parse(frame.Payload.AsMemory(0, frame.Payload.Length - 1));
            using var published = JsonDocument.Parse(message);
            Assert.True(JsonElement.DeepEquals(published.RootElement, invocation.RootElement.GetProperty("arguments")[0].GetProperty("data")), $"{message} arrived as {frame.Text}");
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            Assert.NotNull(await received.Reader.ReadAsync(timeout.Token));
        });

        Assert.Equal(HubConnectionState.Connected, messagePack.State);
        Assert.Equal(2, (await _node.CallAsync("user", "publish", new { userId = Users[1], message = "still here" })).GetInt32());
        Assert.Contains("\"still here\"", (await json.ReadMessageAsync()).Text, StringComparison.Ordinal);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            Assert.Equal("still here", DataOf(await received.Reader.ReadAsync(timeout.Token)));
        }

        Assert.True(Fuzz.LongSeconds is not null || refused > 0, "no unreadable message was generated");
    }

    [Theory]
    [InlineData("\"\\ud800\"")]
    [InlineData("{\"a\":[\"x\\udfff\"]}")]
    [InlineData("{\"\\ud83d\":1}")]
    [InlineData("\"\\ude00\\ud83d\"")]
    public async Task A_message_no_client_protocol_can_carry_is_refused_with_400_and_the_audience_gets_the_next(string message)
    {
        await using var messagePack = _node.Hub(Users[0], Sessions[0], messagePack: true);
        messagePack.ServerTimeout = TimeSpan.FromHours(1);
        var received = System.Threading.Channels.Channel.CreateUnbounded<object?>();
        messagePack.On<object?>("message", m => received.Writer.TryWrite(m));
        await messagePack.StartAsync();
        await _node.ConnectionsAsync(Users[0], 1);

        var (status, body) = await SendAsync(Post("/api/user/publish", Encoding.UTF8.GetBytes($"{{\"userId\":\"{Users[0]}\",\"message\":{message}}}"), "application/json"), truncated: false);

        Assert.Equal(400, status);
        Assert.Equal(ErrorCodes.InvalidArgument, JsonDocument.Parse(body).RootElement.GetProperty("code").GetString());
        Assert.Equal(1, (await _node.CallAsync("user", "publish", new { userId = Users[0], message = "next" })).GetInt32());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Assert.Equal("next", DataOf(await received.Reader.ReadAsync(timeout.Token)));
        Assert.Equal(HubConnectionState.Connected, messagePack.State);
    }

    /// <summary>The data of a message as the MessagePack protocol hands it over: a map.</summary>
    private static object? DataOf(object? message) => Assert.IsAssignableFrom<IDictionary<object, object?>>(message)["data"];

    /// <summary>A JSON value as text, and whether every client protocol can carry it.</summary>
    private static (string Json, bool Readable) Message(Random random, int depth)
    {
        switch (random.Next(depth > 3 ? 4 : 6))
        {
            case 0:
                return (JsonString(random, out var unpaired), !unpaired);
            case 1:
                return random.Next(8) switch
                {
                    0 => ("1e400", true), // a double's infinity, as JSON.parse reads it
                    1 => ("-2e308", true),
                    2 => ("123456789012345678901234567890", true),
                    3 => ("1.7976931348623157e308", true),
                    4 => ("-0.0", true),
                    5 => ("5e-324", true),
                    _ => (random.NextInt64(long.MinValue, long.MaxValue).ToString(CultureInfo.InvariantCulture), true),
                };
            case 2:
                return (random.Next(3) switch { 0 => "true", 1 => "false", _ => "null" }, true);
            case 3:
                return ("\"plain\"", true);
            case 4:
                var items = Enumerable.Range(0, random.Next(4)).Select(_ => Message(random, depth + 1)).ToList();
                return ($"[{string.Join(",", items.Select(i => i.Json))}]", items.All(i => i.Readable));
            default:
                var members = Enumerable.Range(0, random.Next(4)).Select(_ => (Key: JsonString(random, out var bad), Bad: bad, Value: Message(random, depth + 1))).ToList();
                return ($"{{{string.Join(",", members.Select(m => $"{m.Key}:{m.Value.Json}"))}}}", members.All(m => !m.Bad && m.Value.Readable));
        }
    }

    /// <summary>A JSON string: characters from every plane, written plain or escaped; sometimes an unpaired surrogate escape.</summary>
    private static string JsonString(Random random, out bool unpaired)
    {
        unpaired = false;
        var text = new StringBuilder("\"");
        for (var i = random.Next(6); i > 0; i--)
        {
            var rune = random.Next(6) switch
            {
                0 => random.Next(0x20),
                1 => random.Next(0x20, 0x80),
                2 => random.Next(0x80, 0xD800),
                3 => random.Next(0xE000, 0x10000),
                _ => random.Next(0x10000, 0x110000),
            };
            var value = new Rune(rune).ToString();
            if (random.Next(12) == 0)
            {
                unpaired = true;
                // Followed by a plain character, so that it never pairs with the next escape.
                text.Append(CultureInfo.InvariantCulture, $"\\u{random.Next(0xD800, 0xE000):x4}x");
            }
            else if (rune < 0x20 || random.Next(3) == 0)
            {
                // Escaped: a character outside the BMP as its surrogate pair of escapes.
                foreach (var c in value)
                {
                    text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
                }
            }
            else
            {
                text.Append(value is "\"" or "\\" ? "\\" + value : value);
            }
        }

        return text.Append('"').ToString();
    }

    private sealed record BadCall(byte[] Request, bool Truncated, string What);

    /// <summary>A valid value of a parameter, as JSON.</summary>
    private static string ValidJson(ParameterDescriptor parameter, Random random) => parameter.Name switch
    {
        "userId" => $"\"{Users[random.Next(Users.Length)]}\"",
        "channelId" => $"\"{Channels[random.Next(Channels.Length)]}\"",
        "sessionId" => $"\"{Sessions[random.Next(Sessions.Length)]}\"",
        _ when parameter.Type == "integer" => random.Next(100).ToString(CultureInfo.InvariantCulture),
        _ when parameter.Type == "string" => "\"fuzz\"",
        _ => "{\"text\":\"hello\"}",
    };

    /// <summary>An id that breaks its rule: past its length, an empty one, or characters it may not hold.</summary>
    private static string BadId(string name, Random random)
    {
        var limit = name switch { "userId" => Ids.MaxUserIdLength, "channelId" => Ids.MaxChannelIdLength, _ => Ids.MaxSessionIdLength };
        return random.Next(6) switch
        {
            0 => new string('a', limit + 1 + random.Next(3)),
            1 => new string('a', limit) + "\u00e9",
            2 => "",
            3 => "a b",
            4 => "a\u0000",
            _ => name == "sessionId" ? "s\u00e9" : "a\U0001F600",
        };
    }

    /// <summary>A call of the JSON form that the API must refuse, built from a catalog method by one mutation.</summary>
    private static BadCall BadPostCall(Random random)
    {
        var method = Methods[random.Next(Methods.Length)];
        var members = method.Parameters.Select(p => (Name: $"\"{p.Name}\"", Value: ValidJson(p, random))).ToList();
        // What each mutation may change and still make a bad call: an optional parameter may be left out or null.
        var strings = method.Parameters.Select((p, i) => (p, i)).Where(x => x.p.Type is "string" or "integer").Select(x => x.i).ToList();
        var jsons = method.Parameters.Select((p, i) => (p, i)).Where(x => x.p.Type == "json").Select(x => x.i).ToList();
        var required = method.Parameters.Select((p, i) => (p, i)).Where(x => !x.p.Optional).Select(x => x.i).ToList();
        var ids = method.Parameters.Select((p, i) => (p, i)).Where(x => x.p.Name is "userId" or "channelId" or "sessionId").Select(x => x.i).ToList();
        var path = $"/api/{method.Service}/{method.Name}";
        byte[]? raw = null;
        int? declared = null;
        var kind = random.Next(14);
        switch (kind)
        {
            case 0 when strings.Count > 0:
                var wrong = strings[random.Next(strings.Count)];
                members[wrong] = (members[wrong].Name, new[] { "true", "false", "[]", "{}", $"[\"{Users[0]}\"]", "null" }[random.Next(method.Parameters[wrong].Optional ? 5 : 6)]);
                break;
            case 1 when required.Count > 0:
                members.RemoveAt(required[random.Next(required.Count)]);
                break;
            case 2 when members.Count > 0:
                var doubled = members[random.Next(members.Count)];
                members.Insert(random.Next(members.Count + 1), doubled);
                break;
            case 3 when strings.Count > 0:
                var target = strings[random.Next(strings.Count)];
                byte[][] notUtf8 = [[0xFF], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xC0, 0xAF]];
                raw = Encoding.UTF8.GetBytes(Body(members, target, "\"fuzz-\u0001\""));
                var marker = Array.IndexOf(raw, (byte)0x01);
                raw = [.. raw.AsSpan(0, marker), .. notUtf8[random.Next(notUtf8.Length)], .. raw.AsSpan(marker + 1)];
                break;
            case 4 when strings.Count > 0:
                members[strings[0]] = (members[strings[0]].Name, new[] { "\"a\\x\"", "\"a\\u12\"", "\"a\\u12G4\"", "\"a\u0001\"", "\"a", "'a'" }[random.Next(6)]);
                break;
            case 5 when members.Count > 0:
                var index = random.Next(members.Count);
                members[index] = random.Next(2) == 0
                    ? ($"\"\\ud{random.Next(0x800, 0x1000):x3}\"", members[index].Value)
                    : (members[index].Name, $"\"\\u{random.Next(0xD800, 0xE000):x4}\"");
                break;
            case 6 when jsons.Count > 0:
                var depth = 65 + random.Next(3000);
                members[jsons[0]] = (members[jsons[0]].Name, new string('[', depth) + new string(']', depth));
                break;
            case 7 when jsons.Count > 0:
                members[jsons[0]] = (members[jsons[0]].Name, new[] { "1e400 1", "[1,2e999", "{\"n\":1e1000,}", "01", "1.", "-", "NaN", "Infinity" }[random.Next(8)]);
                break;
            case 8 when ids.Count > 0:
                var id = ids[random.Next(ids.Count)];
                members[id] = (members[id].Name, JsonSerializer.Serialize(BadId(method.Parameters[id].Name, random)));
                break;
            case 9 when jsons.Count > 0:
                members[jsons[0]] = (members[jsons[0]].Name, JsonSerializer.Serialize(new string('x', MaxMessageBytes + random.Next(20_000))));
                break;
            case 10:
                raw = Encoding.UTF8.GetBytes(new[] { "[]", "\"x\"", "1", "null", "{", "{}}", "{\"a\":1} 2", "\u00ef\u00bb\u00bf{", "{\"a\":}" }[random.Next(9)]);
                break;
            case 11:
                raw = Encoding.UTF8.GetBytes(Body(members, null, null));
                declared = raw.Length + 1 + random.Next(1000);
                break;
            case 12:
                path = random.Next(2) == 0 ? $"/api/bogus/{method.Name}" : $"/api/{method.Service}/bogus";
                break;
            default:
                members.Add(("\"bogus\"", "1"));
                break;
        }

        raw ??= Encoding.UTF8.GetBytes(Body(members, null, null));
        var type = new[] { "application/json", "text/plain", "application/x-www-form-urlencoded", null, "application/json; charset=iso-8859-1", "multipart/form-data; boundary=x" }[random.Next(6)];
        return new BadCall(Post(path, raw, type, declared), declared is not null, $"POST {path} kind {kind} type {type} {Encoding.Latin1.GetString(raw[..Math.Min(raw.Length, 300)])}");
    }

    /// <summary>The code of a JSON error body <c>{"error": "...", "code": "..."}</c>, or null when the body is not one.</summary>
    private static string? ErrorCodeOf(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String
                && json.RootElement.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String ? code.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Body(List<(string Name, string Value)> members, int? replaced, string? value) =>
        "{" + string.Join(",", members.Select((m, i) => $"{m.Name}:{(i == replaced ? value : m.Value)}")) + "}";

    /// <summary>A call of the path form that the API must refuse.</summary>
    private static BadCall BadPathCall(Random random)
    {
        var method = Methods[random.Next(Methods.Length)];
        var segments = method.Parameters.Select(p => Uri.EscapeDataString(ValidJson(p, random) is var v && p.Type == "string" ? v[1..^1] : v)).ToList();
        var service = method.Service;
        var name = method.Name;
        var kind = random.Next(6);
        var ids = method.Parameters.Select((p, i) => (p, i)).Where(x => x.p.Name is "userId" or "channelId").Select(x => x.i).ToList();
        var jsons = method.Parameters.Select((p, i) => (p, i)).Where(x => x.p.Type == "json").Select(x => x.i).ToList();
        var required = method.Parameters.Count(p => !p.Optional);
        switch (kind)
        {
            case 0 when required > 0:
                // One short of the required parameters: the trailing optional ones may be left out.
                segments.RemoveRange(required, segments.Count - required);
                segments.RemoveAt(random.Next(required));
                break;
            case 1 when ids.Count > 0:
                var id = ids[random.Next(ids.Count)];
                segments[id] = random.Next(2) == 0 ? new[] { "%zz", "%FF", "%C3%28", "a%2", "%01" }[random.Next(5)]
                    // Kestrel itself refuses an encoded NUL in a path (400, empty body) before the API sees it.
                    : Uri.EscapeDataString(BadId(method.Parameters[id].Name, random).Replace('\0', '\u0001'));
                break;
            case 2 when jsons.Count > 0:
                segments[jsons[0]] = new[] { "%7B", "hello", "%22%5Cud800%22", "NaN", "%22a%5Cx%22", Uri.EscapeDataString(new string('[', 100) + new string(']', 100)) }[random.Next(6)];
                break;
            case 3:
                (service, name) = random.Next(2) == 0 ? ("bogus", name) : (service, "bogus");
                break;
            default:
                segments.Add("extra");
                break;
        }

        var target = $"/{service}/{name}" + string.Concat(segments.Select(s => "/" + s));
        var request = Encoding.Latin1.GetBytes($"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        return new BadCall(request, false, $"GET {target} kind {kind}");
    }

    private static byte[] Post(string path, byte[] body, string? contentType, int? declaredLength = null) =>
        [
            .. Encoding.Latin1.GetBytes(
                $"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                + (contentType is null ? "" : $"Content-Type: {contentType}\r\n")
                + $"Content-Length: {declaredLength ?? body.Length}\r\n\r\n"),
            .. body,
        ];

    /// <summary>
    /// Sends one request on a fresh connection. A truncated one then closes its sending side, as a client that gave up;
    /// the node may then drop the connection without an answer (status 0), but must not leave it open.
    /// </summary>
    private async Task<(int Status, string Body)> SendAsync(byte[] request, bool truncated)
    {
        await using var client = await RawSocketClient.ConnectAsync(_adminPort);
        await client.SendAsync(request);
        if (!truncated)
        {
            var (status, _, body) = await client.ReadHttpResponseAsync();
            return (status, body);
        }

        client.Socket.Shutdown(SocketShutdown.Send);
        try
        {
            var (status, _, body) = await client.ReadHttpResponseAsync();
            return (status, body);
        }
        catch (Exception e) when (e is IOException)
        {
            // Reset, or closed before a whole answer: dropped (a TimeoutException, an open connection, fails the test).
            return (0, "");
        }
    }

    /// <summary>Everything a call could change for the users, sessions and channels the calls name, as the API reports it.</summary>
    private async Task<string> SnapshotAsync()
    {
        var parts = new List<string>();
        foreach (var user in Users)
        {
            parts.Add((await _node.Node.TryCallAsync("channel", "getSubscriptions", new { userId = user })).Body.GetRawText());
        }

        foreach (var channel in Channels.Append("ch-new"))
        {
            parts.Add((await _node.Node.TryCallAsync("channel", "getSubscribers", new { channelId = channel })).Body.GetRawText());
        }

        foreach (var session in Sessions)
        {
            parts.Add((await _node.Node.TryCallAsync("auth", "check", new { sessionId = session })).Body.GetRawText());
        }

        parts.Add((await _node.Node.TryCallAsync("user", "listAll", new { })).Body.GetRawText());
        parts.Add((await _node.Node.TryCallAsync("channel", "listAll", new { })).Body.GetRawText());
        return string.Join("\n", parts);
    }
}
