using System.CommandLine;
using SocketPush.Node.Generators;

namespace SocketPush.Node.CommandLine;

/// <summary><c>socketpush generate-php --out DIR [--url URL] [--api-key KEY]</c>: a tool, not a node; it exits when done.</summary>
internal static class GeneratePhpCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out")
        {
            HelpName = "DIR",
            Description = "Where the PHP files go (relative to the current directory): autoload.php, ServiceClient.php, one <Name>Service.php per service.",
            Required = true,
        };
        var url = new Option<Uri>("--url")
        {
            HelpName = "URL",
            Description = "The running node's admin URL.",
            DefaultValueFactory = _ => new Uri("http://127.0.0.1:8181/"),
            CustomParser = result =>
            {
                var value = result.Tokens.Single().Value;
                if (Uri.TryCreate(value.EndsWith('/') ? value : value + "/", UriKind.Absolute, out var parsed) && parsed.Scheme is "http" or "https")
                {
                    return parsed;
                }

                result.AddError($"--url must be the node's admin URL, such as http://127.0.0.1:8181, not '{value}'.");
                return null;
            },
        };
        var apiKey = new Option<string>("--api-key") { HelpName = "KEY", Description = "The node's admin.apiKey, when it has one." };
        var command = new Command(
            "generate-php",
            "Reads GET /api from a running node and writes PHP 8 classes for its services. Use them with: require 'DIR/autoload.php'; $auth = new SocketPush\\AuthService('127.0.0.1', 8181);");
        command.Options.Add(output);
        command.Options.Add(url);
        command.Options.Add(apiKey);
        command.SetAction((parsed, _) => PhpClientGenerator.RunAsync(parsed.GetValue(url)!, parsed.GetValue(output)!, parsed.GetValue(apiKey)));
        return command;
    }
}
