using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Client.Tests.Infrastructure;

namespace SocketPush.Client.Tests;

/// <summary>
/// The service interfaces are the one declaration of the API. These tests fail when a method added to an interface
/// is missing from the node's <c>/api</c> or from the .NET client; the PHP and OpenAPI counterparts are in
/// <see cref="PhpClientTests"/> and the OpenAPI tests.
/// </summary>
public sealed class CatalogCoverageTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    public static TheoryData<string, string> Methods()
    {
        var data = new TheoryData<string, string>();
        foreach (var service in ServiceCatalog.Default.Services)
        {
            foreach (var method in service.Methods)
            {
                data.Add(service.Name, method.Name);
            }
        }

        return data;
    }

    [Fact]
    public async Task The_node_describes_exactly_the_methods_of_the_catalog()
    {
        using var http = new HttpClient();
        using var api = JsonDocument.Parse(await http.GetStringAsync(new Uri(fixture.Node.AdminUrl, "/api")));

        var described = api.RootElement.EnumerateObject().ToDictionary(s => s.Name, s => s.Value);
        Assert.Equal(ServiceCatalog.Default.Services.Select(s => s.Name).Order(), described.Keys.Order());
        foreach (var service in ServiceCatalog.Default.Services)
        {
            var methods = described[service.Name].EnumerateObject().ToDictionary(m => m.Name, m => m.Value);
            Assert.Equal(service.Methods.Select(m => m.Name).Order(), methods.Keys.Order());
            foreach (var method in service.Methods)
            {
                var description = methods[method.Name];
                Assert.Equal(method.Description, description.GetProperty("description").GetString());
                Assert.Equal(method.ResultType, description.GetProperty("result").GetString());
                Assert.Equal(
                    method.Parameters.Select(p => (p.Name, p.Type, p.Optional)),
                    description.GetProperty("params").EnumerateArray().Select(p => (
                        p.GetProperty("name").GetString()!,
                        p.GetProperty("type").GetString()!,
                        p.TryGetProperty("optional", out var optional) && optional.GetBoolean())));
            }
        }
    }

    [Fact]
    public void The_client_has_a_typed_service_for_every_service_of_the_catalog()
    {
        using var client = new SocketPushClient(new Uri("http://127.0.0.1:8181"));

        foreach (var service in ServiceCatalog.Default.Services)
        {
            var property = typeof(SocketPushClient).GetProperties().SingleOrDefault(p => p.PropertyType == service.Interface);
            Assert.True(property is not null, $"SocketPushClient has no property of type {service.Interface.Name} for the '{service.Name}' service.");
            Assert.IsAssignableFrom(service.Interface, property.GetValue(client));
        }
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public async Task The_client_proxy_sends_every_method_with_its_wire_names_and_reads_its_result(string service, string method)
    {
        Assert.True(ServiceCatalog.Default.TryFind(service, method, out var serviceDescriptor, out var descriptor));
        var invoker = new RecordingInvoker(SampleResult(descriptor!.ResultType));
        var proxy = typeof(ServiceProxy).GetMethod(nameof(ServiceProxy.Create))!.MakeGenericMethod(serviceDescriptor!.Interface).Invoke(null, [invoker])!;
        var arguments = descriptor.Parameters
            .Select((p, i) => p.Type switch
            {
                "json" => (object)JsonSerializer.SerializeToElement(new { index = i }),
                "integer" => i,
                _ => $"value-{i}",
            })
            .Append(CancellationToken.None)
            .ToArray();

        var task = (Task)descriptor.Method.Invoke(proxy, arguments)!;
        await task;

        var call = Assert.Single(invoker.Calls);
        Assert.Equal((service, method), (call.Method.Service, call.Method.Name));
        using var sent = JsonDocument.Parse(call.Arguments);
        Assert.Equal(descriptor.Parameters.Select(p => p.Name), sent.RootElement.EnumerateObject().Select(p => p.Name));
        for (var i = 0; i < descriptor.Parameters.Count; i++)
        {
            var expected = JsonSerializer.SerializeToElement(arguments[i]);
            Assert.Equal(expected.GetRawText(), sent.RootElement.GetProperty(descriptor.Parameters[i].Name).GetRawText());
        }

        if (descriptor.ResultType != "none")
        {
            var result = task.GetType().GetProperty("Result")!.GetValue(task);
            Assert.Equal(invoker.Result.GetRawText(), JsonSerializer.Serialize(result));
        }
    }

    [Fact]
    public async Task A_result_of_the_wrong_type_is_a_clear_error()
    {
        var proxy = ServiceProxy.Create<IUserService>(new RecordingInvoker(JsonSerializer.SerializeToElement("not a number")));

        var error = await Assert.ThrowsAsync<ServiceException>(() => proxy.PublishAsync("1", JsonSerializer.SerializeToElement(1)));

        Assert.Equal(ErrorCodes.Internal, error.Code);
        Assert.Equal("user.publish answered a JSON string where a result of type integer was expected.", error.Message);
    }

    [Theory]
    [InlineData("[1]", "a JSON array")]
    [InlineData("\"text\"", "a JSON string")]
    [InlineData("null", "null")]
    public async Task An_object_result_that_is_not_an_object_is_a_clear_error(string answer, string described)
    {
        using var json = JsonDocument.Parse(answer);
        var proxy = ServiceProxy.Create<IManagerService>(new RecordingInvoker(json.RootElement.Clone()));

        var error = await Assert.ThrowsAsync<ServiceException>(() => proxy.StatusAsync());

        Assert.Equal(ErrorCodes.Internal, error.Code);
        Assert.Equal($"manager.status answered {described} where a result of type object was expected.", error.Message);
    }

    private static JsonElement SampleResult(string resultType) => resultType switch
    {
        "none" => default,
        "string" => JsonSerializer.SerializeToElement("a result"),
        "integer" => JsonSerializer.SerializeToElement(7),
        "string[]" => JsonSerializer.SerializeToElement(new[] { "a", "b" }),
        "object" => JsonSerializer.SerializeToElement(new { nodeId = "n1", members = new[] { new { nodeId = "n1", ringShare = 1.0m } } }),
        _ => throw new InvalidOperationException($"The catalog has a result type '{resultType}' this test does not know; add a sample for it."),
    };

    private sealed class RecordingInvoker(JsonElement result) : IServiceInvoker
    {
        public List<(MethodDescriptor Method, byte[] Arguments)> Calls { get; } = [];

        public JsonElement Result { get; } = result;

        public Task<JsonElement> InvokeAsync(MethodDescriptor method, ReadOnlyMemory<byte> arguments, CancellationToken cancellationToken)
        {
            Calls.Add((method, arguments.ToArray()));
            return Task.FromResult(Result);
        }
    }
}
