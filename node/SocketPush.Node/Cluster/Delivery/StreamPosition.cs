using System.Globalization;

namespace SocketPush.Node.Cluster.Delivery;

/// <summary>
/// Where a message sits in its stream: the stream's epoch, which changes only when the stream's continuity is lost
/// (its history was dropped, or a new owner could not prove it holds every acknowledged message), and the offset,
/// one more for each message. Offset 0 is the position before the epoch's first message. Written <c>epoch.offset</c>.
/// </summary>
internal readonly record struct StreamPosition(string Epoch, long Offset)
{
    /// <summary>Longest epoch accepted from a client.</summary>
    public const int MaxEpochLength = 16;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Epoch}.{Offset}");

    /// <summary>Reads <c>epoch.offset</c>: an epoch of 1–16 lowercase letters and digits, an offset of 0 or more.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out StreamPosition position)
    {
        position = default;
        var dot = text.LastIndexOf('.');
        if (dot < 1 || dot > MaxEpochLength || !IsEpoch(text[..dot])
            || !long.TryParse(text[(dot + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
        {
            return false;
        }

        position = new StreamPosition(text[..dot].ToString(), offset);
        return true;
    }

    private static bool IsEpoch(ReadOnlySpan<char> epoch)
    {
        foreach (var c in epoch)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9')))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A new epoch: 13 characters of a random 64-bit number, so that two epochs never meet by chance.</summary>
    public static string NewEpoch()
    {
        Span<char> text = stackalloc char[13];
        var value = (ulong)Random.Shared.NextInt64() ^ ((ulong)Random.Shared.Next() << 63);
        for (var i = text.Length - 1; i >= 0; i--)
        {
            text[i] = Alphabet[(int)(value % 32)];
            value /= 32;
        }

        return new string(text);
    }

    private const string Alphabet = "0123456789abcdefghijklmnopqrstuv";
}
