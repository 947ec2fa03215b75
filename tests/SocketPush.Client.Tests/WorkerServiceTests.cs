using SocketPush.Client.Tests.Infrastructure;

namespace SocketPush.Client.Tests;

/// <summary>worker.reload and worker.getConfig from the .NET client, on a node process of this class's own (its config file is edited).</summary>
public sealed class WorkerServiceTests
{
    [Fact]
    public async Task The_client_reloads_the_edited_file_and_reads_the_config_in_force()
    {
        await using var node = await ClientTestNode.StartAsync();
        using var client = node.CreateClient();
        var before = await client.Worker.GetConfigAsync();
        Assert.Equal(1, before.GetProperty("version").GetInt32());
        Assert.Equal(65536, before.GetProperty("config").GetProperty("options").GetProperty("maxMessageBytes").GetInt32());

        var yaml = await File.ReadAllTextAsync(node.ConfigPath);
        await File.WriteAllTextAsync(node.ConfigPath, yaml.Replace(
            "removeUserAfterDisconnectTimeout: 0", "removeUserAfterDisconnectTimeout: 0\n  maxMessageBytes: 4000", StringComparison.Ordinal));
        var reload = await client.Worker.ReloadAsync();

        // The file watcher may have applied the edit a moment before the call: then the call finds nothing left to apply.
        Assert.Equal("applied", reload.GetProperty("result").GetString());
        Assert.Equal(2, reload.GetProperty("version").GetInt32());
        var after = await client.Worker.GetConfigAsync();
        Assert.Equal(4000, after.GetProperty("config").GetProperty("options").GetProperty("maxMessageBytes").GetInt32());
        Assert.Equal(node.ConfigPath, after.GetProperty("file").GetString());
        Assert.Equal("", after.GetProperty("config").GetProperty("admin").GetProperty("apiKey").GetString());
    }
}
