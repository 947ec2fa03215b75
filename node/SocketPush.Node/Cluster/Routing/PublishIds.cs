using System.Globalization;
using SocketPush.Client.Services;

namespace SocketPush.Node.Cluster.Routing;

/// <summary>
/// Publish ids: a backend may give one with each publish (so that its own retry is appended once); otherwise the
/// node that takes the call gives one before routing it, so that a retry through a failover carries the same id.
/// </summary>
internal static class PublishIds
{
    /// <summary>Longest publish id accepted.</summary>
    public const int MaxLength = 128;

    // A random prefix per process and a counter: unique across nodes and restarts without coordination.
    private static readonly string Prefix = Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.NextInt64()));
    private static long _counter;

    public static string New() =>
        string.Create(CultureInfo.InvariantCulture, $"{Prefix}-{Interlocked.Increment(ref _counter)}");

    /// <summary>The backend's id, checked (printable ASCII, 1–128 characters), or a new one when it gave none.</summary>
    public static string Given(string? publishId)
    {
        if (publishId is null)
        {
            return New();
        }

        if (publishId.Length is 0 or > MaxLength || publishId.Any(c => c is <= ' ' or > '~'))
        {
            throw new ServiceException(ErrorCodes.InvalidArgument,
                $"publishId must be 1–{MaxLength} printable ASCII characters without spaces.");
        }

        return publishId;
    }
}
