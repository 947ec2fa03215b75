using System.Security.Cryptography;
using System.Text;
using SocketPush.Gossip.Protocol;

namespace SocketPush.Gossip.Transport;

/// <summary>
/// AES-GCM sealing under a key derived from the cluster secret with HKDF-SHA256. A sealed
/// payload is <c>[marker][nonce 12][tag 16][ciphertext]</c>; the marker and a purpose label are
/// authenticated too, so a datagram cannot be replayed as a reliable message, a data-plane message
/// or a connect token. Without a secret, payloads pass through and a sealed one is refused.
/// </summary>
internal sealed class DatagramSealer : IDisposable
{
    /// <summary>First byte of a sealed payload; plain payloads start with the wire version, which is small.</summary>
    public const byte SealedMarker = 0xA1;

    public const int NonceSize = 12;

    public const int TagSize = 16;

    public const int Overhead = 1 + NonceSize + TagSize;

    private static readonly byte[] Salt = "SocketPush.Gossip"u8.ToArray();

    private readonly AesGcm? _aes;
    private readonly Lock _lock = new();

    public DatagramSealer(string? secret)
    {
        if (string.IsNullOrEmpty(secret))
        {
            return;
        }

        var key = HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret), 32, Salt, "AES-GCM key v1"u8.ToArray());
        _aes = new AesGcm(key, TagSize);
    }

    public bool Enabled => _aes is not null;

    /// <summary>Bytes sealing adds to every payload.</summary>
    public int SealOverhead => Enabled ? Overhead : 0;

    /// <summary>Seals <paramref name="plain"/> for <paramref name="purpose"/>; without a secret returns a copy.</summary>
    public byte[] Seal(ReadOnlySpan<byte> plain, SealPurpose purpose)
    {
        var sealedBytes = new byte[SealOverhead + plain.Length];
        plain.CopyTo(sealedBytes.AsSpan(SealOverhead));
        return SealInPlace(sealedBytes, purpose);
    }

    /// <summary>
    /// Seals <paramref name="prefix"/> followed by <paramref name="body"/>, as if they were one
    /// plain payload; saves callers that frame a payload with a version byte one copy of it.
    /// </summary>
    public byte[] Seal(byte prefix, ReadOnlySpan<byte> body, SealPurpose purpose)
    {
        var sealedBytes = new byte[SealOverhead + 1 + body.Length];
        sealedBytes[SealOverhead] = prefix;
        body.CopyTo(sealedBytes.AsSpan(SealOverhead + 1));
        return SealInPlace(sealedBytes, purpose);
    }

    /// <summary>
    /// Opens a received payload. Returns the plain bytes, or null with the reason: a sealed payload
    /// without a secret, a plain one with a secret, or one that fails authentication.
    /// </summary>
    public byte[]? Open(ReadOnlySpan<byte> received, SealPurpose purpose, out DropReason reason)
    {
        reason = Refusal(received);
        if (reason != DropReason.None)
        {
            return null;
        }

        return _aes is null ? received.ToArray() : Decrypt(received, purpose, out reason);
    }

    /// <summary>
    /// Opens a received payload without copying it when there is no secret: <paramref name="plain"/>
    /// is then <paramref name="received"/> itself, valid only as long as that is.
    /// </summary>
    public DropReason OpenInPlace(ReadOnlySpan<byte> received, SealPurpose purpose, out ReadOnlySpan<byte> plain)
    {
        plain = default;
        var reason = Refusal(received);
        if (reason != DropReason.None)
        {
            return reason;
        }

        if (_aes is null)
        {
            plain = received;
            return DropReason.None;
        }

        plain = Decrypt(received, purpose, out reason);
        return reason;
    }

    /// <summary>Why a payload cannot even be tried: sealed without a secret, or plain (or too short) with one.</summary>
    private DropReason Refusal(ReadOnlySpan<byte> received)
    {
        var isSealed = received.Length > 0 && received[0] == SealedMarker;
        var acceptable = _aes is null ? !isSealed : isSealed && received.Length >= Overhead;
        return acceptable ? DropReason.None : DropReason.Unauthenticated;
    }

    /// <summary>Encrypts the plain bytes at <see cref="Overhead"/> where they lie and writes marker, nonce and tag before them.</summary>
    private byte[] SealInPlace(byte[] sealedBytes, SealPurpose purpose)
    {
        if (_aes is null)
        {
            return sealedBytes;
        }

        sealedBytes[0] = SealedMarker;
        var nonce = sealedBytes.AsSpan(1, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        var text = sealedBytes.AsSpan(Overhead);
        Span<byte> associated = [SealedMarker, (byte)purpose];
        lock (_lock)
        {
            _aes.Encrypt(nonce, text, text, sealedBytes.AsSpan(1 + NonceSize, TagSize), associated);
        }

        return sealedBytes;
    }

    private byte[]? Decrypt(ReadOnlySpan<byte> received, SealPurpose purpose, out DropReason reason)
    {
        reason = DropReason.None;
        var plain = new byte[received.Length - Overhead];
        Span<byte> associated = [SealedMarker, (byte)purpose];
        try
        {
            lock (_lock)
            {
                _aes!.Decrypt(received.Slice(1, NonceSize), received[Overhead..], received.Slice(1 + NonceSize, TagSize), plain, associated);
            }
        }
        catch (AuthenticationTagMismatchException)
        {
            reason = DropReason.Unauthenticated;
            return null;
        }

        return plain;
    }

    public void Dispose() => _aes?.Dispose();
}

internal enum SealPurpose : byte
{
    Datagram = 1,
    Reliable = 2,
    Connect = 3,

    /// <summary>Data-plane messages (<see cref="PeerChannel"/>): neither gossip nor a token can pass for one.</summary>
    Data = 4,
}
