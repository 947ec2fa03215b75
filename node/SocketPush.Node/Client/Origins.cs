using SocketPush.Node.Configuration;

namespace SocketPush.Node.Client;

/// <summary>Which pages may use the client port: CORS answers and WebSocket upgrades ask the same question.</summary>
internal static class Origins
{
    /// <summary>
    /// True for a listed origin, for any origin when none is listed, and for requests without one (not from a
    /// browser page, so nothing for the browser to protect).
    /// </summary>
    public static bool Allowed(ClientOptions options, string? origin) =>
        origin is null || options.AllowedOrigins.Count == 0
        || options.AllowedOrigins.Any(o => string.Equals(o.TrimEnd('/'), origin, StringComparison.OrdinalIgnoreCase));
}
