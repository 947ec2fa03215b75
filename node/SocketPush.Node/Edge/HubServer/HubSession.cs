using System.Buffers;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace SocketPush.Node.Edge.HubServer;

/// <summary>
/// One client of the hub at <c>/push</c>, speaking SignalR's hub protocol (JSON or MessagePack) over any transport:
/// the handshake, authentication through the query or the <c>Authenticate</c> method, keep-alive pings and
/// closing. The transport subclass moves bytes; everything it sends goes through one gate, so frames stay whole
/// and the handshake answer always comes first.
/// </summary>
internal abstract class HubSession : ClientConnection
{
    /// <summary>Hub messages a client sends are small (Authenticate, pings); SignalR's server limit is the same.</summary>
    public const int MaxClientMessageBytes = 32 * 1024;

    private readonly string? _queryUserId;
    private readonly string? _querySessionId;
    private readonly long _openedAt;
    private long _lastReceived;
    private long _lastSent;
    private byte[]? _partial;
    private volatile bool _handshakeDone;
    private volatile bool _registered;
    private int _closing;

    protected HubSession(string id, ClientTransport transport, HubSessions sessions, string? userId, string? sessionId)
        : base(id, "", transport)
    {
        Sessions = sessions;
        _queryUserId = string.IsNullOrEmpty(userId) ? null : userId;
        _querySessionId = string.IsNullOrEmpty(sessionId) ? null : sessionId;
        _openedAt = _lastReceived = _lastSent = sessions.Time.GetTimestamp();
    }

    protected HubSessions Sessions { get; }

    /// <summary>Held while bytes are handed to the transport.</summary>
    protected Lock SendGate { get; } = new();

    /// <summary>The protocol chosen in the handshake; JSON until then.</summary>
    public HubFormat Format { get; private set; }

    /// <summary>Whether the transport carries binary frames (SSE does not, so no MessagePack there).</summary>
    protected abstract bool Binary { get; }

    /// <summary>
    /// Long polling: each poll proves the client is there, so the server sends no pings and the client timeout
    /// counts from the last poll (see <see cref="ClientPresent"/>), as in SignalR.
    /// </summary>
    protected virtual bool InherentKeepAlive => false;

    /// <summary>True while the client is known to be waiting (a poll is open), whatever it last sent.</summary>
    protected virtual bool ClientPresent => false;

    /// <summary>Why the server stopped reading the client (an unreadable or oversized message), or null.</summary>
    public string? ProtocolError { get; private set; }

    /// <summary>Hands complete hub-protocol bytes to the transport; the caller holds <see cref="SendGate"/>.</summary>
    protected abstract SendResult SendLocked(ReadOnlyMemory<byte> hubBytes);

    /// <summary>Ends the transport once what was sent has gone out.</summary>
    protected abstract void EndTransport();

