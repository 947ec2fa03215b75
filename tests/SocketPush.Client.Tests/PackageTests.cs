using System.IO.Compression;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace SocketPush.Client.Tests;

/// <summary>The .NET client is a NuGet package that carries its README and its API documentation.</summary>
public sealed class PackageTests
{
    [Fact]
    public async Task Dotnet_pack_makes_a_package_with_the_readme_the_assembly_and_its_documentation()
    {
        var output = Directory.CreateTempSubdirectory("socketpush-pack-");
        try
        {
            var package = await PackAsync(output);
            using var zip = ZipFile.OpenRead(package.FullName);
            var entries = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
            Assert.Contains("README.md", entries);
            Assert.Contains("lib/net10.0/SocketPush.Client.dll", entries);
            Assert.Contains("lib/net10.0/SocketPush.Client.xml", entries);

            using var nuspecStream = zip.GetEntry("SocketPush.Client.nuspec")!.Open();
            var metadata = XDocument.Load(nuspecStream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
            Assert.Equal("README.md", metadata.Elements().Single(e => e.Name.LocalName == "readme").Value);
            Assert.Equal("SocketPush.Client", metadata.Elements().Single(e => e.Name.LocalName == "id").Value);

            using var readme = new StreamReader(zip.GetEntry("README.md")!.Open());
            Assert.Contains("new SocketPushClient(", await readme.ReadToEndAsync(), StringComparison.Ordinal);
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    /// <summary>
    /// The C# of README.md and of the package's README, each in a file of a new project of its own that installs the
    /// package from a local source as examples/csharp/README.md says: every snippet shows the usings it needs.
    /// </summary>
    [Fact]
    public async Task The_readme_snippets_build_with_the_usings_they_show_against_the_package_from_a_local_source()
    {
        var work = Directory.CreateTempSubdirectory("socketpush-readme-");
        try
        {
            var source = work.CreateSubdirectory("nuget-local");
            var package = await PackAsync(source);
            var version = package.Name["SocketPush.Client.".Length..^".nupkg".Length];
            var project = work.CreateSubdirectory("app");
            // Only the local source, and a packages folder of its own: nothing from the network, no stale copy in the user's cache.
            await File.WriteAllTextAsync(Path.Combine(project.FullName, "nuget.config"), $"""
                <configuration>
                  <packageSources><clear /><add key="local" value="{source.FullName}" /></packageSources>
                  <config><add key="globalPackagesFolder" value="{Path.Combine(work.FullName, "packages")}" /></config>
                </configuration>
                """);
            // What `dotnet new classlib` makes, and the package reference `dotnet add package` writes.
            await File.WriteAllTextAsync(Path.Combine(project.FullName, "App.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="SocketPush.Client" Version="{version}" />
                  </ItemGroup>
                </Project>
                """);
            string[] readmes = ["README.md", "client/SocketPush.Client/README.md"];
            for (var i = 0; i < readmes.Length; i++)
            {
                await File.WriteAllTextAsync(Path.Combine(project.FullName, $"Readme{i}.cs"), SnippetFile($"Readme{i}", await File.ReadAllTextAsync(Repository.Path(readmes[i]))));
            }

            var build = await ProcessRunner.RunAsync("dotnet", ["build", project.FullName, "-nologo"], timeout: TimeSpan.FromMinutes(5));
            Assert.True(build.ExitCode == 0, build.ToString());
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static async Task<FileInfo> PackAsync(DirectoryInfo output)
    {
        var pack = await ProcessRunner.RunAsync(
            "dotnet",
            ["pack", Repository.Path("client/SocketPush.Client/SocketPush.Client.csproj"), "--no-build", "-c", Repository.Configuration, "-o", output.FullName, "-nologo"],
            timeout: TimeSpan.FromMinutes(3));
        Assert.True(pack.ExitCode == 0, pack.ToString());
        return Assert.Single(output.GetFiles("SocketPush.Client.*.nupkg"));
    }

    /// <summary>
    /// The csharp blocks of a README as one C# file: their using directives on top (in this file only), the rest as the
    /// body of a method, block after block (a later block may go on with what an earlier one declared).
    /// </summary>
    private static string SnippetFile(string name, string readme)
    {
        var blocks = Regex.Matches(readme, @"^```csharp\n(.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline).Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(blocks);
        var lines = blocks.SelectMany(b => b.Split('\n')).ToList();
        var directive = new Regex(@"^using [A-Za-z.]+;\s*$");
        return string.Join('\n', lines.Where(l => directive.IsMatch(l)))
            + $"\n\ninternal static class {name}\n{{\n    public static async Task RunAsync()\n    {{\n"
            + string.Join('\n', lines.Where(l => !directive.IsMatch(l)))
            + "\n    }\n}\n";
    }
}
