using System.Buffers;
using System.Text;
using SocketPush.Node.Edge.HubServer;

namespace SocketPush.Node.Tests.HubServer;

/// <summary>How the client port tells a hub WebSocket upgrade from any other first bytes.</summary>
public sealed class HubUpgradeRequestTests
{
    private const string Upgrade =
        "GET /push?userId=a%40b&sessionId=s+1%2F2&empty= HTTP/1.1\r\n"
        + "Host: localhost\r\n"
        + "Upgrade: websocket\r\n"
        + "Connection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        + "Origin: http://example.com\r\n"
        + "Sec-WebSocket-Version: 13\r\n"
        + "\r\n";

    private static UpgradeVerdict Parse(string text, out HubUpgradeRequest? request, out long headLength) =>
        HubUpgradeRequest.TryParse(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(text)), out request, out headLength);

    private static UpgradeVerdict Parse(string text) => Parse(text, out _, out _);

    [Theory]
    [InlineData("")]
    [InlineData("G")]
    [InlineData("GE")]
    [InlineData("GET /pu")]
    [InlineData("GET /push")]
    [InlineData("GET /push?userId=1")]
    [InlineData("GET /push HTTP/1.1\r\nUpgrade: websocket\r\n")]
    [InlineData("GET /push HTTP/1.1\r\nUpgrade: websocket\r\n\r")]
    public void A_prefix_that_may_still_become_a_hub_upgrade_needs_more_data(string first) =>
        Assert.Equal(UpgradeVerdict.NeedMoreData, Parse(first));

    [Theory]
    [InlineData("P")]
    [InlineData("POST /push")]
    [InlineData("GET / HTTP/1.1\r\n\r\n")]
    [InlineData("GET /pushx")]
    [InlineData("GET /push/negotiate?negotiateVersion=1 HTTP/1.1\r\n\r\n")]
    [InlineData("GET /push/negotiate")]
    [InlineData("GET /sse?userId=1 HTTP/1.1\r\n\r\n")]
    [InlineData("get /push HTTP/1.1\r\nUpgrade: websocket\r\n\r\n")]
    [InlineData("\x16\x03\x01\x02\x00")]
    public void Other_first_bytes_go_to_the_http_server_at_once(string first) =>
        Assert.Equal(UpgradeVerdict.NotForHub, Parse(first));

    [Theory]
    [InlineData("GET /push?x HTTP/1.1\r\nHost: h\r\n\r\n")]
    [InlineData("GET /push?x HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")]
    [InlineData("GET /push HTTP/1.1\r\nAccept: text/event-stream\r\n\r\n")]
    public void A_complete_request_for_push_without_a_websocket_upgrade_is_http(string head) =>
        Assert.Equal(UpgradeVerdict.NotForHub, Parse(head));

    [Theory]
    [InlineData("GET /push HTTP/2.0\r\nUpgrade: websocket\r\n\r\n")]
    [InlineData("GET /push\r\nUpgrade: websocket\r\n\r\n")]
    [InlineData("GET /push  HTTP/1.1\r\nUpgrade: websocket\r\n\r\n")]
    [InlineData("GET /push?a HTTP/1.1 extra\r\nUpgrade: websocket\r\n\r\n")]
    public void A_malformed_request_line_is_left_to_the_http_server(string head) =>
        Assert.Equal(UpgradeVerdict.NotForHub, Parse(head));

    [Fact]
    public void A_complete_upgrade_is_for_the_hub_with_its_query_decoded()
    {
        var bytes = Encoding.ASCII.GetBytes(Upgrade + "\x81\x80rest");

        var verdict = HubUpgradeRequest.TryParse(new ReadOnlySequence<byte>(bytes), out var request, out var headLength);

        Assert.Equal(UpgradeVerdict.Hub, verdict);
        Assert.Equal(Upgrade.Length, headLength);
        Assert.Equal("a@b", request!["userId"]);
        Assert.Equal("s 1/2", request["sessionId"]);
        Assert.Equal("", request["empty"]);
        Assert.Equal("", request["absent"]);
        Assert.False(request.Query.ContainsKey("id"));
        Assert.Equal("dGhlIHNhbXBsZSBub25jZQ==", request.Key);
        Assert.Equal("13", request.Version);
        Assert.Equal("http://example.com", request.Origin);
        Assert.Null(request.Problem());
    }

    [Fact]
    public void The_negotiated_connection_id_is_visible_in_the_query()
    {
        Assert.Equal(UpgradeVerdict.Hub, Parse(Upgrade.Replace("?userId", "?id=abc&userId", StringComparison.Ordinal), out var request, out _));
        Assert.Equal("abc", request!["id"]);
    }

    [Fact]
    public void An_upgrade_without_a_query_has_an_empty_query()
    {
        Assert.Equal(UpgradeVerdict.Hub, Parse("GET /push HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n", out var request, out _));
        Assert.Empty(request!.Query);
        Assert.Equal("", request["userId"]);
    }

    [Fact]
    public void The_head_is_found_however_the_bytes_are_chunked()
    {
        var bytes = Encoding.ASCII.GetBytes(Upgrade);
        for (var cut = 1; cut < bytes.Length; cut++)
        {
            Assert.Equal(UpgradeVerdict.NeedMoreData, HubUpgradeRequest.TryParse(new ReadOnlySequence<byte>(bytes, 0, cut), out _, out _));
            var chunked = ClientFrames.Chunked(bytes, [cut, cut / 2, cut + 3]);
            Assert.Equal(UpgradeVerdict.Hub, HubUpgradeRequest.TryParse(chunked, out var request, out var headLength));
            Assert.Equal(bytes.Length, headLength);
            Assert.Equal("a@b", request!["userId"]);
        }
    }

    [Fact]
    public void Header_names_are_case_insensitive_and_values_trimmed()
    {
        var head = "GET /push?userId=1 HTTP/1.1\r\nhost: h\r\nUPGRADE:   WebSocket  \r\nconnection: upgrade\r\n"
            + "sec-websocket-key:dGhlIHNhbXBsZSBub25jZQ==\r\nSEC-WEBSOCKET-VERSION: 13\r\norigin: https://a.example\r\n\r\n";

        Assert.Equal(UpgradeVerdict.Hub, Parse(head, out var request, out _));

        Assert.Equal("dGhlIHNhbXBsZSBub25jZQ==", request!.Key);
        Assert.Equal("13", request.Version);
        Assert.Equal("https://a.example", request.Origin);
        Assert.Null(request.Problem());
    }

    [Fact]
    public void A_head_longer_than_the_limit_is_left_to_the_http_server()
    {
        var filler = "X-Filler: " + new string('a', HubUpgradeRequest.MaxHeadLength) + "\r\n";
        var head = "GET /push HTTP/1.1\r\nUpgrade: websocket\r\n" + filler + "\r\n";

        Assert.Equal(UpgradeVerdict.NotForHub, Parse(head));
        // Not yet at the limit: it may still end.
        Assert.Equal(UpgradeVerdict.NeedMoreData, Parse(head[..(HubUpgradeRequest.MaxHeadLength - 1)]));
        Assert.Equal(UpgradeVerdict.NotForHub, Parse(head[..HubUpgradeRequest.MaxHeadLength]));
    }

    [Fact]
    public void A_head_just_within_the_limit_is_still_a_hub_upgrade()
    {
        var start = "GET /push HTTP/1.1\r\nUpgrade: websocket\r\nX-Filler: ";
        var head = start + new string('a', HubUpgradeRequest.MaxHeadLength - start.Length - 4) + "\r\n\r\n";
        Assert.Equal(HubUpgradeRequest.MaxHeadLength, head.Length);

        Assert.Equal(UpgradeVerdict.Hub, Parse(head, out _, out var headLength));
        Assert.Equal(HubUpgradeRequest.MaxHeadLength, headLength);
    }

    [Fact]
    public void The_accept_key_of_the_rfc_sample_is_the_rfcs()
    {
        Assert.Equal(UpgradeVerdict.Hub, Parse(Upgrade, out var request, out _));

        var response = Encoding.ASCII.GetString(request!.AcceptResponse());

        Assert.StartsWith("HTTP/1.1 101 Switching Protocols\r\n", response, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\n", response, StringComparison.Ordinal);
        var headers = response.Split("\r\n").Skip(1).Where(l => l.Length > 0)
            .Select(l => l.Split(": ", 2)).ToDictionary(p => p[0], p => p[1], StringComparer.OrdinalIgnoreCase);
        // RFC 6455 §1.3 gives this pair; `sha1sum | base64` of key + GUID agrees.
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", headers["Sec-WebSocket-Accept"]);
        Assert.Equal("websocket", headers["Upgrade"], ignoreCase: true);
        Assert.Equal("Upgrade", headers["Connection"], ignoreCase: true);
    }

    [Theory]
    [InlineData("Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "Sec-WebSocket-Version must be 13")]
    [InlineData("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "Sec-WebSocket-Version must be 13")]
    [InlineData("Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Key is missing or malformed")]
    [InlineData("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n", "Sec-WebSocket-Key is missing or malformed")]
    [InlineData("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==x\r\n", "Sec-WebSocket-Key is missing or malformed")]
    public void Problem_names_a_wrong_version_or_key(string headers, string problem)
    {
        Assert.Equal(UpgradeVerdict.Hub, Parse("GET /push HTTP/1.1\r\nUpgrade: websocket\r\n" + headers + "\r\n", out var request, out _));
        Assert.Equal(problem, request!.Problem());
    }

    [Theory]
    [InlineData("!!!!!!!!!!!!!!!!!!!!!!!!")]
    [InlineData("dGhlIHNhbXBsZSBub25jZQ=!")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAA")] // base64, but of 18 bytes
    public void A_key_of_24_characters_that_is_not_base64_of_16_bytes_is_malformed(string key)
    {
        // RFC 6455 §4.2.1: the key is "a base64-encoded value that, when decoded, is 16 bytes in length";
        // ASP.NET Core's own WebSocket middleware refuses any other with 400.
        Assert.Equal(24, key.Length);
        Assert.Equal(UpgradeVerdict.Hub, Parse($"GET /push HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n", out var request, out _));
        Assert.Equal("Sec-WebSocket-Key is missing or malformed", request!.Problem());
    }

    [Fact]
    public void Error_responses_are_complete_http_responses_that_close()
    {
        var text = Encoding.UTF8.GetString(HubUpgradeRequest.ErrorResponse(426, "Upgrade Required", "Sec-WebSocket-Version must be 13"));
        var (head, body) = (text[..text.IndexOf("\r\n\r\n", StringComparison.Ordinal)], text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);

        Assert.StartsWith("HTTP/1.1 426 Upgrade Required\r\n", head + "\r\n", StringComparison.Ordinal);
        Assert.Contains("\r\nSec-WebSocket-Version: 13", head, StringComparison.Ordinal);
        Assert.Contains("\r\nConnection: close", head, StringComparison.Ordinal);
        Assert.Contains($"\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}", head, StringComparison.Ordinal);
        Assert.Equal("Sec-WebSocket-Version must be 13", body);

        var forbidden = Encoding.UTF8.GetString(HubUpgradeRequest.ErrorResponse(403, "Forbidden", "Origin ü"));
        Assert.DoesNotContain("Sec-WebSocket-Version", forbidden, StringComparison.Ordinal);
        Assert.Contains("Content-Length: 9\r\n", forbidden, StringComparison.Ordinal);
    }
}
