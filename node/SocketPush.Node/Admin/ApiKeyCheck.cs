using System.Security.Cryptography;
using System.Text;
using SocketPush.Client.Services;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Admin;

/// <summary>
/// When the node has API keys (<c>admin.apiKey</c>, <c>admin.apiKeys</c>), a management call must carry one of them
/// as <c>Authorization: Bearer &lt;key&gt;</c>. The keys are read from the config in force, so a reload adds or
/// removes one for the next call.
/// </summary>
internal sealed class ApiKeyCheck(LiveConfig config, ILogger<ApiKeyCheck> logger)
{
    private const string Scheme = "Bearer ";

    private volatile KeyDigests? _digests;

    /// <summary>The outcome of a check: the refusal code, or null and the caller's rate-limit partition.</summary>
    public readonly record struct Outcome(string? Refusal, string Partition);

    /// <summary>
    /// Checks the call's key. An accepted call gets its partition: the key (as a digest, never the key itself), or on
    /// a node without keys, the client's address.
    /// </summary>
    public Outcome Check(HttpContext context)
    {
        var digests = Digests();
        var remote = context.Connection.RemoteIpAddress?.ToString();
        if (digests.Keys.Length == 0)
        {
            // The validator refuses a reachable admin port without keys at start and on reload; this is the guard
            // should a config ever get here otherwise.
            if (digests.BeyondLoopback)
            {
                AdminLog.KeyRefused(logger, remote, "the node has no API key but its admin port is reachable from other machines");
                return new Outcome(ErrorCodes.Unauthorized, "");
            }

            return new Outcome(null, "address:" + remote);
        }

        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            AdminLog.KeyRefused(logger, remote, "no API key");
            return new Outcome(ErrorCodes.Unauthorized, "");
        }

        // Digests of equal length, compared in constant time against every key without stopping at a match: the
        // answer time says neither how much of a key was right nor which key matched.
        var presented = SHA256.HashData(Encoding.UTF8.GetBytes(header.AsSpan(Scheme.Length).Trim().ToString()));
        var match = -1;
        for (var i = 0; i < digests.Keys.Length; i++)
        {
            var equal = CryptographicOperations.FixedTimeEquals(presented, digests.Keys[i]);
            match = equal ? i : match;
        }

        if (match < 0)
        {
            AdminLog.KeyRefused(logger, remote, "wrong API key");
            return new Outcome(ErrorCodes.Forbidden, "");
        }

        return new Outcome(null, digests.Partitions[match]);
    }

    /// <summary>The digests of the keys in force, computed once per config.</summary>
    private KeyDigests Digests()
    {
        var current = config.Current;
        var digests = _digests;
        if (digests?.Config != current)
        {
            _digests = digests = new KeyDigests(current);
        }

        return digests;
    }

    private sealed class KeyDigests
    {
        public KeyDigests(NodeConfig config)
        {
            Config = config;
            Keys = [.. config.Admin.AllApiKeys().Distinct(StringComparer.Ordinal).Select(k => SHA256.HashData(Encoding.UTF8.GetBytes(k)))];
            // Half a digest names a key's partition: enough to keep keys apart, and it survives the key list being reordered.
            Partitions = [.. Keys.Select(d => "key:" + Convert.ToHexString(d, 0, 16))];
            BeyondLoopback = ConfigValidator.AdminBeyondLoopback(config);
        }

        public NodeConfig Config { get; }

        public byte[][] Keys { get; }

        public string[] Partitions { get; }

        public bool BeyondLoopback { get; }
    }
}
