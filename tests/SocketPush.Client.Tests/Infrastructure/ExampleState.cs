using System.Text.Json;

namespace SocketPush.Client.Tests.Infrastructure;

/// <summary>The examples all use user 1, session "test" and channel "news", as socket-push's README did.</summary>
internal static class ExampleState
{
    /// <summary>Forgets user 1, so that an example's effects are its own.</summary>
    public static async Task ResetUserOneAsync(SocketPushClient client)
    {
        await client.User.RemoveAsync("1");
        await client.Auth.RemoveAsync("1");
        await client.Channel.UnsubscribeAllAsync("1");
    }

    /// <summary>Lets user 1 connect with session "test", as the examples do, and connects it on the SSE stream.</summary>
    public static async Task<SseListener> ConnectUserOneAsync(NodeProcess node)
    {
        using var client = node.CreateClient();
        await ResetUserOneAsync(client);
        // The examples set the same pair again; the listener must be connected before they publish.
        await client.Auth.SetAsync("1", "test");
        return await SseListener.ConnectAsync(node.ClientUrl, "1", "test");
    }

    /// <summary>Asserts one pushed message: <c>{kind, channelId?, data: {text}}</c>.</summary>
    public static void AssertMessage(JsonElement message, string kind, string? channelId, string text)
    {
        Assert.Equal(kind, message.GetProperty("kind").GetString());
        Assert.Equal(channelId, message.TryGetProperty("channelId", out var channel) ? channel.GetString() : null);
        Assert.Equal(text, message.GetProperty("data").GetProperty("text").GetString());
    }
}
