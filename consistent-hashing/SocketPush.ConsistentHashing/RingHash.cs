using System.Buffers;
using System.IO.Hashing;
using System.Text;

namespace SocketPush.ConsistentHashing;

/// <summary>
/// The only place that turns bytes into ring positions, so that keys and virtual nodes are hashed the
/// same way in every process: XxHash3 is specified bit for bit, unlike <see cref="string.GetHashCode()"/>.
/// </summary>
internal static class RingHash
{
    // ASCII keys of this many chars or less are narrowed on the stack.
    private const int StackAsciiChars = 128;

    // Other keys of this many UTF-16 units or less (at most 3 UTF-8 bytes each) are encoded on the
    // stack; longer ones borrow a pooled buffer.
    private const int StackKeyChars = 128;

    // Virtual nodes are hashed with their own seeds so that a key spelled like a node id does not
    // land exactly on that node's first point.
    private const long VirtualNodeSeedBase = 0x5350_5249_4E47_0000; // "SPRING\0\0"

    public static uint Position(ReadOnlySpan<byte> key) => (uint)(XxHash3.HashToUInt64(key) >> 32);

    public static uint Position(ReadOnlySpan<char> key)
    {
        // Most keys are short ASCII ids, whose UTF-8 form is one byte per char: narrowing them is
        // several times cheaper than a general UTF-8 encoder.
        if (key.Length <= StackAsciiChars)
        {
            Span<byte> ascii = stackalloc byte[StackAsciiChars];
            if (Ascii.FromUtf16(key, ascii, out int length) == OperationStatus.Done)
            {
                return Position(ascii[..length]);
            }
        }

        return PositionOfUtf8(key);
    }

    private static uint PositionOfUtf8(ReadOnlySpan<char> key)
    {
        if (key.Length <= StackKeyChars)
        {
            Span<byte> buffer = stackalloc byte[StackKeyChars * 3];
            return Position(buffer[..Encoding.UTF8.GetBytes(key, buffer)]);
        }

        byte[] rented = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetByteCount(key));
        try
        {
            int length = Encoding.UTF8.GetBytes(key, rented);
            return Position(rented.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>The seed of a node's sequence of virtual node positions.</summary>
    public static ulong NodeSeed(ReadOnlySpan<byte> nodeId) => XxHash3.HashToUInt64(nodeId, VirtualNodeSeedBase);

    /// <summary>
    /// The position of a node's virtual node number <paramref name="virtualNode"/>: the SplitMix64
    /// sequence seeded by <see cref="NodeSeed"/>. A node's positions depend on nothing but its id, so a
    /// weight change only adds or removes points at the end of its sequence, and hashing once per node
    /// rather than once per point makes building a ring several times cheaper.
    /// </summary>
    public static uint VirtualNodePosition(ulong nodeSeed, int virtualNode)
    {
        ulong z = nodeSeed + ((ulong)(virtualNode + 1) * 0x9E3779B97F4A7C15UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (uint)((z ^ (z >> 31)) >> 32);
    }
}
