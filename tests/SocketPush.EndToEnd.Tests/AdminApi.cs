using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace SocketPush.EndToEnd.Tests;

/// <summary>The node's management API over plain HTTP, for setting up and checking what the pages do.</summary>
internal sealed class AdminApi : IDisposable
{
    private readonly HttpClient _http;

    public AdminApi(Uri adminUrl, string? apiKey = null)
    {
        _http = new HttpClient { BaseAddress = adminUrl, Timeout = TimeSpan.FromSeconds(30) };
        if (apiKey is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }
    }

    /// <summary>Calls <c>POST /api/{service}/{method}</c> and returns the <c>result</c> of a 2xx answer.</summary>
    public async Task<JsonElement> CallAsync(string service, string method, object body)
    {
        using var response = await _http.PostAsJsonAsync(new Uri($"/api/{service}/{method}", UriKind.Relative), body);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{service}.{method} answered {(int)response.StatusCode}: {text}");
        }

        using var document = JsonDocument.Parse(text);
        return document.RootElement.GetProperty("result").Clone();
    }

    /// <summary>The description of <c>GET /api</c>: service → method → parameter names and types.</summary>
    public async Task<IReadOnlyList<ApiMethod>> DescribeAsync()
    {
        using var document = JsonDocument.Parse(await GetTextAsync("/api"));
        return
        [
            .. from service in document.RootElement.EnumerateObject()
               from method in service.Value.EnumerateObject()
               select new ApiMethod(
                   service.Name,
                   method.Name,
                   [.. method.Value.GetProperty("params").EnumerateArray()
                       .Select(p => new ApiParameter(p.GetProperty("name").GetString()!, p.GetProperty("type").GetString()!))]),
        ];
    }

    public async Task<string> GetTextAsync(string path)
    {
        using var response = await _http.GetAsync(new Uri(path, UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        return response.IsSuccessStatusCode
            ? text
            : throw new HttpRequestException($"GET {path} answered {(int)response.StatusCode}: {text}");
    }

    public void Dispose() => _http.Dispose();
}

internal sealed record ApiMethod(string Service, string Method, IReadOnlyList<ApiParameter> Parameters)
{
    public string QualifiedName => $"{Service}.{Method}";
}

internal sealed record ApiParameter(string Name, string Type);
