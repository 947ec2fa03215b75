using System.Text.Json;
using SocketPush.Client;
using SocketPush.Client.Services;
using SocketPush.Node.Cluster.Routing;

namespace SocketPush.Node.Cluster.Peers;

/// <summary>Carries the calls of a service proxy to one other node: the same declaration, over the peer channel.</summary>
internal sealed class PeerInvoker(PeerLinks links, string nodeId) : IServiceInvoker
{
    public Task<JsonElement> InvokeAsync(MethodDescriptor method, ReadOnlyMemory<byte> arguments, CancellationToken cancellationToken) =>
        links.CallAsync(nodeId, method, arguments, Forwarding.Hops + 1, cancellationToken);
}
