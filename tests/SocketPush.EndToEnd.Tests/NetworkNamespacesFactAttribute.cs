namespace SocketPush.EndToEnd.Tests;

/// <summary>
/// A test that runs its nodes in network namespaces (<see cref="NetworkNamespaces"/>): skipped, with the reason,
/// where they cannot be made (not root, <c>ip</c> or <c>iptables</c> missing). Not under CI (<c>CI=true</c>), which
/// runs as root after test.sh installed both: there it runs, and fails with the reason if it must.
/// </summary>
public sealed class NetworkNamespacesFactAttribute : FactAttribute
{
    public NetworkNamespacesFactAttribute()
    {
        if (NetworkNamespaces.UnavailableReason is { } reason
            && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Skip = $"Needs network namespaces: {reason}.";
        }
    }
}
