using System.Net;
using SocketPush.ConsistentHashing;
using SocketPush.Gossip;

namespace SocketPush.Node.Configuration;

/// <summary>One thing wrong with a config: the dotted key and why.</summary>
internal sealed record ConfigProblem(string Key, string Message);

/// <summary>Checks a config for values the node cannot run with.</summary>
internal static class ConfigValidator
{
    private const int MaxMessageBytesLimit = 16 * 1024 * 1024;

    public static IReadOnlyList<ConfigProblem> Validate(NodeConfig config)
    {
        var problems = new List<ConfigProblem>();
        void Require(bool ok, string key, string message)
        {
            if (!ok)
            {
                problems.Add(new ConfigProblem(key, message));
            }
        }

        Require(SocketPush.Client.Services.Ids.Problem("userId", config.Node.Id) is null, "node.id",
            $"'{config.Node.Id}' is not a valid node id (1–128 of A-Z a-z 0-9 . _ : @ -).");
        Require(IPAddress.TryParse(config.Node.BindAddress, out _), "node.bindAddress", $"'{config.Node.BindAddress}' is not an IP address.");
        Require(IPAddress.TryParse(config.Admin.BindAddress, out _), "admin.bindAddress", $"'{config.Admin.BindAddress}' is not an IP address.");
        Require(IsPort(config.Node.ClientPort), "node.clientPort", $"{config.Node.ClientPort} is not a port (0–65535).");
        Require(IsPort(config.Node.ClusterPort), "node.clusterPort", $"{config.Node.ClusterPort} is not a port (0–65535).");
        Require(IsPort(config.Admin.Port), "admin.port", $"{config.Admin.Port} is not a port (0–65535).");
        Require(config.Node.AdvertisedClientUrl.Length == 0 || Uri.TryCreate(config.Node.AdvertisedClientUrl, UriKind.Absolute, out _),
            "node.advertisedClientUrl", $"'{config.Node.AdvertisedClientUrl}' is not an absolute URL.");
        Require(!config.Node.StateDir.Any(c => char.IsControl(c) || Path.GetInvalidPathChars().Contains(c)), "node.stateDir",
            "is not a usable directory path (it holds a control character).");
        // The two ports share one server and are told apart by local port, so they must differ.
        Require(config.Node.ClientPort == 0 || config.Node.ClientPort != config.Admin.Port,
            "admin.port", "the admin port must differ from node.clientPort.");
        Require(config.Admin.ApiKey.Length == 0 || IsKey(config.Admin.ApiKey), "admin.apiKey", "an API key needs at least 16 characters and no spaces.");
        Require(config.Admin.ApiKeys.All(IsKey), "admin.apiKeys", "every API key needs at least 16 characters and no spaces.");
        Require(config.Admin.AllApiKeys().Any() || !AdminBeyondLoopback(config), "admin.apiKey",
            $"is empty, and so is admin.apiKeys, while admin.bindAddress {config.Admin.BindAddress} is reachable from other machines; "
            + "set admin.apiKeys (or admin.apiKey), or bind the admin port to 127.0.0.1.");
        Require(config.Admin.RequestsPerSecond is >= 0 and <= 1_000_000, "admin.requestsPerSecond",
            $"{config.Admin.RequestsPerSecond} is out of range (0 = unlimited, up to 1000000).");
        Require(config.Options.MaxConnectionsPerUser is >= 0 and <= 1_000_000, "options.maxConnectionsPerUser",
            $"{config.Options.MaxConnectionsPerUser} is out of range (0 = unlimited, up to 1000000).");
        Require(config.Options.MaxSubscriptionsPerUser is >= 0 and <= 1_000_000, "options.maxSubscriptionsPerUser",
            $"{config.Options.MaxSubscriptionsPerUser} is out of range (0 = unlimited, up to 1000000).");
        Require(config.Options.MaxConnections is >= 0 and <= 100_000_000, "options.maxConnections",
            $"{config.Options.MaxConnections} is out of range (0 = unlimited, up to 100000000).");
        Require(config.Cluster.PublishTimeout > TimeSpan.Zero, "cluster.publishTimeout", "must be greater than 0.");
        Require(config.History.MaxBytes >= 0, "history.maxBytes", $"{config.History.MaxBytes} is out of range (0 = no history, or more).");
        foreach (var (name, rules) in new[] { ("history.channels", config.History.Channels), ("history.users", config.History.Users) })
        {
            foreach (var rule in rules)
            {
                Require(rule is not null && HistoryRuleProblem(rule) is null, name, rule is null ? "a rule is empty." : $"{rule}: {HistoryRuleProblem(rule)}");
            }

            Require(rules.Where(r => r is not null).GroupBy(r => r.Match, StringComparer.Ordinal).All(g => g.Count() == 1), name,
                "two rules have the same match; which one was meant?");
        }

        Require(config.Options.AuthenticationTimeout > TimeSpan.Zero, "options.authenticationTimeout", "must be greater than 0.");
        Require(config.Options.RemoveUserAfterDisconnectTimeout >= TimeSpan.Zero, "options.removeUserAfterDisconnectTimeout", "must be 0 (off) or more.");
        Require(config.Options.MaxMessageBytes is > 0 and <= MaxMessageBytesLimit, "options.maxMessageBytes",
            $"{config.Options.MaxMessageBytes} is out of range (1–{MaxMessageBytesLimit}).");
        Require(config.Options.MaxQueuedMessagesPerConnection is > 0 and <= 1_000_000, "options.maxQueuedMessagesPerConnection",
            $"{config.Options.MaxQueuedMessagesPerConnection} is out of range (1–1000000).");
        Require(config.Options.SocketSendBufferBytes is 0 or (>= 4096 and <= 16 * 1024 * 1024), "options.socketSendBufferBytes",
            $"{config.Options.SocketSendBufferBytes} is out of range (0, or 4096–16777216).");
        Require(config.Options.SseKeepAliveInterval >= TimeSpan.FromSeconds(1), "options.sseKeepAliveInterval", "must be at least 1s.");
        Require(config.Options.KeepAliveInterval >= TimeSpan.FromSeconds(1) && config.Options.KeepAliveInterval < TimeSpan.FromSeconds(30),
            "options.keepAliveInterval", "must be at least 1s and below 30s, the SignalR clients' default server timeout.");
        Require(config.Options.ClientTimeout > TimeSpan.FromSeconds(15), "options.clientTimeout",
            "must be above 15s: SignalR clients ping only every 15s.");
        Require(Enum.TryParse<LogLevel>(config.Logging.Level, ignoreCase: true, out _), "logging.level",
            $"'{config.Logging.Level}' is not one of Trace, Debug, Information, Warning, Error, Critical, None.");
        foreach (var origin in config.Options.AllowedOrigins)
        {
            Require(Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.AbsolutePath == "/", "options.allowedOrigins",
                $"'{origin}' is not an origin (scheme://host[:port]).");
        }

        foreach (var seed in config.Cluster.Seeds)
        {
            Require(IsEndpoint(seed), "cluster.seeds", $"'{seed}' is not host:port.");
        }

        var cluster = config.Cluster;
        Require(cluster.AdvertiseAddress.Length == 0 || IPAddress.TryParse(cluster.AdvertiseAddress, out _), "cluster.advertiseAddress",
            $"'{cluster.AdvertiseAddress}' is not an IP address.");
        Require(config.Admin.AdvertisedUrl.Length == 0 || Uri.TryCreate(config.Admin.AdvertisedUrl, UriKind.Absolute, out _),
            "admin.advertisedUrl", $"'{config.Admin.AdvertisedUrl}' is not an absolute URL.");
        foreach (var problem in HashRingOptionsValidator.Validate(new HashRingOptions { VirtualNodesPerNode = cluster.VirtualNodes }))
        {
            problems.Add(new ConfigProblem("cluster.virtualNodes", problem));
        }

        Require(cluster.Replicas is >= 1 and <= 7, "cluster.replicas", $"{cluster.Replicas} is out of range (1–7).");
        Require(cluster.WriteQuorum >= 1 && cluster.WriteQuorum <= cluster.Replicas, "cluster.writeQuorum",
            $"{cluster.WriteQuorum} is out of range (1–cluster.replicas, {cluster.Replicas}).");
        Require(cluster.LeaveTimeout >= TimeSpan.FromSeconds(1) && cluster.LeaveTimeout <= TimeSpan.FromMinutes(5), "cluster.leaveTimeout",
            "must be at least 1s and at most 5m.");
        Require(cluster.StandbyAfter >= TimeSpan.FromSeconds(1) && cluster.StandbyAfter <= TimeSpan.FromHours(24), "cluster.standbyAfter",
            "must be at least 1s and at most 24h.");
        Require(cluster.RequestTimeout > TimeSpan.Zero && cluster.RequestTimeout <= TimeSpan.FromMinutes(1), "cluster.requestTimeout",
            "must be above 0 and at most 1m.");
        Require(cluster.MaxRequestsInFlightPerPeer is > 0 and <= 1_000_000, "cluster.maxRequestsInFlightPerPeer",
            $"{cluster.MaxRequestsInFlightPerPeer} is out of range (1–1000000).");
        Require(cluster.MovedPerSecond is > 0 and <= 1_000_000, "cluster.movedPerSecond", $"{cluster.MovedPerSecond} is out of range (1–1000000).");
        Require(cluster.AntiEntropyInterval >= TimeSpan.FromMilliseconds(100) && cluster.AntiEntropyInterval <= TimeSpan.FromHours(1), "cluster.antiEntropyInterval",
            "must be at least 100ms and at most 1h.");
        Require(cluster.AntiEntropyBytesPerSecond is >= 1024 and <= 1_073_741_824, "cluster.antiEntropyBytesPerSecond",
            $"{cluster.AntiEntropyBytesPerSecond} is out of range (1024–1073741824).");
        Require(cluster.PreviousSecret.Length == 0 || cluster.Secret.Length > 0, "cluster.previousSecret",
            "is only a second key accepted beside cluster.secret during a rotation; set cluster.secret too.");
        var tls = config.Tls;
        Require(tls.Key.Length == 0 || tls.Certificate.Length > 0, "tls.key", "is set without tls.certificate.");
        if (tls.Certificate.Length > 0 && ServerCertificate.Problem(tls) is { } certificateProblem)
        {
            problems.Add(new ConfigProblem("tls.certificate", certificateProblem));
        }

        if (IPAddress.TryParse(config.Node.BindAddress, out _) && cluster.Seeds.All(IsEndpoint) && problems.All(p => p.Key != "cluster.previousSecret"))
        {
            // The gossip library knows its own rules; its messages name its option, mapped back to the config key here.
            foreach (var problem in GossipOptionsValidator.Validate(GossipSettings.Of(config, resolvedSeeds: [])))
            {
                problems.Add(new ConfigProblem("cluster.swim", problem));
            }
        }

        return problems;
    }

