using System.Net;
using System.Text;
using System.Text.Json;

namespace SocketPush.LoadTest.Systems;

/// <summary>The backend side: one keep-alive HTTP client per server for publishes and preparation calls.</summary>
internal sealed class PublishHttp : IDisposable
{
    private readonly HttpClient _client;

    public PublishHttp(Uri baseAddress)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            UseCookies = false,
            MaxConnectionsPerServer = 64,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        };
        _client = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>POSTs a JSON body and returns the response body; a non-2xx answer throws with the body.</summary>
    public async Task<string> PostAsync(string path, string body, string contentType, CancellationToken cancellationToken)
    {
        using var content = new StringContent(body, Encoding.UTF8, contentType);
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        request.Headers.Accept.ParseAdd("application/json");
        using var response = await _client.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"POST {path} answered {(int)response.StatusCode}: {text}", null, response.StatusCode);
        }

        return text;
    }

    public Task<string> GetAsync(string path, CancellationToken cancellationToken) => _client.GetStringAsync(path, cancellationToken);

    /// <summary>An integer property of a JSON object, or -1 when it is absent or not a number.</summary>
    public static long ReadInteger(string json, string property)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty(property, out var value)
                && value.ValueKind == JsonValueKind.Number
                && value.TryGetInt64(out var n) ? n : -1;
        }
        catch (JsonException)
        {
            return -1;
        }
    }

    public void Dispose() => _client.Dispose();
}
