using System.Diagnostics;
using System.Globalization;
using SocketPush.Testing;

namespace SocketPush.LoadTest.PeerTraffic;

/// <summary>
/// The node builds a comparison runs: a path to a built SocketPush.Node.dll is taken as it is; anything else is a git
/// ref of the repository, checked out in a temporary worktree and built there in Release, so that a commit is
/// measured as it was committed (nothing of this checkout's own changes or build output leaks in). Disposing it
/// removes the worktrees it made.
/// </summary>
internal sealed class NodeBuilds(string repository, ProgressLog log) : IAsyncDisposable
{
    private static readonly TimeSpan GitTimeout = TimeSpan.FromMinutes(2);

    /// <summary>A cold Release build of the node (npm ci of its page assets included) on two busy cores.</summary>
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(20);

    private readonly List<string> _worktrees = [];

    /// <summary>The build of <paramref name="given"/>, labelled <paramref name="label"/>.</summary>
    public async Task<NodeBuildInfo> ResolveAsync(string label, string given)
    {
        if (given.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            var dll = Path.GetFullPath(given);
            return File.Exists(dll)
                ? new NodeBuildInfo { Label = label, Given = given, NodeDll = dll }
                : throw new FileNotFoundException($"--{label} {given}: no such file");
        }

        var commit = (await GitAsync("rev-parse", "--verify", "--quiet", given + "^{commit}")).Trim();
        var shortCommit = (await GitAsync("rev-parse", "--short", commit)).Trim();
        var subject = (await GitAsync("log", "-1", "--format=%s", commit)).Trim();
        var worktree = Path.Combine(Path.GetTempPath(), $"socketpush-peer-path-{label}-{shortCommit}-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}");
        log.Line($"[peer-path] {label}: {given} = {shortCommit} ({subject}); building it in {worktree}");
        await GitAsync("worktree", "add", "--detach", "--force", worktree, commit);
        _worktrees.Add(worktree);

        var clock = Stopwatch.StartNew();
        // No build servers: every process this harness starts ends with it, and a compiler server would outlive it.
        var build = await ProcessRunner.RunAsync(
            ProcessRunner.DotnetHost,
            ["build", "-c", "Release", "-nologo", "-v", "quiet", "--disable-build-servers", "node/SocketPush.Node/SocketPush.Node.csproj"],
            new Dictionary<string, string> { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["DOTNET_NOLOGO"] = "1" },
            workingDirectory: worktree,
            timeout: BuildTimeout);
        if (build.ExitCode != 0)
        {
            throw new InvalidOperationException($"building {given} ({shortCommit}) failed:\n{build}");
        }

        var nodeDll = Path.Combine(worktree, "node", "SocketPush.Node", "bin", "Release", "net10.0", "SocketPush.Node.dll");
        log.Line($"    built in {clock.Elapsed.TotalSeconds:0} s");
        return File.Exists(nodeDll)
            ? new NodeBuildInfo { Label = label, Given = given, Commit = shortCommit, Subject = subject, NodeDll = nodeDll, BuildSeconds = clock.Elapsed.TotalSeconds }
            : throw new FileNotFoundException($"the build of {shortCommit} has no {nodeDll}");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var worktree in _worktrees)
        {
            try
            {
                await GitAsync("worktree", "remove", "--force", worktree);
            }
            catch (InvalidOperationException e)
            {
                log.Line($"warning: could not remove the worktree {worktree}: {e.Message}");
            }
        }

        _worktrees.Clear();
    }

    private async Task<string> GitAsync(params string[] arguments)
    {
        var git = await ProcessRunner.RunAsync("git", ["-C", repository, .. arguments], workingDirectory: repository, timeout: GitTimeout);
        return git.ExitCode == 0 ? git.StandardOutput : throw new InvalidOperationException($"git {string.Join(' ', arguments)} failed:\n{git}");
    }
}
