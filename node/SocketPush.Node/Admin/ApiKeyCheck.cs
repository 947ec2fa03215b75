using System.Security.Cryptography;
using System.Text;
using SocketPush.Client.Services;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Admin;

/// <summary>When <c>admin.apiKey</c> is set, a management call must carry <c>Authorization: Bearer &lt;key&gt;</c>.</summary>
internal sealed class ApiKeyCheck(LiveConfig config, ILogger<ApiKeyCheck> logger)
{
    /// <summary>Null when the call may proceed, else the error code to answer with.</summary>
    public string? Refusal(HttpContext context)
    {
        var key = config.Current.Admin.ApiKey;
        if (key.Length == 0)
        {
            return null;
        }

        var header = context.Request.Headers.Authorization.ToString();
        const string Scheme = "Bearer ";
        if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            AdminLog.KeyRefused(logger, context.Connection.RemoteIpAddress?.ToString(), "no API key");
            return ErrorCodes.Unauthorized;
        }

        // Constant time, so the key cannot be guessed byte by byte from response times.
        var presented = Encoding.UTF8.GetBytes(header[Scheme.Length..].Trim());
        if (!CryptographicOperations.FixedTimeEquals(presented, Encoding.UTF8.GetBytes(key)))
        {
            AdminLog.KeyRefused(logger, context.Connection.RemoteIpAddress?.ToString(), "wrong API key");
            return ErrorCodes.Forbidden;
        }

        return null;
    }
}
