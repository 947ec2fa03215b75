using SocketPush.Node.Cluster;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Edge;

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
        if (origin is null || listed.Count == 0)
        {
            return true;
        }

        if (!Uri.TryCreate(origin, UriKind.Absolute, out var asked))
        {
            return false;
        }

        return listed.Any(o => Same(o, asked))
            || Same(identity.ClientUrl, asked)
            || membership.View.Members.Any(m => m.IsLive && m.Metadata is { } metadata && Same(metadata.ClientUrl, asked));
    }

    /// <summary>Whether <paramref name="url"/> (an origin, or a URL with a path) is of the origin <paramref name="asked"/>.</summary>
    private static bool Same(string url, Uri asked) =>
        Uri.TryCreate(url, UriKind.Absolute, out var parsed)
        && Uri.Compare(parsed, asked, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;
}
