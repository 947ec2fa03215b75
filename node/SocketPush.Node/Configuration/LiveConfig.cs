namespace SocketPush.Node.Configuration;

/// <summary>
/// The config the node runs on now. Readers take <see cref="Current"/> at the moment they need a value,
/// so a reloaded config applies to the next connection or call without a restart; the few parts that hold
/// state of their own (gossip timings, seeds) follow <see cref="Changed"/>.
/// </summary>
internal sealed class LiveConfig(NodeConfig initial)
{
    private volatile NodeConfig _current = initial;
    private volatile int _logLevel = (int)Enum.Parse<LogLevel>(initial.Logging.Level, ignoreCase: true);

    public NodeConfig Current => _current;

    public ClientOptions Options => _current.Options;

    /// <summary>logging.level, parsed once per config: the log filter reads it on every log call.</summary>
    public LogLevel LogLevel => (LogLevel)_logLevel;

    /// <summary>Raised after <see cref="Replace"/> with the config before and after, on the replacing thread.</summary>
    public event Action<NodeConfig, NodeConfig>? Changed;

    /// <summary>Replaces the config; the caller has validated it and kept what cannot change while running.</summary>
    public void Replace(NodeConfig config)
    {
        var before = _current;
        _logLevel = (int)Enum.Parse<LogLevel>(config.Logging.Level, ignoreCase: true);
        _current = config;
        Changed?.Invoke(before, config);
    }
}
