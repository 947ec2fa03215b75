using SocketPush.Node.Configuration;
using SocketPush.Node.Generators;
using SocketPush.Node.Hosting;

// A tool, not a node: it reads a running node's /api and writes PHP classes, then exits.
if (args is ["generate-php", .. var generatorArgs])
{
    return await PhpClientGenerator.RunAsync(generatorArgs);
}

NodeConfig config;
ConfigSource source;
try
{
    source = ConfigLoader.SourceOf(args);
    config = ConfigLoader.Load(source);
}
catch (ConfigException e)
{
    Console.Error.WriteLine($"socketpush: the configuration is not usable:{Environment.NewLine}{e.Message}");
    return 2;
}

NodeHost node;
try
{
    node = await NodeHost.StartAsync(config, source: source);
}
catch (IOException e)
{
    Console.Error.WriteLine($"socketpush: cannot bind the client or admin port: {e.Message}");
    return 1;
}

await using (node)
{
    var identity = node.Identity;
    Console.WriteLine($"SOCKETPUSH READY node={identity.NodeId} client={identity.ClientUrl} admin={identity.AdminUrl} cluster={identity.ClusterEndpoint}");
    await node.WaitForShutdownAsync();
}

return 0;