    /// <summary>
    /// Takes hub-protocol bytes the client sent (one WebSocket message, one POST body). Returns false when the
    /// session is over and the transport should close.
    /// </summary>
    public async ValueTask<bool> ReceiveAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        MarkReceived();
        var input = _partial is null ? new ReadOnlySequence<byte>(data) : new ReadOnlySequence<byte>([.. _partial, .. data.Span]);
        _partial = null;
        try
        {
            // The handshake and the JSON protocol are text: bytes that are not UTF-8 would reach the protocol's string
            // reader, which throws for them (a 500 on a POST, a dropped connection on a binary frame).
            if ((!_handshakeDone || Format == HubFormat.Json) && !IsUtf8(input))
            {
                throw new InvalidDataException("The message is not valid UTF-8.");
            }

            if (!_handshakeDone)
            {
                if (!HandshakeProtocol.TryParseRequestMessage(ref input, out var request))
                {
                    return KeepPartial(input);
                }

                if (!await CompleteHandshakeAsync(request, cancellationToken))
                {
                    return false;
                }
            }

            var protocol = HubProtocols.Of(Format);
            while (!input.IsEmpty && protocol.TryParseMessage(ref input, HubProtocols.Binder.Instance, out var message))
            {
                if (!await HandleAsync(message, cancellationToken))
                {
                    return false;
                }
            }

            return KeepPartial(input);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or System.Text.Json.JsonException or MessagePack.MessagePackSerializationException)
        {
            Sessions.Metrics.MalformedClientMessage();
            ClientLog.MalformedHubMessage(Sessions.Logger, Id, e.Message);
            if (!_handshakeDone)
            {
                // Before the handshake the client only understands a handshake answer: its start fails with this.
                ProtocolError = $"The server could not read the handshake: {e.Message}";
                SendHandshakeAnswer(ProtocolError);
            }
            else
            {
                ProtocolError = $"The server could not read a message: {e.Message}";
            }

            Close(ProtocolError, allowReconnect: false);
            return false;
        }
    }

    /// <summary>Whether the bytes are UTF-8, allowing a character cut at the end (its rest comes with the next bytes).</summary>
    private static bool IsUtf8(ReadOnlySequence<byte> input)
    {
        var bytes = input.IsSingleSegment ? input.FirstSpan : input.ToArray();
        while (!bytes.IsEmpty)
        {
            var status = System.Text.Rune.DecodeFromUtf8(bytes, out _, out var consumed);
            if (status == OperationStatus.NeedMoreData)
            {
                return true;
            }

            if (status != OperationStatus.Done)
            {
                return false;
            }

            bytes = bytes[consumed..];
        }

        return true;
    }

    /// <summary>Called when the transport has ended, whatever ended it.</summary>
    public void OnTransportClosed()
    {
        Sessions.Forget(this);
        if (_registered)
        {
            _registered = false;
            Sessions.Registry.Remove(this);
            ClientLog.Disconnected(Sessions.Logger, UserId, Id);
        }
    }

    public override void Abort(string reason, bool allowReconnect) => Close(reason, allowReconnect);

    /// <summary>Sends a close message with the reason and ends the transport; later calls do nothing.</summary>
    public void Close(string? error, bool allowReconnect)
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0)
        {
            return;
        }

        // Under the send lock: a connection joins the registry inside it, before its handshake answer goes out, so a
        // user.remove that found it in the registry waits here until the answer is out and then sends its close.
        lock (SendGate)
        {
            if (_handshakeDone)
            {
                SendLocked(HubProtocols.Serialize(Format, new CloseMessage(error, allowReconnect)));
            }
        }

        EndTransport();
    }

    /// <summary>Runs the session's timers; <see cref="HubSessions"/> calls it about once a second.</summary>
    internal void Tick(long now, Configuration.ClientOptions options)
    {
        var time = Sessions.Time;
        if (Volatile.Read(ref _closing) != 0)
        {
            // Closed already; the transport is still winding down and removes the session when it is gone.
            return;
        }

        if (!_registered && time.GetElapsedTime(_openedAt, now) >= options.AuthenticationTimeout)
        {
            Sessions.Metrics.ConnectionRejected("authentication_timeout");
            ClientLog.AuthenticationTimedOut(Sessions.Logger, Id, options.AuthenticationTimeout);
            Close("The connection did not authenticate in time.", allowReconnect: false);
        }
        else if (!ClientPresent && time.GetElapsedTime(_lastReceived, now) >= options.ClientTimeout)
        {
            ClientLog.ClientTimedOut(Sessions.Logger, Id, options.ClientTimeout);
            Close("The server heard nothing from the client in time.", allowReconnect: true);
        }
        else if (_handshakeDone && !InherentKeepAlive && time.GetElapsedTime(_lastSent, now) >= options.KeepAliveInterval)
        {
            lock (SendGate)
            {
                SendLocked(HubProtocols.Ping(Format));
            }
        }
    }

    /// <summary>Notes that bytes went to the client, which makes a keep-alive ping unnecessary for a while.</summary>
    protected void MarkSent() => _lastSent = Sessions.Time.GetTimestamp();

    /// <summary>Notes that the client showed it is alive (it sent bytes, or a poll arrived or ended).</summary>
    protected void MarkReceived() => _lastReceived = Sessions.Time.GetTimestamp();

    private bool KeepPartial(ReadOnlySequence<byte> rest)
    {
        if (rest.IsEmpty)
        {
            return true;
        }

        if (rest.Length > MaxClientMessageBytes)
        {
            Sessions.Metrics.MalformedClientMessage();
            ProtocolError = $"A message from the client exceeds {MaxClientMessageBytes} bytes.";
            Close(ProtocolError, allowReconnect: false);
            return false;
        }

        _partial = rest.ToArray();
        return true;
    }

    private async ValueTask<bool> CompleteHandshakeAsync(HandshakeRequestMessage request, CancellationToken cancellationToken)
    {
        if (HubProtocols.Find(request, Binary, out var problem) is not { } format)
        {
            Sessions.Metrics.ConnectionRejected("protocol");
            ClientLog.Refused(Sessions.Logger, problem!);
            SendHandshakeAnswer(problem);
            return false;
        }

        Format = format;
        if (_querySessionId is null)
        {
            // No session in the URL: the client authenticates with Authenticate or Recover. A userId alone only
            // routed its negotiate to the user's owner, which a client that recovers needs as much as any other.
            SendHandshakeAnswer(null);
            return true;
        }

        // Checked before the handshake is answered: a refused client's start fails with the reason, and an accepted
        // one is registered by the time its start completes.
        if (await Sessions.Authenticator.ProblemAsync(_queryUserId, _querySessionId, cancellationToken) is { } refusal)
        {
            Sessions.Metrics.ConnectionRejected("authorization_failed");
            ClientLog.Refused(Sessions.Logger, refusal);
            SendHandshakeAnswer(ClientAuthenticator.Failure);
            return false;
        }

        return SendHandshakeAnswer(null, register: _queryUserId);
    }

    /// <summary>Answers the handshake; false when it was refused, by <paramref name="error"/> or by the node's connection limits.</summary>
    private bool SendHandshakeAnswer(string? error, string? register = null)
    {
        lock (SendGate)
        {
            if (register is not null && Register(register) is { } refusal)
            {
                // The client's start fails with the limit's message.
                error = refusal.Message;
            }

            // Registered before the answer goes out, so a client whose start has completed receives every later
            // publish; inside the gate, so a publish that finds the connection waits until the answer is out.
            SendLocked(HubProtocols.HandshakeResponse(error));
            _handshakeDone = error is null;
            return error is null;
        }
    }

    /// <summary>Joins the registry as the user, or answers why the node's limits refuse it.</summary>
    private ConnectionRefusal? Register(string userId)
    {
        UserId = userId;
        if (Sessions.Registry.TryAdd(this) is { } refusal)
        {
            ClientLog.Refused(Sessions.Logger, refusal.Message);
            return refusal;
        }

        _registered = true;
        ClientLog.Connected(Sessions.Logger, userId, Transport, Id);
        return null;
    }

    private async ValueTask<bool> HandleAsync(HubMessage message, CancellationToken cancellationToken)
    {
        switch (message)
        {
            case InvocationMessage { Target: HubProtocols.AuthenticateMethod } invocation:
                var (result, error) = await AuthenticateAsync((string?)invocation.Arguments[0], (string?)invocation.Arguments[1], cancellationToken);
                Complete(invocation.InvocationId, error is null ? CompletionMessage.WithResult(invocation.InvocationId!, result) : CompletionMessage.WithError(invocation.InvocationId!, error));
                return true;
            case InvocationMessage { Target: HubProtocols.RecoverMethod } invocation:
                var (report, recoverError) = await RecoverAsync(
                    (string?)invocation.Arguments[0], (string?)invocation.Arguments[1], (string?)invocation.Arguments[2], cancellationToken);
                Complete(invocation.InvocationId, recoverError is null
                    ? CompletionMessage.WithResult(invocation.InvocationId!, PushMessage.ToPlainValue(System.Text.Json.JsonSerializer.SerializeToElement(report)))
                    : CompletionMessage.WithError(invocation.InvocationId!, recoverError));
                return true;
            case InvocationBindingFailureMessage failure:
                var reason = failure.BindingFailure.SourceException is HubException hub
                    ? hub.Message
                    : $"Failed to invoke '{failure.Target}': {failure.BindingFailure.SourceException.Message}";
                Complete(failure.InvocationId, CompletionMessage.WithError(failure.InvocationId ?? "", reason));
                return true;
            case StreamInvocationMessage stream:
                Complete(stream.InvocationId, CompletionMessage.WithError(stream.InvocationId ?? "", "Streaming is not supported."));
                return true;
            case StreamBindingFailureMessage streamFailure:
                Complete(streamFailure.Id, CompletionMessage.WithError(streamFailure.Id, "Streaming is not supported."));
                return true;
            case CloseMessage:
                EndTransport();
                return false;
            default:
                // Pings only prove the client is alive; results, acks and cancellations have nothing to act on.
                return true;
        }
    }

    private void Complete(string? invocationId, CompletionMessage completion)
    {
        if (invocationId is null)
        {
            // A fire-and-forget send: the client asked for no answer.
            return;
        }

        var bytes = HubProtocols.Serialize(Format, completion);
        lock (SendGate)
        {
            SendLocked(bytes);
        }
    }

    /// <summary>
    /// Authenticates as <c>Authenticate</c> does, and before the connection receives anything live, sends what its
    /// streams missed after the positions of <paramref name="since"/> (a token, as a plain SSE event id; empty for
    /// none): then live messages, each stream in order and once. Answers the <c>streams</c> report.
    /// </summary>
    private async ValueTask<(System.Text.Json.Nodes.JsonObject? Report, string? Error)> RecoverAsync(string? userId, string? sessionId, string? since, CancellationToken cancellationToken)
    {
        if (_registered)
        {
            return (null, "This connection is authenticated already; a client that recovers authenticates with Recover alone, not in its URL nor with Authenticate first.");
        }

        if (StreamCursors.ParseToken(since) is not { } positions)
        {
            return (null, "since is not a list of stream positions (u:epoch.offset,c:channelId:epoch.offset, as the messages' epoch and offset give them).");
        }

        if (await Sessions.Authenticator.ProblemAsync(userId, sessionId, cancellationToken) is { } problem)
        {
            Sessions.Metrics.ConnectionRejected("authorization_failed");
            ClientLog.Refused(Sessions.Logger, problem);
            return (null, ClientAuthenticator.Failure);
        }

        // Held before it registers: a live message of these streams waits until what was missed before it went out.
        Hold(StreamRecovery.StreamsToHold(positions), positions);
        lock (SendGate)
        {
            if (Register(userId!) is { } refusal)
            {
                return (null, refusal.Message);
            }
        }

        return (await Sessions.Recovery.RecoverAsync(this, positions, cancellationToken), null);
    }

    private async ValueTask<(string? Result, string? Error)> AuthenticateAsync(string? userId, string? sessionId, CancellationToken cancellationToken)
    {
        if (_registered)
        {
            // A client authenticated through the query may confirm it; another pair is refused.
            return userId == UserId && await Sessions.Authenticator.ProblemAsync(userId, sessionId, cancellationToken) is null
                ? (userId, null)
                : (null, "This connection is already authenticated as another user.");
        }

        if (await Sessions.Authenticator.ProblemAsync(userId, sessionId, cancellationToken) is { } problem)
        {
            Sessions.Metrics.ConnectionRejected("authorization_failed");
            ClientLog.Refused(Sessions.Logger, problem);
            return (null, ClientAuthenticator.Failure);
        }

        lock (SendGate)
        {
            return Register(userId!) is { } refusal ? (null, refusal.Message) : (userId, null);
        }
    }
}
