using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Client.Tests.Infrastructure;

namespace SocketPush.Client.Tests;

/// <summary>Every way a call fails reaches the caller as a <see cref="ServiceException"/> with the server's code and message.</summary>
public sealed class ErrorTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static readonly Dictionary<string, string> ValidValues = new(StringComparer.Ordinal)
    {
        ["userId"] = "valid-user",
        ["channelId"] = "valid/channel",
        ["sessionId"] = "valid-session",
    };

    /// <summary>Every string parameter of every method of the catalog, with one invalid value of each kind (the other optional ones left out).</summary>
    public static TheoryData<string, string, string, string> InvalidIds()
    {
        var data = new TheoryData<string, string, string, string>();
        foreach (var service in ServiceCatalog.Default.Services)
        {
            foreach (var method in service.Methods)
            {
                foreach (var parameter in method.Parameters.Where(p => p.Type == "string"))
                {
                    data.Add(service.Name, method.Name, parameter.Name, "has space");
                    data.Add(service.Name, method.Name, parameter.Name, string.Empty);
                    data.Add(service.Name, method.Name, parameter.Name, new string('a', 300));
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(InvalidIds))]
    public async Task An_invalid_id_is_an_invalid_argument_error_from_the_node(string service, string method, string parameter, string value)
    {
        using var client = fixture.Node.CreateClient();
        Assert.True(ServiceCatalog.Default.TryFind(service, method, out var serviceDescriptor, out var methodDescriptor));
        var arguments = methodDescriptor!.Parameters
            .Select(p => p.Name == parameter ? value : p.Type == "json" ? (object)JsonSerializer.SerializeToElement("m") : p.Optional ? null : ValidValues[p.Name])
            .Append(CancellationToken.None)
            .ToArray();

        var error = await Assert.ThrowsAsync<ServiceException>(() => (Task)methodDescriptor.Method.Invoke(ProxyOf(client, serviceDescriptor!), arguments)!);

        Assert.Equal(ErrorCodes.InvalidArgument, error.Code);
        Assert.Contains(parameter, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_method_the_node_does_not_have_is_unknown_method_and_a_service_unknown_service()
    {
        using var http = new HttpClient();
        var invoker = new HttpServiceInvoker(http, fixture.Node.AdminUrl, apiKey: null);

        var method = await Assert.ThrowsAsync<ServiceException>(() => ServiceProxy.Create<IAuthServiceOfALaterVersion>(invoker).WhoAmIAsync());
        var service = await Assert.ThrowsAsync<ServiceException>(() => ServiceProxy.Create<INoSuchService>(invoker).PingAsync());

        Assert.Equal(ErrorCodes.UnknownMethod, method.Code);
        Assert.Contains("whoAmI", method.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCodes.UnknownService, service.Code);
        Assert.Contains("nosuch", service.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_that_refuses_connections_is_unavailable_with_its_address_in_the_message()
    {
        var closed = new Uri($"http://127.0.0.1:{FreePorts.Tcp()}");
        using var client = new SocketPushClient(closed);

        var error = await Assert.ThrowsAsync<ServiceException>(() => client.Auth.SetAsync("1", "test")).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(ErrorCodes.Unavailable, error.Code);
        Assert.Contains($"Cannot reach the SocketPush node at {closed}", error.Message, StringComparison.Ordinal);
        Assert.Contains("auth.set", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_that_does_not_answer_is_unavailable_after_the_timeout()
    {
        // Accepted by the kernel's backlog but never read: the request goes out and no answer ever comes.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var url = new Uri($"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}");
        using var client = new SocketPushClient(url) { Timeout = TimeSpan.FromMilliseconds(500) };

        var error = await Assert.ThrowsAsync<ServiceException>(() => client.User.ListAllAsync()).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(ErrorCodes.Unavailable, error.Code);
        Assert.Equal($"The SocketPush node at {url} did not answer user.listAll within 0.5 s.", error.Message);
    }

    [Fact]
    public async Task A_node_that_went_down_is_unavailable()
    {
        await using var node = await ClientTestNode.StartAsync();
        using var client = node.CreateClient();
        client.Timeout = TimeSpan.FromSeconds(5);
        await client.Channel.SubscribeAsync("1", "news");

        node.Kill();

        var error = await Assert.ThrowsAsync<ServiceException>(() => client.Channel.GetSubscribersAsync("news")).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(ErrorCodes.Unavailable, error.Code);
        Assert.Contains(node.AdminUrl.ToString(), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_timeout_must_be_positive()
    {
        using var client = new SocketPushClient(new Uri("http://127.0.0.1:8181"));

        Assert.Equal(TimeSpan.FromSeconds(10), client.Timeout);
        Assert.Throws<ArgumentOutOfRangeException>(() => client.Timeout = TimeSpan.Zero);
        client.Timeout = Timeout.InfiniteTimeSpan;
        Assert.Equal(Timeout.InfiniteTimeSpan, client.Timeout);
    }

    [Fact]
    public void The_admin_url_must_be_absolute_http()
    {
        Assert.Throws<ArgumentException>(() => new SocketPushClient(new Uri("/relative", UriKind.Relative)));
        Assert.Throws<ArgumentException>(() => new SocketPushClient(new Uri("ftp://127.0.0.1/")));
    }

    internal static object ProxyOf(SocketPushClient client, ServiceDescriptor service) =>
        typeof(SocketPushClient).GetProperties().Single(p => p.PropertyType == service.Interface).GetValue(client)!;

    [Service("auth", "The auth service as a later version of the client might see it.")]
    public interface IAuthServiceOfALaterVersion
    {
        [Method("A method this node does not have.")]
        Task<string> WhoAmIAsync(CancellationToken cancellationToken = default);
    }

    [Service("nosuch", "A service no node has.")]
    public interface INoSuchService
    {
        [Method("A method of a service this node does not have.")]
        Task PingAsync(CancellationToken cancellationToken = default);
    }
}

/// <summary>The API key: missing, wrong and right, through the client.</summary>
public sealed class ApiKeyTests(ApiKeyNodeFixture fixture) : IClassFixture<ApiKeyNodeFixture>
{
    [Fact]
    public async Task Without_the_key_a_call_is_unauthorized()
    {
        using var client = fixture.Node.CreateClient();

        var error = await Assert.ThrowsAsync<ServiceException>(() => client.Auth.SetAsync("1", "test"));

        Assert.Equal(ErrorCodes.Unauthorized, error.Code);
    }

    [Fact]
    public async Task With_a_wrong_key_a_call_is_forbidden()
    {
        using var client = fixture.Node.CreateClient("wrong-key-wrong-key-wrong-key");

        var error = await Assert.ThrowsAsync<ServiceException>(() => client.User.PublishAsync("1", JsonSerializer.SerializeToElement("x")));

        Assert.Equal(ErrorCodes.Forbidden, error.Code);
    }

    [Fact]
    public async Task With_the_key_every_service_answers()
    {
        using var client = fixture.Node.CreateClient(ApiKeyNodeFixture.ApiKey);
        var user = TestIds.User();
        var session = TestIds.Session();

        await client.Auth.SetAsync(user, session);
        await client.Channel.SubscribeAsync(user, "news");

        Assert.Equal(user, await client.Auth.CheckAsync(session));
        Assert.Contains(user, await client.Channel.GetSubscribersAsync("news"));
        Assert.Equal(0, await client.User.PublishAsync(user, JsonSerializer.SerializeToElement("offline")));
    }
}

/// <summary>The node's limits reach the client as their own codes: limit_exceeded and rate_limited.</summary>
public sealed class LimitErrorTests
{
    private const string SubscribingKey = "client-limits-key-a-0123456789";
    private const string BurstingKey = "client-limits-key-b-0123456789";

    [Fact]
    public async Task A_subscription_beyond_the_limit_and_calls_beyond_the_rate_throw_their_codes_and_each_key_has_its_own_budget()
    {
        await using var node = await NodeProcess.StartAsync(new NodeProcessOptions
        {
            NodeId = "client-limits",
            ExtraConfig = $"admin:\n  apiKeys: [{SubscribingKey}, {BurstingKey}]\n  requestsPerSecond: 2\noptions:\n  maxSubscriptionsPerUser: 1\n",
        });
        using var subscribing = node.CreateClient(SubscribingKey);
        using var bursting = node.CreateClient(BurstingKey);

        // Two calls with one key: within its burst, whatever the other key does.
        await subscribing.Channel.SubscribeAsync("limited", "first");
        var full = await Assert.ThrowsAsync<ServiceException>(() => subscribing.Channel.SubscribeAsync("limited", "second"));
        Assert.Equal(ErrorCodes.LimitExceeded, full.Code);
        Assert.Contains("options.maxSubscriptionsPerUser (1)", full.Message, StringComparison.Ordinal);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            try
            {
                await bursting.User.GetFrontendServerAsync("someone");
                return null;
            }
            catch (ServiceException e)
            {
                return e;
            }
        }));
        var limited = outcomes.OfType<ServiceException>().ToList();
        Assert.NotEmpty(limited);
        Assert.All(limited, e => Assert.Equal(ErrorCodes.RateLimited, e.Code));
        Assert.Contains(outcomes, o => o is null);
    }
}
