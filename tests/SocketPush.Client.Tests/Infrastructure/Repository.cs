using System.Reflection;

namespace SocketPush.Client.Tests.Infrastructure;

/// <summary>Paths in the checkout the tests run from, and the build configuration they were built in.</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    public static string Configuration { get; } =
        typeof(Repository).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    public static string NodeDll => Output("node/SocketPush.Node", "SocketPush.Node.dll");

    public static string CSharpExampleDll => Output("examples/csharp", "SocketPush.Examples.CSharp.dll");

    public static string Path(string relative) => System.IO.Path.Combine(Root, relative);

    private static string Output(string project, string dll)
    {
        var path = System.IO.Path.Combine(Root, project, "bin", Configuration, "net10.0", dll);
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"{path} is missing; the test project references {project}, so building the tests builds it.");
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
