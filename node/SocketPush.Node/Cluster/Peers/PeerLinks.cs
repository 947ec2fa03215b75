using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Net;
using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Node.Admin;
using SocketPush.Node.Cluster.Routing;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Cluster.Peers;

/// <summary>
/// Calls between nodes over the peer channel: request ids, a timeout per call, a bound on calls in flight per peer
/// (one more fails at once, never silently), and the serving side, which binds a request exactly like an HTTP call
/// and runs it off the receive thread. Every failure reaches the caller as a <see cref="ServiceException"/>.
/// </summary>
internal sealed class PeerLinks : IDisposable
{
    /// <summary>The services a peer may call: the public ones, served through routing, and the node-to-node ones.</summary>
    private static readonly FrozenDictionary<(string Service, string Method), MethodDescriptor> Methods =
        ServiceCatalog.Default.Services
            .Concat(ServiceCatalog.Build(typeof(IRecordService), typeof(IEdgeService)).Services)
            .SelectMany(s => s.Methods)
            .ToFrozenDictionary(m => (m.Service, m.Name));

    private readonly ConcurrentDictionary<long, Pending> _pending = new();
    private readonly ConcurrentDictionary<string, int> _inFlight = new(StringComparer.Ordinal);
    private readonly ClusterMembership _membership;
    private readonly IServiceProvider _services;
    private readonly LiveConfig _config;
    private readonly NodeMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<PeerLinks> _logger;
    private long _nextId;
    private bool _attached;

