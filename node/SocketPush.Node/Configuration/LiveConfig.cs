namespace SocketPush.Node.Configuration;

/// <summary>
/// The config the node runs on now. Readers take <see cref="Current"/> at the moment they need a value,
/// so a reloaded config applies to the next connection or call without a restart.
/// </summary>
internal sealed class LiveConfig(NodeConfig initial)
{
    private volatile NodeConfig _current = initial;

    public NodeConfig Current => _current;

    public ClientOptions Options => _current.Options;

    /// <summary>Replaces the config; the caller has validated it.</summary>
    public void Replace(NodeConfig config) => _current = config;
}
