using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;
using SocketPush.Node.Cluster;

namespace SocketPush.Node.CommandLine;

/// <summary>
/// The <c>socketpush</c> command line: <c>run</c> (also what no command means), <c>check-config</c>,
/// <c>generate-php</c>, <c>--help</c> and <c>--version</c>. Anything it does not know prints the help.
/// </summary>
internal static class Commands
{
    /// <summary>The exit code of a command line that does not parse (an unknown flag, a missing value).</summary>
    public const int UsageError = 2;

    public static async Task<int> InvokeAsync(string[] args)
    {
        var root = new RootCommand("SocketPush: a push server node (client port, admin port and cluster port). With no command it runs a node, as `run` does.");
        RunCommand.Configure(root);
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(CheckConfigCommand.Create());
        root.Subcommands.Add(GeneratePhpCommand.Create());
        root.Options.OfType<VersionOption>().Single().Action = new PrintVersion();

        var parsed = root.Parse(args);
        // No signal handling of the parser's own: the node stops on SIGTERM through its host, with the graceful leave.
        var exitCode = await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
        return parsed.Errors.Count > 0 ? UsageError : exitCode;
    }

    /// <summary><c>socketpush 1.0.0+commit (wire version 3)</c>: nodes of one cluster must share the wire version.</summary>
    public static string VersionLine() =>
        $"socketpush {typeof(Commands).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown"} (wire version {ClusterSettings.WireVersion})";

    private sealed class PrintVersion : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine(VersionLine());
            return 0;
        }
    }
}
