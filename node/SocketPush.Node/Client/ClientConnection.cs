namespace SocketPush.Node.Client;

/// <summary>How a client is connected; also the <c>transport</c> label of the connection metrics.</summary>
internal enum ClientTransport
{
    WebSockets,
    ServerSentEvents,
    LongPolling,
    PlainSse,
}

/// <summary>One open, authenticated client connection of a user.</summary>
internal abstract class ClientConnection(string id, string userId, ClientTransport transport)
{
    public string Id { get; } = id;

    public string UserId { get; } = userId;

    public ClientTransport Transport { get; } = transport;

    /// <summary>Closes the connection from the server side (user.remove, shutdown, a slow consumer).</summary>
    public abstract void Abort(string reason);
}