    /// <summary>True when the admin port would be reachable from other machines.</summary>
    private static string? HistoryRuleProblem(HistoryRule rule) =>
        rule.Match is null || !(rule.Match == "*" || (rule.Match.EndsWith('*') && rule.Match.IndexOf('*') == rule.Match.Length - 1)) ? "match must be * or a prefix ending in * (news/*)."
        : rule.Size is < 0 or > 1_000_000 ? "size is out of range (0 = no history, up to 1000000)."
        : rule.Age <= TimeSpan.Zero || rule.Age > TimeSpan.FromDays(7) ? "age must be more than 0 and at most 168h."
        : null;

    public static bool AdminBeyondLoopback(NodeConfig config) =>
        IPAddress.TryParse(config.Admin.BindAddress, out var address) && !IPAddress.IsLoopback(address);

    /// <summary>Long enough not to be guessed, and sendable as it is in an Authorization header (which is trimmed).</summary>
    private static bool IsKey(string key) => key.Length >= 16 && !key.Any(c => char.IsWhiteSpace(c) || char.IsControl(c));

    private static bool IsPort(int port) => port is >= 0 and <= 65535;

    private static bool IsEndpoint(string value)
    {
        var colon = value.LastIndexOf(':');
        return colon > 0 && int.TryParse(value.AsSpan(colon + 1), out var port) && port is > 0 and <= 65535;
    }
}
