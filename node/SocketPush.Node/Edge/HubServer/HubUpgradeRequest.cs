using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;

namespace SocketPush.Node.Edge.HubServer;

/// <summary>What the first bytes of a client connection are.</summary>
internal enum UpgradeVerdict
{
    /// <summary>Anything but a WebSocket upgrade to the hub: the HTTP server takes the connection.</summary>
    NotForHub,

    /// <summary>Could still be one; the request head is not complete yet.</summary>
    NeedMoreData,

    /// <summary>A WebSocket upgrade request for <c>/push</c>, head complete.</summary>
    Hub,
}

/// <summary>
/// The request head of a WebSocket upgrade to the hub (<c>GET /push</c>), read straight from the connection's
/// first bytes so that a hub connection never builds HTTP request objects it would keep for its whole life.
/// </summary>
internal sealed class HubUpgradeRequest
{
    /// <summary>Request heads longer than this are left to the HTTP server, which answers 431.</summary>
    public const int MaxHeadLength = 8192;

    private static readonly byte[] Prefix = "GET /push"u8.ToArray();
    private static readonly byte[] EndOfHead = "\r\n\r\n"u8.ToArray();

    private HubUpgradeRequest(Dictionary<string, StringValues> query, string? connection, string? key, string? version, string? origin)
    {
        Query = query;
        Connection = connection;
        Key = key;
        Version = version;
        Origin = origin;
    }

    public Dictionary<string, StringValues> Query { get; }

    /// <summary>The Connection header; it must name the upgrade (RFC 6455 §4.2.1).</summary>
    public string? Connection { get; }

    /// <summary>Sec-WebSocket-Key.</summary>
    public string? Key { get; }

    /// <summary>Sec-WebSocket-Version; only 13 exists.</summary>
    public string? Version { get; }

    public string? Origin { get; }

    /// <summary>A query parameter, decoded; empty when absent.</summary>
    public string this[string name] => Query.TryGetValue(name, out var value) ? value.ToString() : "";

    /// <summary>Classifies the connection's first bytes and, for a hub upgrade, parses the head.</summary>
    public static UpgradeVerdict TryParse(in ReadOnlySequence<byte> buffer, out HubUpgradeRequest? request, out long headLength)
    {
        request = null;
        headLength = 0;
        var start = buffer.Slice(0, Math.Min(buffer.Length, Prefix.Length + 1));
        Span<byte> first = stackalloc byte[Prefix.Length + 1];
        start.CopyTo(first);
        first = first[..(int)start.Length];
        var compared = Math.Min(first.Length, Prefix.Length);
        if (!first[..compared].SequenceEqual(Prefix.AsSpan(0, compared)))
        {
            return UpgradeVerdict.NotForHub;
        }

        if (first.Length <= Prefix.Length)
        {
            return UpgradeVerdict.NeedMoreData;
        }

        if (first[Prefix.Length] is not ((byte)' ' or (byte)'?'))
        {
            // "/pushx" or "/push/negotiate": other paths.
            return UpgradeVerdict.NotForHub;
        }

        var window = buffer.Slice(0, Math.Min(buffer.Length, MaxHeadLength));
        var reader = new SequenceReader<byte>(window);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> head, EndOfHead, advancePastDelimiter: true))
        {
            return buffer.Length < MaxHeadLength ? UpgradeVerdict.NeedMoreData : UpgradeVerdict.NotForHub;
        }

        headLength = reader.Consumed;
        var text = Encoding.Latin1.GetString(head);
        var lines = text.Split("\r\n");
        var requestLine = lines[0].Split(' ');
        if (requestLine.Length != 3 || !requestLine[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            return UpgradeVerdict.NotForHub;
        }

        var target = requestLine[1];
        var questionMark = target.IndexOf('?', StringComparison.Ordinal);
        if ((questionMark < 0 ? target : target[..questionMark]) != "/push")
        {
            return UpgradeVerdict.NotForHub;
        }

        string? upgrade = null, connection = null, key = null, version = null, origin = null;
        foreach (var line in lines.AsSpan(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase))
            {
                upgrade = value;
            }
            else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                connection = value;
            }
            else if (name.Equals("Sec-WebSocket-Key", StringComparison.OrdinalIgnoreCase))
            {
                key = value;
            }
            else if (name.Equals("Sec-WebSocket-Version", StringComparison.OrdinalIgnoreCase))
            {
                version = value;
            }
            else if (name.Equals("Origin", StringComparison.OrdinalIgnoreCase))
            {
                origin = value;
            }
        }

        if (upgrade is null || !upgrade.Contains("websocket", StringComparison.OrdinalIgnoreCase))
        {
            // The SSE and long-polling transports also use GET /push; they are ordinary HTTP requests.
            return UpgradeVerdict.NotForHub;
        }

        var query = questionMark < 0 ? [] : QueryHelpers.ParseQuery(target[questionMark..]);
        request = new HubUpgradeRequest(query, connection, key, version, origin);
        return UpgradeVerdict.Hub;
    }

    /// <summary>The 101 response that accepts the upgrade (RFC 6455 §4.2.2).</summary>
    public byte[] AcceptResponse()
    {
#pragma warning disable CA5350 // RFC 6455 fixes SHA-1 for the accept key; it is a checksum here, not security.
        var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(Key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
        return Encoding.ASCII.GetBytes(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n");
    }

    /// <summary>Why the upgrade cannot be accepted, or null.</summary>
    public string? Problem() =>
        Version != "13" ? "Sec-WebSocket-Version must be 13"
        : !IsValidKey(Key) ? "Sec-WebSocket-Key is missing or malformed"
        : !NamesUpgrade(Connection) ? "Connection must include Upgrade"
        : null;

    /// <summary>Connection is a comma-separated list of options, e.g. <c>keep-alive, Upgrade</c>.</summary>
    private static bool NamesUpgrade(string? connection) =>
        connection is not null && connection.Split(',').Any(option => option.Trim().Equals("Upgrade", StringComparison.OrdinalIgnoreCase));

    private static bool IsValidKey(string? key)
    {
        Span<byte> nonce = stackalloc byte[18];
        return key is { Length: 24 } && Convert.TryFromBase64String(key, nonce, out var length) && length == 16;
    }

    /// <summary>A complete HTTP error response that closes the connection.</summary>
    public static byte[] ErrorResponse(int status, string reason, string message) =>
        Encoding.UTF8.GetBytes(
            $"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {Encoding.UTF8.GetByteCount(message)}\r\nConnection: close\r\n"
            + (status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "") + "\r\n" + message);
}
