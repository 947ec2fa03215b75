namespace SocketPush.Node.Cluster.Routing;

/// <summary>
/// Keys of the three keyspaces: a prefix and the id, hashed onto one ring. Routing finds every call's owner by its key,
/// so the edge (a client's user) and the owners (their records) name keys the same way.
/// </summary>
internal static class Keys
{
    public static string User(string userId) => "u:" + userId;

    public static string Session(string sessionId) => "s:" + sessionId;

    public static string Channel(string channelId) => "c:" + channelId;
}
