using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http.Features;
using SocketPush.Client.Services;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Admin;

/// <summary>
/// The management API over HTTP, in both forms, derived from <see cref="ServiceCatalog"/>: the JSON form
/// <c>POST /api/{service}/{method}</c> and socket-push's <c>GET /{service}/{method}/{p1}/{p2}</c>.
/// Calls go to the same service interfaces the node uses internally.
/// </summary>
internal sealed class ManagementApi(
    IServiceProvider services,
    ApiKeyCheck keys,
    LiveConfig config,
    AdminMetrics metrics,
    ILogger<ManagementApi> logger)
{
    // Room for the parameter names and ids around the message itself.
    private const int BodyOverheadBytes = 16 * 1024;

    private static readonly ServiceCatalog Catalog = ServiceCatalog.Default;

    /// <summary>Marks the endpoints of management calls: they need the API key and count against the rate limit.</summary>
    public static readonly object Gated = new GatedCall();

    /// <summary>
    /// <c>GET /api</c>: <c>{service: {method: {params: [{name, type, optional?}], description, result}}}</c>.
    /// <c>optional: true</c> is written only on optional parameters, so that a required one reads as it always has.
    /// </summary>
    public static Dictionary<string, Dictionary<string, object>> Describe(ServiceCatalog catalog) =>
        catalog.Services.ToDictionary(
            s => s.Name,
            s => s.Methods.ToDictionary(
                m => m.Name,
                m => (object)new
                {
                    @params = m.Parameters.Select(p => p.Optional
                        ? (object)new { name = p.Name, type = p.Type, optional = true }
                        : new { name = p.Name, type = p.Type }),
                    description = m.Description,
                    result = m.ResultType,
                }));

    /// <summary>
    /// Middleware in front of the endpoints marked <see cref="Gated"/>: checks the API key before anything else of the
    /// call is done (the body is not read, the method not looked up), and hands the key's partition on to the rate
    /// limiter that runs next.
    /// </summary>
    public async Task GateAsync(HttpContext context, RequestDelegate next)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<GatedCall>() is null)
        {
            await next(context);
            return;
        }

        var outcome = keys.Check(context);
        if (outcome.Refusal is { } refusal)
        {
            var message = refusal == ErrorCodes.Unauthorized
                ? "This node requires an API key: send Authorization: Bearer <one of admin.apiKeys>."
                : "The API key is wrong.";
            var (service, method) = CallOf(context);
            await FailAsync(context, service, method, refusal, message);
            return;
        }

        context.Items[ManagementRateLimit.PartitionItem] = outcome.Partition;
        await next(context);
    }

    /// <summary>The rate limiter's answer to a call over <c>admin.requestsPerSecond</c>.</summary>
    public Task RateLimitedAsync(HttpContext context, TimeSpan retryAfter)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (service, method) = CallOf(context);
        return FailAsync(context, service, method, ErrorCodes.RateLimited,
            $"More than admin.requestsPerSecond ({config.Current.Admin.RequestsPerSecond}) calls per second with this API key; retry after {seconds} s.");
    }

    public async Task HandlePostAsync(HttpContext context, string service, string method)
    {
        if (Find(service, method, out var code, out var error) is not { } descriptor)
        {
            await FailAsync(context, service, method, code!, error!);
            return;
        }

        var limit = config.Options.MaxMessageBytes + BodyOverheadBytes;
        if (context.Request.ContentLength > limit)
        {
            await FailAsync(context, service, method, ErrorCodes.MessageTooLarge, $"The request body is larger than {limit} bytes.");
            return;
        }

        JsonElement body;
        try
        {
            body = await ReadBodyAsync(context, limit);
        }
        catch (JsonException e)
        {
            await FailAsync(context, service, method, ErrorCodes.MalformedJson, $"The body is not valid JSON: {e.Message}");
            return;
        }
        catch (ServiceException e)
        {
            await FailAsync(context, service, method, e.Code, e.Message);
            return;
        }
        catch (BadHttpRequestException e)
        {
            // The body ended before its Content-Length (the client closed its side), or broke HTTP's own framing.
            await FailAsync(context, service, method, e.StatusCode == StatusCodes.Status413PayloadTooLarge ? ErrorCodes.MessageTooLarge : ErrorCodes.MalformedJson,
                $"The request body could not be read: {e.Message}");
            return;
        }

        await InvokeAsync(context, descriptor, () => ServiceMethod.For(descriptor).Bind(body, context.RequestAborted));
    }

    /// <summary>socket-push's form. Segments are cut from the raw target and decoded once, so %2F stays inside an id.</summary>
    public async Task HandlePathAsync(HttpContext context)
    {
        var segments = PathSegments(context);
        var service = segments.ElementAtOrDefault(0) ?? "";
        var method = segments.ElementAtOrDefault(1) ?? "";
        if (Find(service, method, out var code, out var error) is not { } descriptor)
        {
            await FailAsync(context, service, method, code!, error!);
            return;
        }

        if (NotUtf8(descriptor, RawSegments(context)) is { } parameter)
        {
            var json = descriptor.Parameters.Single(p => p.Name == parameter).Type == "json";
            await FailAsync(context, service, method, json ? ErrorCodes.MalformedJson : ErrorCodes.InvalidArgument,
                $"{parameter} is not valid UTF-8 once percent-decoded; the path form takes UTF-8 text, percent-encoded.");
            return;
        }

        await InvokeAsync(context, descriptor, () => BindPath(descriptor, segments[2..], context.RequestAborted));
    }

    private static string[] PathSegments(HttpContext context) => [.. RawSegments(context).Select(Uri.UnescapeDataString)];

    private static string[] RawSegments(HttpContext context)
    {
        var rawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "/";
        var query = rawTarget.IndexOf('?', StringComparison.Ordinal);
        var path = query >= 0 ? rawTarget[..query] : rawTarget;
        return path.Split('/', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>
    /// The name of the first parameter whose segment, percent-decoded, is not UTF-8 (<c>%C3%28</c>), or null:
    /// Uri.UnescapeDataString would keep such bytes as their escapes, and a message would reach clients as text
    /// its sender did not write.
    /// </summary>
    private static string? NotUtf8(MethodDescriptor descriptor, string[] rawSegments)
    {
        for (var i = 2; i < rawSegments.Length && i - 2 < descriptor.Parameters.Count; i++)
        {
            var bytes = Encoding.UTF8.GetBytes(rawSegments[i]);
            if (!Utf8.IsValid(WebUtility.UrlDecodeToBytes(bytes, 0, bytes.Length)))
            {
                return descriptor.Parameters[i - 2].Name;
            }
        }

        return null;
    }

    /// <summary>The service and method a call names, in either form, before it is looked up.</summary>
    private static (string Service, string Method) CallOf(HttpContext context)
    {
        var route = context.Request.RouteValues;
        if (route.TryGetValue("service", out var service) && route.TryGetValue("method", out var method))
        {
            return (service as string ?? "", method as string ?? "");
        }

        var segments = PathSegments(context);
        return (segments.ElementAtOrDefault(0) ?? "", segments.ElementAtOrDefault(1) ?? "");
    }

    private static MethodDescriptor? Find(string service, string method, out string? code, out string? error)
    {
        code = error = null;
        if (Catalog.TryFind(service, method, out var serviceDescriptor, out var methodDescriptor))
        {
            return methodDescriptor;
        }

        if (serviceDescriptor is null)
        {
            code = ErrorCodes.UnknownService;
            error = $"Unknown service '{service}'. Services: {string.Join(", ", Catalog.Services.Select(s => s.Name))}.";
        }
        else
        {
            code = ErrorCodes.UnknownMethod;
            error = $"Service '{service}' has no method '{method}'. Methods: {string.Join(", ", serviceDescriptor.Methods.Select(m => m.Name))}.";
        }

        return null;
    }

    private async Task InvokeAsync(HttpContext context, MethodDescriptor descriptor, Func<object?[]> bind)
    {
        try
        {
            var arguments = bind();
            var implementation = services.GetRequiredService(descriptor.Method.DeclaringType!);
            var result = await ServiceMethod.For(descriptor).InvokeAsync(implementation, arguments);
            metrics.ApiCall(descriptor.Service, descriptor.Name, "ok");
            AdminLog.Called(logger, descriptor.Service, descriptor.Name, "ok");
            await context.Response.WriteAsJsonAsync(new { result }, context.RequestAborted);
        }
        catch (ServiceException e)
        {
            await FailAsync(context, descriptor.Service, descriptor.Name, e.Code, e.Message);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            AdminLog.CallFailed(logger, e, descriptor.Service, descriptor.Name);
            await FailAsync(context, descriptor.Service, descriptor.Name, ErrorCodes.Internal, "The node failed to handle the call; its log has the details.");
        }
    }

    private Task FailAsync(HttpContext context, string service, string method, string code, string message)
    {
        // Only the catalog's names are labels: a scanner must not be able to grow the metric without bound.
        var known = Catalog.TryFind(service, method, out _, out _);
        metrics.ApiCall(known ? service : "unknown", known ? method : "unknown", code);
        AdminLog.Called(logger, service, method, code);
        return ErrorBody.WriteAsync(context, code, message);
    }

    private static async Task<JsonElement> ReadBodyAsync(HttpContext context, int limit)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                throw new ServiceException(ErrorCodes.MessageTooLarge, $"The request body is larger than {limit} bytes.");
            }

            buffer.Write(chunk, 0, read);
        }

        if (buffer.Length == 0)
        {
            return JsonSerializer.SerializeToElement(new { });
        }

        var bytes = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        // The JSON reader passes bytes inside a string through unchecked; a message must reach every client as
        // valid UTF-8, so a body that is not is refused whole.
        if (!Utf8.IsValid(bytes.Span))
        {
            throw new ServiceException(ErrorCodes.MalformedJson, "The body is not valid UTF-8: JSON text, and every string in it, must be UTF-8.");
        }

        using var document = JsonDocument.Parse(bytes);
        return document.RootElement.ValueKind == JsonValueKind.Object
            ? document.RootElement.Clone()
            : throw new ServiceException(ErrorCodes.MalformedJson, "The body must be a JSON object of parameters, for example {\"userId\": \"1\"}.");
    }

    private sealed class GatedCall;

    /// <summary>
    /// Binds the path form's segments by position. Trailing optional parameters may be left out (they get their
    /// defaults); since segments are positional, one in the middle cannot be.
    /// </summary>
    internal static object?[] BindPath(MethodDescriptor descriptor, string[] values, CancellationToken cancellationToken)
    {
        var method = ServiceMethod.For(descriptor);
        var all = descriptor.Parameters.Count;
        var required = descriptor.Parameters.Count(p => !p.Optional);
        if (values.Length < required || values.Length > all)
        {
            var count = required == all ? $"{all}" : $"{required} to {all}";
            throw new ServiceException(ErrorCodes.InvalidArgument,
                $"{descriptor.Service}/{descriptor.Name} takes {count} path parameter(s) ({method.ParameterList()}), got {values.Length}.");
        }

        var arguments = new object?[all + 1];
        for (var i = 0; i < all; i++)
        {
            var parameter = descriptor.Parameters[i];
            arguments[i] = i >= values.Length ? method.DefaultOf(i)
                : parameter.Type switch
                {
                    "json" => ParseJsonParameter(parameter.Name, values[i]),
                    "integer" => ServiceMethod.ParseInteger(parameter.Name, values[i]),
                    _ => values[i],
                };
        }

        arguments[^1] = cancellationToken;
        return arguments;
    }

    private static JsonElement ParseJsonParameter(string name, string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new ServiceException(ErrorCodes.MalformedJson,
                $"{name} must be URL-encoded JSON (a string is written with quotes, e.g. %22hello%22): {e.Message}");
        }
    }
}
