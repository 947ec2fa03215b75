using SocketPush.Node.Configuration;
using SocketPush.Node.Hosting;

NodeConfig config;
try
{
    config = ConfigLoader.Load(args);
}
catch (ConfigException e)
{
    Console.Error.WriteLine($"socketpush: the configuration is not usable:{Environment.NewLine}{e.Message}");
    return 2;
}

NodeHost node;
try
{
    node = await NodeHost.StartAsync(config);
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
