using System.Text.Encodings.Web;
using System.Text.Json;

namespace SocketPush.Node.Admin;

/// <summary>
/// The JSON of every answer of the node's HTTP API: .NET's default encoder writes an apostrophe as <c>\u0027</c>
/// (and &lt;, &gt;, &amp; and non-ASCII letters as escapes) in case the text lands in HTML; API answers are never HTML
/// (served as <c>application/json</c> with <c>nosniff</c>, see <see cref="NoSniff"/>), so they are written as they read.
/// </summary>
internal static class ApiJson
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    /// <summary>Sets the relaxed encoder on options the framework owns (minimal API results, WriteAsJsonAsync).</summary>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        return options;
    }

    /// <summary>Tells browsers never to sniff an answer into another type: a JSON body with markup in a string stays JSON.</summary>
    public static Task NoSniff(HttpContext context, RequestDelegate next)
    {
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return next(context);
    }
}
