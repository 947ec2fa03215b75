using System.Reflection;

namespace SocketPush.Testing;

/// <summary>Paths in the checkout the tests run from, and the build configuration they were built in.</summary>
public static class Repository
{
    /// <summary>The folder of SocketPush.sln above the running tests.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>Debug or Release: the test projects and what they build are built in one configuration.</summary>
    public static string Configuration { get; } =
        typeof(Repository).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    /// <summary>The built node, in node/SocketPush.Node's own output folder.</summary>
    public static string NodeDll => BuildOutput("node/SocketPush.Node", "SocketPush.Node.dll");

    /// <summary>A path below <see cref="Root"/>.</summary>
    public static string Path(string relative) => System.IO.Path.Combine(Root, relative);

    /// <summary>
    /// A file of a project's build output (<c>bin/{Configuration}/net10.0</c>); fails when it is missing, since a
    /// test would otherwise run a stale build of another configuration or nothing at all.
    /// </summary>
    /// <param name="project">The project's folder relative to the root, e.g. <c>examples/csharp</c>.</param>
    /// <param name="file">The file in its output folder, e.g. <c>SocketPush.Examples.CSharp.dll</c>.</param>
    public static string BuildOutput(string project, string file)
    {
        var path = System.IO.Path.Combine(Root, project, "bin", Configuration, "net10.0", file);
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"{path} is missing; reference {project} from the test project (ReferenceOutputAssembly=false) so that building the tests builds it.");
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(directory.FullName, "SocketPush.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No SocketPush.sln above {AppContext.BaseDirectory}.");
    }
}
