using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using SocketPush.Client.Services;

namespace SocketPush.Client;

/// <summary>
/// Sends calls to a node's JSON form, <c>POST /api/{service}/{method}</c>, and turns every way a call can fail
/// (an error answer, an unreachable node, no answer in time) into a <see cref="ServiceException"/>.
/// </summary>
internal sealed class HttpServiceInvoker(HttpClient httpClient, Uri adminUrl, string? apiKey) : IServiceInvoker
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json") { CharSet = "utf-8" };

    // A base without a trailing slash would drop its last segment when the route is appended.
    private readonly Uri _baseUrl = adminUrl.AbsoluteUri.EndsWith('/') ? adminUrl : new Uri(adminUrl.AbsoluteUri + "/");
    private readonly AuthenticationHeaderValue? _authorization =
        string.IsNullOrEmpty(apiKey) ? null : new AuthenticationHeaderValue("Bearer", apiKey);

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    public async Task<JsonElement> InvokeAsync(MethodDescriptor method, ReadOnlyMemory<byte> arguments, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(method);
        var url = new Uri(_baseUrl, $"api/{Uri.EscapeDataString(method.Service)}/{Uri.EscapeDataString(method.Name)}");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url);
            request.Content = new ReadOnlyMemoryContent(arguments);
            request.Content.Headers.ContentType = JsonContentType;
            request.Headers.Authorization = _authorization;
            using var response = await httpClient.SendAsync(request, timeout.Token).ConfigureAwait(false);
            var body = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
            return ReadAnswer(method, response.StatusCode, body);
        }
        catch (OperationCanceledException exception) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ServiceException(
                ErrorCodes.Unavailable,
                string.Create(
                    CultureInfo.InvariantCulture,
                    $"The SocketPush node at {_baseUrl} did not answer {method.Service}.{method.Name} within {Timeout.TotalSeconds:0.###} s."),
                exception);
        }
        catch (HttpRequestException exception)
        {
            throw new ServiceException(
                ErrorCodes.Unavailable,
                $"Cannot reach the SocketPush node at {_baseUrl} ({method.Service}.{method.Name}): {exception.Message}",
                exception);
        }
    }

    private static JsonElement ReadAnswer(MethodDescriptor method, HttpStatusCode status, byte[] body)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            throw new ServiceException(
                CodeOf(status),
                string.Create(CultureInfo.InvariantCulture, $"{method.Service}.{method.Name}: the node answered HTTP {(int)status} with a body that is not JSON."));
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var error))
            {
                var code = root.TryGetProperty("code", out var codeElement) && codeElement.ValueKind == JsonValueKind.String
                    ? codeElement.GetString()!
                    : CodeOf(status);
                var message = error.ValueKind == JsonValueKind.String ? error.GetString()! : error.GetRawText();
                throw new ServiceException(code, message);
            }

            if ((int)status is >= 200 and < 300 && root.ValueKind == JsonValueKind.Object && root.TryGetProperty("result", out var result))
            {
                return result.Clone();
            }

            throw new ServiceException(
                CodeOf(status),
                string.Create(CultureInfo.InvariantCulture, $"{method.Service}.{method.Name}: the node answered HTTP {(int)status} without a result or an error."));
        }
    }

    // Only for answers that carry no code of their own, such as a proxy's error page in front of the node.
    private static string CodeOf(HttpStatusCode status) => status switch
    {
        HttpStatusCode.BadRequest => ErrorCodes.InvalidArgument,
        HttpStatusCode.Unauthorized => ErrorCodes.Unauthorized,
        HttpStatusCode.Forbidden => ErrorCodes.Forbidden,
        HttpStatusCode.NotFound => ErrorCodes.UnknownMethod,
        HttpStatusCode.Conflict => ErrorCodes.LimitExceeded,
        HttpStatusCode.RequestEntityTooLarge => ErrorCodes.MessageTooLarge,
        HttpStatusCode.TooManyRequests => ErrorCodes.RateLimited,
        HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout => ErrorCodes.Unavailable,
        _ => ErrorCodes.Internal,
    };
}
