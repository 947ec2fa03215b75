using System.Text.Json;
using SocketPush.Client.Services;

namespace SocketPush.Client;

/// <summary>
/// Carries one call of a service method to wherever it is answered: a node's HTTP API for
/// <see cref="SocketPushClient"/>, a peer link inside the cluster. The typed proxies made by
/// <see cref="ServiceProxy"/> turn interface calls into these.
/// </summary>
public interface IServiceInvoker
{
    /// <summary>Performs the call and returns its JSON result (<c>null</c> for methods without one).</summary>
    /// <param name="method">The method, as described by <see cref="ServiceCatalog"/>.</param>
    /// <param name="arguments">A UTF-8 JSON object with one property per parameter, named by wire name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ServiceException">The call failed; <see cref="ServiceException.Code"/> says why.</exception>
    Task<JsonElement> InvokeAsync(MethodDescriptor method, ReadOnlyMemory<byte> arguments, CancellationToken cancellationToken);
}
