namespace SocketPush.ConsistentHashing;

/// <summary>Checks <see cref="HashRingOptions"/> and ring members before a ring is built.</summary>
public static class HashRingOptionsValidator
{
    /// <summary>The largest accepted <see cref="HashRingOptions.VirtualNodesPerNode"/>.</summary>
    public const int MaxVirtualNodesPerNode = 1 << 16;

    /// <summary>The largest number of nodes a ring may hold (lookup tables keep a node's index in 16 bits).</summary>
    public const int MaxNodes = 1 << 16;

    /// <summary>The largest number of points (virtual nodes of all members together) a ring may hold.</summary>
    public const int MaxPoints = 1 << 24;

    /// <summary>Returns one message per problem found; an empty list means the options are valid.</summary>
    public static IReadOnlyList<string> Validate(HashRingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (options.VirtualNodesPerNode is < 1 or > MaxVirtualNodesPerNode)
        {
            errors.Add($"VirtualNodesPerNode must be between 1 and {MaxVirtualNodesPerNode}, not {options.VirtualNodesPerNode}.");
        }

        return errors;
    }

    internal static void ThrowIfInvalid(HashRingOptions options)
    {
        var errors = Validate(options);
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors), nameof(options));
        }
    }
}
