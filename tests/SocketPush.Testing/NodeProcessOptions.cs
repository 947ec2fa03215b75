namespace SocketPush.Testing;

/// <summary>How <see cref="NodeProcess.StartAsync"/> starts a node; every property has a usable default.</summary>
public sealed record NodeProcessOptions
{
    /// <summary>
    /// The built node to run (a SocketPush.Node.dll), or null for this checkout's (<see cref="Repository.NodeDll"/>):
    /// a benchmark compares the builds of two commits.
    /// </summary>
    public string? NodeDll { get; init; }

    /// <summary>
    /// A self-contained node executable to run as it is (the <c>socketpush</c> of publish.sh), or null to run
    /// <see cref="NodeDll"/> with dotnet.
    /// </summary>
    public string? Executable { get; init; }

    /// <summary>The node id (<c>--node-id</c>), which the READY line repeats.</summary>
    public string NodeId { get; init; } = "test-node";

    /// <summary>
    /// The whole config file, or null for one that leaves every key at its default. Ids and ports are given as
    /// flags, which win over the file.
    /// </summary>
    public string? Config { get; init; }

    /// <summary>
    /// YAML appended to the config file: whole sections, e.g. <c>"admin:\n  apiKey: ..."</c>. A section must not
    /// appear in <see cref="Config"/> too: the node would read only its last occurrence.
    /// </summary>
    public string ExtraConfig { get; init; } = "";

    /// <summary>host:port of other nodes' cluster ports (<c>--seeds</c>); none by default.</summary>
    public IReadOnlyList<string> Seeds { get; init; } = [];

    /// <summary>More command-line arguments, after those the options make.</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>Environment variables set for the node, over those of the tests.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>The client port; 0, the default, lets the OS pick (the READY line says which).</summary>
    public int ClientPort { get; init; }

    /// <summary>The admin port; 0 lets the OS pick.</summary>
    public int AdminPort { get; init; }

    /// <summary>The UDP cluster port; 0 lets the OS pick.</summary>
    public int ClusterPort { get; init; }

    /// <summary>
    /// The network namespace to run the node in (<c>ip netns exec</c>, as root), e.g. a host of
    /// <see cref="NetworkNamespaces"/>; null, the default, runs it in this process's namespace.
    /// </summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>
    /// The address the node binds its client, cluster and admin ports to (<c>node.bindAddress</c> and
    /// <c>admin.bindAddress</c>), or null for the default, 127.0.0.1. Anything beyond loopback needs
    /// <see cref="AdminApiKey"/>. Given, <see cref="Config"/> and <see cref="ExtraConfig"/> must not have a
    /// <c>node:</c> or <c>admin:</c> section, which this one writes.
    /// </summary>
    public string? BindAddress { get; init; }

    /// <summary>
    /// The management API's key (<c>admin.apiKey</c>, 16 characters or more), or null for none; callers pass it as
    /// <c>Authorization: Bearer</c>. Given, <see cref="Config"/> and <see cref="ExtraConfig"/> must not have an
    /// <c>admin:</c> section.
    /// </summary>
    public string? AdminApiKey { get; init; }

    /// <summary>How long the node may take to print its READY line; generous, for a cold start on a busy machine.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long the node may take to exit after SIGTERM before it is killed.</summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(20);
}
