using SocketPush.Node.Cluster;
using SocketPush.Node.Configuration;
using SocketPush.Node.Services;

namespace SocketPush.Node.Client;

/// <summary>Which pages may use the client port: CORS answers and WebSocket upgrades ask the same question.</summary>
internal sealed class Origins(LiveConfig config, NodeIdentity identity, ClusterMembership membership)
{
    /// <summary>
    /// True for a listed origin, for any origin when none is listed, for requests without one (not from a browser
    /// page, so nothing for the browser to protect), and for the pages of the cluster itself: this node's client
    /// URL and every live member's, so that a list of other sites does not lock out the node's own pages.
    /// </summary>
    public bool Allowed(string? origin)
    {
        var listed = config.Options.AllowedOrigins;
        return origin is null || listed.Count == 0
            || listed.Any(o => Same(o, origin))
            || Same(identity.ClientUrl, origin)
            || membership.View.Members.Any(m => m.IsLive && m.Metadata is { } metadata && Same(metadata.ClientUrl, origin));
    }

    /// <summary>Whether <paramref name="url"/> (an origin or a URL with a path) is of <paramref name="origin"/>.</summary>
    private static bool Same(string url, string origin) =>
        Uri.TryCreate(url, UriKind.Absolute, out var parsed) && Uri.TryCreate(origin, UriKind.Absolute, out var asked)
        && Uri.Compare(parsed, asked, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;
}
