using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.OpenApi;
using SocketPush.Client.Services;
using SocketPush.Node.Admin;

namespace SocketPush.Node.Tests;

/// <summary>
/// Optional parameters (a C# default) and <c>integer</c> parameters (int, int?) in the catalog and on the node's side
/// of the API: the description, binding of the JSON form and of the path form, the call itself, and OpenAPI. They
/// use <see cref="ISampleService"/>, which only the tests declare.
/// </summary>
public sealed class OptionalParameterTests
{
    private static readonly MethodDescriptor History = SampleService.Method("history");
    private static readonly MethodDescriptor Scale = SampleService.Method("scale");

    [Fact]
    public void The_catalog_marks_defaulted_parameters_optional_and_int_parameters_integer()
    {
        Assert.Equal(
            new ParameterDescriptor[] { new("channelId", "string", false), new("since", "string", true), new("limit", "integer", true) },
            History.Parameters);
        Assert.Equal(new ParameterDescriptor[] { new("count", "integer", false), new("factor", "integer", true) }, Scale.Parameters);
    }

    [Fact]
    public void Api_describes_optional_and_integer_parameters_and_says_nothing_new_of_required_ones()
    {
        var described = JsonSerializer.SerializeToElement(ManagementApi.Describe(SampleService.Catalog));

        using var expected = JsonDocument.Parse(SampleService.Description);
        Assert.True(JsonElement.DeepEquals(expected.RootElement, described), described.GetRawText());
    }

