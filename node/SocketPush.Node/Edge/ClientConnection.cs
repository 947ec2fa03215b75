namespace SocketPush.Node.Edge;

/// <summary>How a client is connected; also the <c>transport</c> label of the connection metrics.</summary>
internal enum ClientTransport
{
    WebSockets,
    ServerSentEvents,
    LongPolling,
    PlainSse,
}

/// <summary>What a connection did with a message.</summary>
internal enum SendResult
{
    /// <summary>Not taken: the connection is closing, or was closed now as a slow consumer.</summary>
    Refused,

    /// <summary>Written to the connection's output; the caller counts the delivery.</summary>
    Written,

    /// <summary>Taken, to be written later; the connection counts the delivery when it reaches the socket.</summary>
    Queued,
}

/// <summary>One open client connection; it joins the registry once it has authenticated as a user.</summary>
internal abstract class ClientConnection(string id, string userId, ClientTransport transport)
{
    public string Id { get; } = id;

    /// <summary>The user, set before the connection joins the registry and never changed after.</summary>
    public string UserId { get; protected set; } = userId;

    public ClientTransport Transport { get; } = transport;

    /// <summary>Hands a message to the connection without waiting for the network.</summary>
    public abstract SendResult TrySend(PushMessage message);

    /// <summary>Closes the connection from the server side (user.remove, shutdown, a slow consumer).</summary>
    /// <param name="reason">Why, for the log and for clients that can show it.</param>
    /// <param name="allowReconnect">Whether the client should reconnect: yes when the node stops, no when the user was removed.</param>
    public abstract void Abort(string reason, bool allowReconnect);
}
