using System.Text.Json;
using SocketPush.Client;
using SocketPush.Client.Services;

// Usage: dotnet run --project examples/csharp -- [adminUrl]      (SOCKETPUSH_API_KEY when the node has one)
// Lets user 1 connect with session "test", subscribes the user to "news" and publishes to both.
var adminUrl = new Uri(args.Length > 0 ? args[0] : "http://127.0.0.1:8181");
using var client = new SocketPushClient(adminUrl, Environment.GetEnvironmentVariable("SOCKETPUSH_API_KEY"));

try
{
    await client.Auth.SetAsync("1", "test");
    Console.WriteLine($"auth.set: session 'test' belongs to user {await client.Auth.CheckAsync("test")}");

    await client.Channel.SubscribeAsync("1", "news");
    Console.WriteLine($"channel.subscribe: user 1 is subscribed to {string.Join(", ", await client.Channel.GetSubscriptionsAsync("1"))}");

    var toUser = await client.User.PublishAsync("1", JsonSerializer.SerializeToElement(new { text = "hello user 1" }));
    Console.WriteLine($"user.publish: reached {toUser} connection(s)");

    var toChannel = await client.Channel.PublishAsync("news", JsonSerializer.SerializeToElement(new { text = "hello news" }));
    Console.WriteLine($"channel.publish: reached {toChannel} connection(s)");
    return 0;
}
catch (ServiceException e)
{
    Console.Error.WriteLine($"SocketPush answered {e.Code}: {e.Message}");
    return 1;
}
