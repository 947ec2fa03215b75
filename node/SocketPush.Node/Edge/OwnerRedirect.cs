using SocketPush.Client.Services;
using SocketPush.Node.Cluster.Routing;

namespace SocketPush.Node.Edge;

/// <summary>
/// Where a connecting client belongs: the client URL of the node that owns its user, or null when this node does
/// (or cannot tell, e.g. while ring settings differ; the client is then served where it is).
/// </summary>
internal sealed class OwnerRedirect(ClusterRouter router)
{
    public string? OwnerUrl(string? userId)
    {
        if (Ids.Problem("userId", userId) is not null)
        {
            return null;
        }

        try
        {
            var owner = router.OwnerOf(Keys.User(userId!));
            return owner == router.LocalId ? null : router.ClientUrlOf(owner);
        }
        catch (ServiceException)
        {
            return null;
        }
    }

    /// <summary>The same request's path and query on the owner, minus what the client adds again itself.</summary>
    public static string Target(string ownerUrl, string path, IQueryCollection query, params string[] leaveOut)
    {
        var kept = query.Where(q => !leaveOut.Contains(q.Key, StringComparer.OrdinalIgnoreCase))
            .SelectMany(q => q.Value.Select(v => $"{Uri.EscapeDataString(q.Key)}={Uri.EscapeDataString(v ?? "")}"));
        var queryText = string.Join("&", kept);
        return queryText.Length == 0 ? ownerUrl + path : $"{ownerUrl}{path}?{queryText}";
    }
}
