using System.CommandLine;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.CommandLine;

/// <summary><c>socketpush check-config FILE</c>: loads a config file as a starting node would, and says whether it would start.</summary>
internal static class CheckConfigCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "The config file to check." };
        var command = new Command("check-config", "Checks a config file as a node would read it at start: exit 0 and one OK line, or the problems with their key and line.");
        command.Arguments.Add(file);
        command.SetAction(parsed => Check(parsed.GetValue(file)!));
        return command;
    }

    private static int Check(string path)
    {
        try
        {
            var source = ConfigLoader.SourceOf(["--config", path]);
            var config = ConfigLoader.Load(source);
            Console.WriteLine($"{source.Path}: OK (node {config.Node.Id}, client port {config.Node.ClientPort}, admin port {config.Admin.Port}, cluster port {config.Node.ClusterPort})");
            return 0;
        }
        catch (ConfigException e)
        {
            Console.Error.WriteLine($"socketpush: {path} is not usable:{Environment.NewLine}{e.Message}");
            return 2;
        }
    }
}
