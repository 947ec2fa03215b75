using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace SocketPush.EndToEnd.Tests;

/// <summary>The node's management API over plain HTTP, for setting up and checking what the pages do.</summary>
internal sealed partial class AdminApi : IDisposable
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
        var answer = await SendAsync(service, method, body);
        return answer.Ok
            ? answer.Body.GetProperty("result").Clone()
            : throw new HttpRequestException($"{service}.{method} answered {(int)answer.Status}: {answer.Body}");
    }

    /// <summary>
    /// Calls <c>POST /api/{service}/{method}</c> and returns whatever it answered: <c>{"result"}</c> on success,
    /// <c>{"error", "code"}</c> otherwise (a body that is not JSON comes as a JSON string).
    /// </summary>
    public async Task<ApiAnswer> SendAsync(string service, string method, object body, CancellationToken cancellationToken = default)
    {
        using var response = await _http.PostAsJsonAsync(new Uri($"/api/{service}/{method}", UriKind.Relative), body, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        JsonElement parsed;
        try
        {
            using var document = JsonDocument.Parse(text);
            parsed = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            parsed = JsonSerializer.SerializeToElement(text);
        }

        return new ApiAnswer(response.StatusCode, parsed);
    }

    /// <summary>manager.status of this node.</summary>
    public async Task<ManagerStatus> StatusAsync() => new(await CallAsync("manager", "status", new { }));

    /// <summary>The client connections the node holds, from its /metrics (socketpush_connections, summed over transports).</summary>
    public async Task<int> ConnectionsAsync()
    {
        var metrics = await GetTextAsync("/metrics");
        return (int)ConnectionsLine().Matches(metrics).Sum(m => double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));
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
                       .Select(p => new ApiParameter(
                           p.GetProperty("name").GetString()!,
                           p.GetProperty("type").GetString()!,
                           p.TryGetProperty("optional", out var optional) && optional.GetBoolean()))]),
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

    [GeneratedRegex(@"^socketpush_connections\{[^}]*\} (?<value>\S+)$", RegexOptions.Multiline)]
    private static partial Regex ConnectionsLine();
}

/// <summary>What one management call answered.</summary>
internal sealed record ApiAnswer(HttpStatusCode Status, JsonElement Body)
{
    public bool Ok => (int)Status is >= 200 and < 300;

    public JsonElement Result => Body.GetProperty("result");

    /// <summary>The error code of a failed call (<c>unavailable</c>, …), or null.</summary>
    public string? Code => !Ok && Body.ValueKind == JsonValueKind.Object && Body.TryGetProperty("code", out var code) ? code.GetString() : null;

    public override string ToString() => $"{(int)Status} {Body}";
}

internal sealed record ApiMethod(string Service, string Method, IReadOnlyList<ApiParameter> Parameters)
{
    public string QualifiedName => $"{Service}.{Method}";
}

internal sealed record ApiParameter(string Name, string Type, bool Optional);
