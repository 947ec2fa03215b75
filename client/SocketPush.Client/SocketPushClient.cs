using SocketPush.Client.Services;

namespace SocketPush.Client;

/// <summary>
/// The management API of a SocketPush node (or cluster: any node answers for all) as typed services.
/// Every call is a <c>POST /api/{service}/{method}</c> to the admin port; every failure is a
/// <see cref="ServiceException"/> whose <see cref="ServiceException.Code"/> is one of <see cref="ErrorCodes"/>.
/// </summary>
/// <example>
/// <code>
/// using var client = new SocketPushClient(new Uri("http://127.0.0.1:8181"));
/// await client.Auth.SetAsync("42", "session-of-42");
/// await client.Channel.SubscribeAsync("42", "news");
/// int reached = await client.Channel.PublishAsync("news", JsonSerializer.SerializeToElement(new { text = "hello" }));
/// </code>
/// </example>
public sealed class SocketPushClient : IDisposable
{
    private readonly HttpClient? _ownedHttpClient;
    private readonly HttpServiceInvoker _invoker;

    /// <summary>Creates a client of the node whose admin port answers at <paramref name="adminUrl"/>.</summary>
    /// <param name="adminUrl">The admin base URL, for example <c>http://127.0.0.1:8181</c>; a path prefix is kept.</param>
    /// <param name="apiKey">The node's <c>admin.apiKey</c>, sent as a bearer token; null when the node has none.</param>
    /// <param name="httpClient">An HttpClient to send with (it is not disposed by this client); null to make one.</param>
    public SocketPushClient(Uri adminUrl, string? apiKey = null, HttpClient? httpClient = null)
    {
        ArgumentNullException.ThrowIfNull(adminUrl);
        if (!adminUrl.IsAbsoluteUri || (adminUrl.Scheme != Uri.UriSchemeHttp && adminUrl.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"The admin URL must be an absolute http or https URL, not '{adminUrl}'.", nameof(adminUrl));
        }

        if (httpClient is null)
        {
            // Timeouts are applied per call (see Timeout), so the HttpClient's own must never fire first.
            _ownedHttpClient = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2) })
            {
                Timeout = System.Threading.Timeout.InfiniteTimeSpan,
            };
        }

        AdminUrl = adminUrl;
        _invoker = new HttpServiceInvoker(httpClient ?? _ownedHttpClient!, adminUrl, apiKey);
        Auth = ServiceProxy.Create<IAuthService>(_invoker);
        User = ServiceProxy.Create<IUserService>(_invoker);
        Channel = ServiceProxy.Create<IChannelService>(_invoker);
        Manager = ServiceProxy.Create<IManagerService>(_invoker);
        Worker = ServiceProxy.Create<IWorkerService>(_invoker);
    }

    /// <summary>The admin base URL the calls go to.</summary>
    public Uri AdminUrl { get; }

    /// <summary>
    /// How long one call may take, connecting included, before it fails with <see cref="ErrorCodes.Unavailable"/>.
    /// </summary>
    /// <value>10 seconds by default.</value>
    public TimeSpan Timeout
    {
        get => _invoker.Timeout;
        set
        {
            if (value <= TimeSpan.Zero && value != System.Threading.Timeout.InfiniteTimeSpan)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The timeout must be positive or Timeout.InfiniteTimeSpan.");
            }

            _invoker.Timeout = value;
        }
    }

    /// <summary>Session authorization: <c>set</c>, <c>check</c>, <c>remove</c>.</summary>
    public IAuthService Auth { get; }

    /// <summary>Messages to users and their connections: <c>publish</c>, <c>remove</c>, <c>getFrontendServer</c>, <c>listAll</c>.</summary>
    public IUserService User { get; }

    /// <summary>Channel subscriptions and messages: <c>subscribe</c>, <c>publish</c>, <c>getSubscribers</c> and the rest.</summary>
    public IChannelService Channel { get; }

    /// <summary>The cluster: <c>status</c>, whose result is a JSON object (members, their states and URLs, ring shares, records).</summary>
    public IManagerService Manager { get; }

    /// <summary>The node this client talks to: <c>reload</c> its config file, <c>getConfig</c> (secrets hidden).</summary>
    public IWorkerService Worker { get; }

    /// <summary>Releases the HttpClient this client made; one passed to the constructor is left alone.</summary>
    public void Dispose() => _ownedHttpClient?.Dispose();
}