    public PeerLinks(ClusterMembership membership, IServiceProvider services, LiveConfig config, NodeMetrics metrics, TimeProvider time, ILogger<PeerLinks> logger)
    {
        _membership = membership;
        _services = services;
        _config = config;
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    /// <summary>Starts serving and answering; called once the cluster port is open.</summary>
    public void Attach()
    {
        _membership.Peers.Received += OnReceived;
        _membership.Peers.Disconnected += OnDisconnected;
        _attached = true;
    }

    public string LocalId => _membership.View.LocalId;

    public void Dispose()
    {
        if (_attached)
        {
            _membership.Peers.Received -= OnReceived;
            _membership.Peers.Disconnected -= OnDisconnected;
        }

        foreach (var pending in _pending.Values)
        {
            pending.Answer.TrySetException(new ServiceException(ErrorCodes.Unavailable, "The node is shutting down."));
        }
    }

    /// <summary>Calls a method on another node and returns its JSON result.</summary>
    public async Task<JsonElement> CallAsync(string nodeId, MethodDescriptor method, ReadOnlyMemory<byte> arguments, int hops, CancellationToken cancellationToken)
    {
        if (_membership.View.Member(nodeId) is not { IsLive: true } member)
        {
            throw Unavailable(method, nodeId, "it is not a live member of the cluster");
        }

        var limit = _config.Current.Cluster.MaxRequestsInFlightPerPeer;
        if (_inFlight.AddOrUpdate(nodeId, 1, (_, n) => n + 1) > limit)
        {
            Release(nodeId);
            _metrics.Forwarded(method, "overloaded");
            throw Unavailable(method, nodeId, $"{limit} calls are already waiting for it (cluster.maxRequestsInFlightPerPeer)");
        }

        var id = Interlocked.Increment(ref _nextId);
        var started = _time.GetTimestamp();
        var outcome = "ok";
        try
        {
            var wire = new PeerMessage
            {
                Id = id,
                From = LocalId,
                Hops = (byte)Math.Min(hops, byte.MaxValue),
                Service = method.Service,
                Method = method.Name,
                Body = arguments.ToArray(),
            }.Encode();
            // A link that drops (a connection replaced while both sides connected at once, a peer's restart) may
            // or may not have carried the call; one that is safe to repeat goes once more, on a new link.
            var answer = await SendAndWaitAsync(id, member.Address, wire, method, nodeId, Repeatable(method), cancellationToken).ConfigureAwait(false);
            if (answer is null)
            {
                _metrics.Forwarded(method, "retried");
                answer = (await SendAndWaitAsync(id, member.Address, wire, method, nodeId, retryOnLoss: false, cancellationToken).ConfigureAwait(false))!;
            }

            if (answer.ErrorCode is { } code)
            {
                outcome = code;
                throw new ServiceException(code, answer.ErrorMessage ?? code);
            }

            return answer.Body.Length == 0 ? default : JsonSerializer.Deserialize<JsonElement>(answer.Body);
        }
        catch (ServiceException e) when (outcome == "ok")
        {
            outcome = e.Code;
            throw;
        }
        finally
        {
            _pending.TryRemove(id, out _);
            Release(nodeId);
            _metrics.Forwarded(method, outcome);
            _metrics.PeerLatency(_time.GetElapsedTime(started));
        }
    }

    private void Release(string nodeId) => _inFlight.AddOrUpdate(nodeId, 0, (_, n) => n - 1);

    private static ServiceException Unavailable(MethodDescriptor method, string nodeId, string why) =>
        new(ErrorCodes.Unavailable, $"{method.Service}.{method.Name}: node {nodeId} cannot answer: {why}.");

    private void OnReceived(IPEndPoint from, ReadOnlySpan<byte> payload)
    {
        _metrics.PeerBytesReceived(payload.Length);
        if (PeerMessage.TryDecode(payload, out var problem) is not { } message)
        {
            _metrics.PeerMessageDropped("malformed");
            ClusterLog.PeerMessageDropped(_logger, from, problem ?? "unreadable");
            return;
        }

        if (message.IsResponse)
        {
            if (_pending.TryGetValue(message.Id, out var pending))
            {
                pending.Answer.TrySetResult(message);
            }

            return;
        }

        // Off the receive thread: serving a call may wait for other nodes.
        ThreadPool.UnsafeQueueUserWorkItem(static state => _ = state.Links.ServeAsync(state.Message, state.From), (Links: this, Message: message, From: from), preferLocal: false);
    }

    private async Task ServeAsync(PeerMessage request, IPEndPoint from)
    {
        PeerMessage response;
        try
        {
            if (!Methods.TryGetValue((request.Service!, request.Method!), out var descriptor))
            {
                throw new ServiceException(ErrorCodes.UnknownMethod, $"This node has no method {request.Service}.{request.Method}.");
            }

            _metrics.PeerCallServed(descriptor);
            var method = ServiceMethod.For(descriptor);
            using var document = JsonDocument.Parse(request.Body.Length == 0 ? "{}"u8.ToArray() : request.Body);
            var arguments = method.Bind(document.RootElement, CancellationToken.None);
            var target = _services.GetRequiredService(descriptor.Method.DeclaringType!);
            var result = await Forwarding.RunAsync(request.Hops, () => method.InvokeAsync(target, arguments)).ConfigureAwait(false);
            response = new PeerMessage
            {
                Id = request.Id,
                IsResponse = true,
                From = LocalId,
                Body = descriptor.ResultType == "none" ? [] : JsonSerializer.SerializeToUtf8Bytes(result),
            };
        }
        catch (ServiceException e)
        {
            response = Failure(request, e.Code, e.Message);
        }
        catch (JsonException e)
        {
            _metrics.PeerMessageDropped("malformed");
            response = Failure(request, ErrorCodes.MalformedJson, $"The call's arguments are not JSON: {e.Message}");
        }
#pragma warning disable CA1031 // A bug in one call must answer that call, not take the data plane down.
        catch (Exception e)
#pragma warning restore CA1031
        {
            ClusterLog.ServeFailed(_logger, e, request.Service ?? "?", request.Method ?? "?", request.From);
            response = Failure(request, ErrorCodes.Internal, "The node failed to handle the call; its log has the details.");
        }

        var wire = response.Encode();
        _metrics.PeerBytesSent(wire.Length);
        _membership.Peers.Send(from, wire);
    }

    /// <summary>Sends one call and waits for its answer, within cluster.requestTimeout; null when its link was lost and <paramref name="retryOnLoss"/>.</summary>
    private async Task<PeerMessage?> SendAndWaitAsync(
        long id, string address, byte[] wire, MethodDescriptor method, string nodeId, bool retryOnLoss, CancellationToken cancellationToken)
    {
        var pending = new Pending(address);
        _pending[id] = pending;
        if (!_membership.Peers.Send(address, wire))
        {
            throw Unavailable(method, nodeId, "its link refused more data");
        }

        _metrics.PeerBytesSent(wire.Length);
        var timeout = _config.Current.Cluster.RequestTimeout;
        try
        {
            return await pending.Answer.Task.WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw Unavailable(method, nodeId, $"it did not answer within {timeout.TotalSeconds:0.###} s (cluster.requestTimeout)");
        }
        catch (ServiceException) when (pending.Lost && retryOnLoss)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether a call may run twice with the effect of once: record writes merge (the same value again), reads
    /// read. A publish or a delivery run twice would reach clients twice.
    /// </summary>
    private static bool Repeatable(MethodDescriptor method) =>
        method.Name is not ("publish" or "deliver");

    private PeerMessage Failure(PeerMessage request, string code, string message) =>
        new() { Id = request.Id, IsResponse = true, From = LocalId, ErrorCode = code, ErrorMessage = message };

    /// <summary>A lost link fails the calls waiting on it at once instead of at their timeout.</summary>
    private void OnDisconnected(IPEndPoint peer)
    {
        var address = peer.ToString();
        foreach (var pending in _pending.Values)
        {
            if (pending.Address == address)
            {
                pending.Lost = true;
                pending.Answer.TrySetException(new ServiceException(ErrorCodes.Unavailable, $"The link to {address} was lost."));
            }
        }
    }

    private sealed class Pending(string address)
    {
        public string Address { get; } = address;

        public TaskCompletionSource<PeerMessage> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The call's link ended before its answer came.</summary>
        public volatile bool Lost;
    }
}