    [Theory]
    [InlineData(typeof(IOptionalBeforeRequired), "optional parameters must come after every required one")]
    [InlineData(typeof(IOptionalJson), "the JsonElement parameter message cannot be optional")]
    [InlineData(typeof(ILongParameter), "parameters must be string, int or JsonElement, not Int64")]
    public void The_catalog_refuses_what_the_wire_cannot_carry(Type service, string problem)
    {
        var error = Assert.Throws<ArgumentException>(() => ServiceCatalog.Build(service));

        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"channelId":"c"}""", null, null)]
    [InlineData("""{"channelId":"c","since":null,"limit":null}""", null, null)]
    [InlineData("""{"channelId":"c","since":"s-1"}""", "s-1", null)]
    [InlineData("""{"channelId":"c","since":17}""", "17", null)]
    [InlineData("""{"channelId":"c","limit":10}""", null, 10)]
    [InlineData("""{"channelId":"c","limit":0}""", null, 0)]
    [InlineData("""{"channelId":"c","limit":-3}""", null, -3)]
    [InlineData("""{"channelId":"c","limit":5.0}""", null, 5)]
    [InlineData("""{"channelId":"c","limit":1e2}""", null, 100)]
    [InlineData("""{"channelId":"c","limit":2147483647}""", null, int.MaxValue)]
    [InlineData("""{"channelId":"c","limit":-2147483648}""", null, int.MinValue)]
    [InlineData("""{"channelId":"c","limit":"10"}""", null, 10)]
    [InlineData("""{"channelId":"c","limit":"-7"}""", null, -7)]
    [InlineData("""{"channelId":"c","since":"s","limit":"+7"}""", "s", 7)]
    public void An_optional_parameter_may_be_missing_or_null_and_an_integer_may_be_a_number_or_a_numeric_string(string body, string? since, int? limit)
    {
        var arguments = Bind(History, body);

        Assert.Equal(new object?[] { "c", since, limit }, arguments[..^1]);
        Assert.IsType<CancellationToken>(arguments[^1]);
    }

    [Theory]
    [InlineData("1.5")]
    [InlineData("1e-1")]
    [InlineData("2147483648")]
    [InlineData("-2147483649")]
    [InlineData("1e400")]
    [InlineData("true")]
    [InlineData("false")]
    [InlineData("{}")]
    [InlineData("[1]")]
    [InlineData("\"\"")]
    [InlineData("\"1.5\"")]
    [InlineData("\"ten\"")]
    [InlineData("\" 10\"")]
    [InlineData("\"10 \"")]
    [InlineData("\"0x10\"")]
    [InlineData("\"2147483648\"")]
    public void Anything_but_an_integer_is_refused_for_an_integer_parameter(string limit)
    {
        var error = Assert.Throws<ServiceException>(() => Bind(History, $$"""{"channelId":"c","limit":{{limit}}}"""));

        Assert.Equal((ErrorCodes.InvalidArgument, "limit must be an integer."), (error.Code, error.Message));
    }

    [Theory]
    [InlineData("""{}""", "channelId is required.")]
    [InlineData("""{"channelId":null}""", "channelId is required.")]
    [InlineData("""{"since":"s","limit":1}""", "channelId is required.")]
    [InlineData("""{"channelId":"c","since":true}""", "since must be a string or a number.")]
    [InlineData("""{"channelId":"c","bogus":1}""", "sample.history has no parameter 'bogus'. Parameters: channelId, since?, limit?.")]
    [InlineData("""{"channelId":"c","limit":1,"limit":2}""", "limit is given twice.")]
    public void Required_parameters_keep_their_rules_and_errors_name_the_optional_ones(string body, string message)
    {
        var error = Assert.Throws<ServiceException>(() => Bind(History, body));

        Assert.Equal((ErrorCodes.InvalidArgument, message), (error.Code, error.Message));
    }

    [Theory]
    [InlineData("""{"count":3}""", 3, 2)]
    [InlineData("""{"count":3,"factor":null}""", 3, 2)]
    [InlineData("""{"count":"3","factor":"-4"}""", 3, -4)]
    public void A_missing_optional_parameter_gets_its_csharp_default(string body, int count, int factor)
    {
        Assert.Equal(new object?[] { count, factor }, Bind(Scale, body)[..^1]);
    }

    [Theory]
    [InlineData("""{}""", "count is required.")]
    [InlineData("""{"count":null}""", "count is required.")]
    [InlineData("""{"count":"three"}""", "count must be an integer.")]
    [InlineData("""{"count":1,"factor":0.5}""", "factor must be an integer.")]
    public void A_required_integer_must_be_given_as_an_integer(string body, string message)
    {
        var error = Assert.Throws<ServiceException>(() => Bind(Scale, body));

        Assert.Equal((ErrorCodes.InvalidArgument, message), (error.Code, error.Message));
    }

    [Fact]
    public async Task Bound_arguments_reach_the_implementation_as_null_numbers_and_defaults()
    {
        var service = new RecordingSampleService();

        await ServiceMethod.For(History).InvokeAsync(service, Bind(History, """{"channelId":"c"}"""));
        await ServiceMethod.For(History).InvokeAsync(service, Bind(History, """{"channelId":"c","since":"s","limit":"10"}"""));
        var scaled = await ServiceMethod.For(Scale).InvokeAsync(service, Bind(Scale, """{"count":21}"""));

        Assert.Equal(new[] { "history(c, null, null)", "history(c, s, 10)", "scale(21, 2)" }, service.Calls);
        Assert.Equal(42, scaled);
    }

    [Theory]
    [InlineData(new[] { "c" }, null, null)]
    [InlineData(new[] { "c", "s" }, "s", null)]
    [InlineData(new[] { "c", "s", "10" }, "s", 10)]
    [InlineData(new[] { "c", "s", "-10" }, "s", -10)]
    public void The_path_form_may_leave_out_trailing_optional_parameters(string[] segments, string? since, int? limit)
    {
        Assert.Equal(new object?[] { "c", since, limit }, ManagementApi.BindPath(History, segments, CancellationToken.None)[..^1]);
    }

    [Fact]
    public void The_path_form_gives_a_left_out_parameter_its_csharp_default_and_reads_integers()
    {
        Assert.Equal(new object?[] { 3, 2 }, ManagementApi.BindPath(Scale, ["3"], CancellationToken.None)[..^1]);
        Assert.Equal(new object?[] { 3, 4 }, ManagementApi.BindPath(Scale, ["3", "4"], CancellationToken.None)[..^1]);
    }

    [Theory]
    [InlineData("history", new string[0], "sample/history takes 1 to 3 path parameter(s) (channelId, since?, limit?), got 0.")]
    [InlineData("history", new[] { "c", "s", "1", "x" }, "sample/history takes 1 to 3 path parameter(s) (channelId, since?, limit?), got 4.")]
    [InlineData("history", new[] { "c", "s", "ten" }, "limit must be an integer.")]
    [InlineData("history", new[] { "c", "s", "1.5" }, "limit must be an integer.")]
    [InlineData("scale", new[] { "x" }, "count must be an integer.")]
    [InlineData("scale", new[] { "1", "2", "3" }, "sample/scale takes 1 to 2 path parameter(s) (count, factor?), got 3.")]
    public void The_path_form_says_how_many_segments_it_takes_and_refuses_a_bad_integer(string method, string[] segments, string message)
    {
        var error = Assert.Throws<ServiceException>(() => ManagementApi.BindPath(SampleService.Method(method), segments, CancellationToken.None));

        Assert.Equal((ErrorCodes.InvalidArgument, message), (error.Code, error.Message));
    }

    [Fact]
    public void The_path_form_of_a_method_without_optional_parameters_says_what_it_always_said()
    {
        Assert.True(ServiceCatalog.Default.TryFind("auth", "set", out _, out var set));

        var error = Assert.Throws<ServiceException>(() => ManagementApi.BindPath(set!, ["1"], CancellationToken.None));

        Assert.Equal("auth/set takes 2 path parameter(s) (userId, sessionId), got 1.", error.Message);
    }

    [Fact]
    public void OpenApi_leaves_optional_parameters_out_of_required_and_types_integers()
    {
        var document = new OpenApiDocument();
        OpenApiDocumentation.Describe(document, SampleService.Catalog);

        var history = RequestBody(document, "history");
        Assert.True(history.Required);
        var schema = history.Content!["application/json"].Schema!;
        Assert.Equal(new[] { "channelId", "since", "limit" }, schema.Properties!.Keys);
        Assert.Equal(new[] { "channelId" }, schema.Required!);
        Assert.Equal(JsonSchemaType.String, schema.Properties["since"].Type);
        Assert.Equal(JsonSchemaType.Integer, schema.Properties["limit"].Type);

        var scale = RequestBody(document, "scale").Content!["application/json"].Schema!;
        Assert.Equal(new[] { "count" }, scale.Required!);
        Assert.Equal(JsonSchemaType.Integer, scale.Properties!["count"].Type);
        Assert.Equal(JsonSchemaType.Integer, scale.Properties["factor"].Type);
    }

    private static object?[] Bind(MethodDescriptor method, string body)
    {
        using var json = JsonDocument.Parse(body);
        return ServiceMethod.For(method).Bind(json.RootElement, CancellationToken.None);
    }

    private static IOpenApiRequestBody RequestBody(OpenApiDocument document, string method) =>
        document.Paths[$"/api/sample/{method}"].Operations![HttpMethod.Post].RequestBody!;

    private sealed class RecordingSampleService : ISampleService
    {
        public List<string> Calls { get; } = [];

        public Task<JsonElement> HistoryAsync(string channelId, string? since = null, int? limit = null, CancellationToken cancellationToken = default)
        {
            Calls.Add($"history({channelId}, {since ?? "null"}, {limit?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"})");
            return Task.FromResult(JsonSerializer.SerializeToElement(new { }));
        }

        public Task<int> ScaleAsync(int count, int factor = 2, CancellationToken cancellationToken = default)
        {
            Calls.Add($"scale({count}, {factor})");
            return Task.FromResult(count * factor);
        }
    }

    [Service("bad", "An optional parameter before a required one.")]
    private interface IOptionalBeforeRequired
    {
        [Method("Cannot be called by position.")]
        Task SetAsync([Optional, DefaultParameterValue(null)] string? first, string second, CancellationToken cancellationToken = default);
    }

    [Service("bad", "An optional JSON value.")]
    private interface IOptionalJson
    {
        [Method("null would mean both a value and its absence.")]
        Task SendAsync(JsonElement message = default, CancellationToken cancellationToken = default);
    }

    [Service("bad", "A long.")]
    private interface ILongParameter
    {
        [Method("Has no wire type.")]
        Task TakeAsync(long value, CancellationToken cancellationToken = default);
    }
}
