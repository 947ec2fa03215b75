namespace SocketPush.Client.Tests.Infrastructure;

/// <summary>php-cli, as test.sh installs it (Debian's php-cli and php-curl).</summary>
internal static class Php
{
    private static readonly Lazy<Task<string?>> Problem = new(FindProblemAsync);

    /// <summary>Fails the test with what to install when php or its curl extension is missing.</summary>
    public static async Task RequireAsync()
    {
        if (await Problem.Value is { } problem)
        {
            Assert.Fail(problem);
        }
    }

    public static async Task<ProcessResult> RunAsync(string script, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        await RequireAsync();
        return await ProcessRunner.RunAsync("php", [script, .. arguments], environment);
    }

    public static async Task<ProcessResult> LintAsync(string file)
    {
        await RequireAsync();
        return await ProcessRunner.RunAsync("php", ["-l", file]);
    }

    /// <summary>Generates the PHP client from a live node with the node's own command.</summary>
    public static async Task<(string Directory, ProcessResult Result)> GenerateAsync(Uri adminUrl, string? apiKey = null)
    {
        var directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"socketpush-php-{Guid.NewGuid():N}");
        string[] arguments = ["exec", Repository.NodeDll, "generate-php", "--url", adminUrl.ToString(), "--out", directory];
        var result = await ProcessRunner.RunAsync("dotnet", apiKey is null ? arguments : [.. arguments, "--api-key", apiKey]);
        return (directory, result);
    }

    private static async Task<string?> FindProblemAsync()
    {
        try
        {
            var result = await ProcessRunner.RunAsync("php", ["-r", "echo extension_loaded('curl') ? 'curl' : 'no curl';"]);
            return result.StandardOutput.Trim() == "curl"
                ? null
                : "PHP's curl extension is missing: run test.sh, or apt-get install -y php-curl.";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "php is not installed: run test.sh, or apt-get install -y php-cli php-curl.";
        }
    }
}
