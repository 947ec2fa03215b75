using System.CommandLine;
using SocketPush.Node.Configuration;
using SocketPush.Node.Hosting;

namespace SocketPush.Node.CommandLine;

/// <summary><c>socketpush [run] [--config FILE] [flags]</c>: runs a node until SIGTERM or Ctrl+C.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var run = new Command("run", "Runs a node (the default command).");
        Configure(run);
        return run;
    }

    /// <summary>Gives <paramref name="command"/> the flags of a node and running a node as its action.</summary>
    public static void Configure(Command command)
    {
        // Every flag the loader takes, with its help from the loader's own table.
        List<Option<string>> options =
        [
            new("--config")
            {
                HelpName = "FILE",
                Description = $"The config file; without it, {ConfigLoader.DefaultPath} in the current directory if there is one, else the built-in defaults.",
            },
            .. ConfigLoader.Flags.Select(flag => new Option<string>(flag.Key) { HelpName = flag.Value.ValueName, Description = $"{flag.Value.Key}, over the file's{flag.Value.Note}." }),
        ];
        foreach (var option in options)
        {
            command.Options.Add(option);
        }

        command.SetAction((parsed, _) => RunAsync([.. options.Where(o => parsed.GetValue(o) is not null).SelectMany(o => new[] { o.Name, parsed.GetValue(o)! })]));
    }

    /// <summary>Loads the config (the file and the flags, <paramref name="flags"/> in the loader's form) and runs the node.</summary>
    private static async Task<int> RunAsync(string[] flags)
    {
        ConfigSource source;
        NodeConfig config;
        try
        {
            source = ConfigLoader.SourceOf(flags);
            config = ConfigLoader.Load(source);
        }
        catch (ConfigException e)
        {
            await Console.Error.WriteLineAsync($"socketpush: the configuration is not usable:{Environment.NewLine}{e.Message}");
            return 2;
        }

        if (source.Path is null)
        {
            // Said at once: a node on the defaults looks like one on a file until a reload finds nothing to read.
            Console.WriteLine(
                $"socketpush: no config file ({ConfigLoader.DefaultPath} is not in {Environment.CurrentDirectory} and --config was not given): running on the built-in defaults.");
        }

        NodeHost node;
        try
        {
            node = await NodeHost.StartAsync(config, source: source);
        }
        catch (IOException e)
        {
            await Console.Error.WriteLineAsync($"socketpush: {e.Message}");
            return 1;
        }

        await using (node)
        {
            var identity = node.Identity;
            Console.WriteLine($"SOCKETPUSH READY node={identity.NodeId} client={identity.ClientUrl} admin={identity.AdminUrl} cluster={identity.ClusterEndpoint}");
            await node.WaitForShutdownAsync();
        }

        return 0;
    }
}
