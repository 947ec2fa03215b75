using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using SocketPush.Client.Services;
using SocketPush.Node.Cluster.Routing;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Cluster.Peers;

/// <summary>
/// Calls between nodes over the peer channel: request ids, a timeout per call, a bound on calls in flight per peer
/// (one more fails at once, never silently), and the serving side, which runs each typed request off the receive
/// thread. Every failure reaches the caller as a <see cref="ServiceException"/>.
/// </summary>
internal sealed class PeerLinks : IDisposable
{
    /// <summary>The error code, between nodes only, of a node that refuses records because it is leaving.</summary>
    internal const string LeavingCode = "leaving";

    private readonly ConcurrentDictionary<long, Pending> _pending = new();
    private readonly ConcurrentDictionary<string, int> _inFlight = new(StringComparer.Ordinal);
    private readonly ClusterMembership _membership;
    private readonly PeerHandlers _handlers;
    private readonly LiveConfig _config;
    private readonly ClusterMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<PeerLinks> _logger;
    private long _nextId;
    private bool _attached;

    public PeerLinks(ClusterMembership membership, PeerHandlers handlers, LiveConfig config, ClusterMetrics metrics, TimeProvider time, ILogger<PeerLinks> logger)
    {
        _membership = membership;
        _handlers = handlers;
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

    /// <summary>Sends a request to another node and returns its answer.</summary>
    public async Task<TResult> CallAsync<TResult>(string nodeId, PeerRequest<TResult> request, int hops, CancellationToken cancellationToken)
    {
        var label = request.Label();
        if (_membership.View.Member(nodeId) is not { IsLive: true } member)
        {
            throw Unavailable(label, nodeId, "it is not a live member of the cluster");
        }

        var limit = _config.Current.Cluster.MaxRequestsInFlightPerPeer;
        if (_inFlight.AddOrUpdate(nodeId, 1, (_, n) => n + 1) > limit)
        {
            Release(nodeId);
            _metrics.Forwarded(label, "overloaded");
            throw Unavailable(label, nodeId, $"{limit} calls are already waiting for it (cluster.maxRequestsInFlightPerPeer)");
        }

        var id = Interlocked.Increment(ref _nextId);
        var started = _time.GetTimestamp();
        var outcome = "ok";
        try
        {
            var wire = new PeerEnvelope { Id = id, From = LocalId, Hops = (byte)Math.Min(hops, byte.MaxValue), Request = request }.Encode();
            // A link that drops (a connection replaced while both sides connected at once, a peer's restart) may
            // or may not have carried the call; one that is safe to repeat goes once more, on a new link.
            var answer = await SendAndWaitAsync(id, member.Address, wire, label, nodeId, request.Repeatable(), cancellationToken).ConfigureAwait(false);
            if (answer is null)
            {
                _metrics.Forwarded(label, "retried");
                answer = (await SendAndWaitAsync(id, member.Address, wire, label, nodeId, retryOnLoss: false, cancellationToken).ConfigureAwait(false))!;
            }

            if (answer.ErrorCode == LeavingCode)
            {
                outcome = ErrorCodes.Unavailable;
                _membership.HeardLeaving(nodeId);
                throw Unavailable(label, nodeId, "it is leaving the cluster", leaving: true);
            }

            if (answer.ErrorCode is { } code)
            {
                outcome = code;
                throw new ServiceException(code, answer.ErrorMessage ?? code);
            }

            if (!PeerRequest<TResult>.TryReadResult(answer.Result, out var result))
            {
                _metrics.PeerMessageDropped("malformed");
                throw Unavailable(label, nodeId, "its answer was not readable");
            }

            return result!;
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
            _metrics.Forwarded(label, outcome);
            _metrics.PeerLatency(_time.GetElapsedTime(started));
        }
    }

    private void Release(string nodeId) => _inFlight.AddOrUpdate(nodeId, 0, (_, n) => n - 1);

    private static PeerUnreachableException Unavailable(
        (string Service, string Method) label, string nodeId, string why, bool leaving = false, bool timedOut = false) =>
        new(nodeId, $"{label.Service}.{label.Method}: node {nodeId} cannot answer: {why}.") { Leaving = leaving, TimedOut = timedOut };

    private void OnReceived(IPEndPoint from, ReadOnlySpan<byte> payload)
    {
        _metrics.PeerBytesReceived(payload.Length);
        if (PeerEnvelope.TryDecode(payload, out var problem) is not { } message)
        {
            _metrics.PeerMessageDropped("malformed");
            if (payload.Length > 0 && payload[0] != ClusterSettings.WireVersion)
            {
                // Its sender cannot be read from it: named by its address, as gossip knows it.
                var address = from.ToString();
                var node = _membership.View.Members.FirstOrDefault(m => m.Address == address)?.Name ?? "(not a member)";
                _metrics.PeerRefused("peer_message");
                ClusterLog.PeerRefused(_logger, node, address, $"it sent a message in wire version {payload[0]}, this node reads wire version {ClusterSettings.WireVersion}");
                return;
            }

            ClusterLog.PeerMessageDropped(_logger, from, problem ?? "unreadable");
            return;
        }

        if (message.IsAnswer)
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

    private async Task ServeAsync(PeerEnvelope envelope, IPEndPoint from)
    {
        var request = envelope.Request!;
        var label = request.Label();
        PeerEnvelope answer;
        try
        {
            if (request.MissingProperty() is { } missing)
            {
                _metrics.PeerMessageDropped("malformed");
                throw new ServiceException(ErrorCodes.InvalidArgument, $"{label.Service}.{label.Method} came without its {missing}.");
            }

            _metrics.PeerCallServed(label);
            var result = await Forwarding.RunAsync(envelope.Hops, () => request.ServeAsync(_handlers, CancellationToken.None)).ConfigureAwait(false);
            answer = new PeerEnvelope { Id = envelope.Id, From = LocalId, Result = result };
        }
        catch (NodeLeavingException e)
        {
            // Its own code on the wire only: the caller takes this node out of its ring at once (HeardLeaving).
            answer = Failure(envelope, LeavingCode, e.Message);
        }
        catch (ServiceException e)
        {
            answer = Failure(envelope, e.Code, e.Message);
        }
        catch (JsonException e)
        {
            _metrics.PeerMessageDropped("malformed");
            answer = Failure(envelope, ErrorCodes.MalformedJson, $"The call's message is not JSON: {e.Message}");
        }
#pragma warning disable CA1031 // A bug in one call must answer that call, not take the data plane down.
        catch (Exception e)
#pragma warning restore CA1031
        {
            ClusterLog.ServeFailed(_logger, e, label.Service, label.Method, envelope.From);
            answer = Failure(envelope, ErrorCodes.Internal, "The node failed to handle the call; its log has the details.");
        }

        var wire = answer.Encode();
        _metrics.PeerBytesSent(wire.Length);
        _membership.Peers.Send(from, wire);
    }

    /// <summary>Sends one call and waits for its answer, within cluster.requestTimeout; null when its link was lost and <paramref name="retryOnLoss"/>.</summary>
    private async Task<PeerEnvelope?> SendAndWaitAsync(
        long id, string address, byte[] wire, (string Service, string Method) label, string nodeId, bool retryOnLoss, CancellationToken cancellationToken)
    {
        var pending = new Pending(address);
        _pending[id] = pending;
        if (!_membership.Peers.Send(address, wire))
        {
            throw Unavailable(label, nodeId, "its link refused more data");
        }

        _metrics.PeerBytesSent(wire.Length);
        var timeout = _config.Current.Cluster.RequestTimeout;
        try
        {
            return await pending.Answer.Task.WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw Unavailable(label, nodeId, $"it did not answer within {timeout.TotalSeconds:0.###} s (cluster.requestTimeout)", timedOut: true);
        }
        catch (ServiceException) when (pending.Lost && !retryOnLoss)
        {
            throw Unavailable(label, nodeId, $"its link ({address}) was lost");
        }
        catch (ServiceException) when (pending.Lost && retryOnLoss)
        {
            return null;
        }
    }

    private PeerEnvelope Failure(PeerEnvelope request, string code, string message) =>
        new() { Id = request.Id, From = LocalId, ErrorCode = code, ErrorMessage = message };

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

        public TaskCompletionSource<PeerEnvelope> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The call's link ended before its answer came.</summary>
        public volatile bool Lost;
    }
}

/// <summary>
/// A peer call that got no answer from its node (not a live member, its link lost or full, no answer in time), as
/// opposed to an error the node answered with: a publish whose owner is unreachable waits for a new owner.
/// </summary>
internal sealed class PeerUnreachableException(string nodeId, string message) : ServiceException(ErrorCodes.Unavailable, message)
{
    public string NodeId { get; } = nodeId;

    /// <summary>The node is a live member and took the call, but did not answer in time (it may only be slow).</summary>
    public bool TimedOut { get; init; }

    /// <summary>The node refused the call because it is leaving the cluster: no failure, its keys go elsewhere.</summary>
    public bool Leaving { get; init; }
}

/// <summary>
/// What a leaving node answers a call that would give it records to keep. Here it is <c>unavailable</c>; between nodes
/// it travels as <see cref="PeerLinks.LeavingCode"/>, so the caller knows the node is leaving before gossip says so.
/// </summary>
internal sealed class NodeLeavingException(string message) : ServiceException(ErrorCodes.Unavailable, message);
