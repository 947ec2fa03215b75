using System.IO.Compression;
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
            var pack = await ProcessRunner.RunAsync(
                "dotnet",
                ["pack", Repository.Path("client/SocketPush.Client/SocketPush.Client.csproj"), "--no-build", "-c", Repository.Configuration, "-o", output.FullName, "-nologo"],
                timeout: TimeSpan.FromMinutes(3));
            Assert.True(pack.ExitCode == 0, pack.ToString());

            var package = Assert.Single(output.GetFiles("SocketPush.Client.*.nupkg"));
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
}
