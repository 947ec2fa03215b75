using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using SocketPush.Gossip.Protocol;

namespace SocketPush.Gossip.Transport;

/// <summary>
/// AES-GCM sealing under a key derived from the cluster secret with HKDF-SHA256. A sealed payload
/// is <c>[marker][sender 6][counter 8][nonce 12][tag 16][ciphertext]</c>; marker, sender, counter
/// and a purpose label are authenticated too, so a datagram cannot pass for a reliable message, a
/// data-plane message or a connect token, and a payload seen once is refused the next time
/// (<see cref="ReplayGuard"/>). Without a secret, payloads pass through and a sealed one is refused.
/// </summary>
/// <remarks>
/// The sender is the member's advertised IPv4 endpoint and the counter, one per purpose, starts at
/// the sender's wall clock (100 ns ticks) when it starts and grows by one per payload. A restarted
/// member therefore continues above what its earlier life sent (unless it sent more than ten
/// million payloads a second, or its clock went back), and clocks of different members never have
/// to agree. During a key rotation a payload opens under the current secret or the previous one;
/// payloads are always sealed under the current one.
/// </remarks>
internal sealed class DatagramSealer : IDisposable
{
    /// <summary>First byte of a sealed payload; plain payloads start with the wire version, which is small.</summary>
    public const byte SealedMarker = 0xA1;

    public const int SenderSize = 6;

    public const int CounterSize = 8;

    /// <summary>Marker, sender and counter: the clear part that is authenticated with the purpose.</summary>
    public const int HeaderSize = 1 + SenderSize + CounterSize;

    public const int NonceSize = 12;

    public const int TagSize = 16;

    public const int Overhead = HeaderSize + NonceSize + TagSize;

    private static readonly byte[] Salt = "SocketPush.Gossip"u8.ToArray();

    private readonly Lock _lock = new();
    private readonly ReplayGuard _replays = new();
    private readonly long[] _counters = new long[5];
    private AesGcm? _seal;
    private AesGcm[] _open = [];
    private ulong _sender;
    private long _replayed;

    /// <param name="secret">The current secret; null or empty for no sealing.</param>
    /// <param name="previousSecret">A second secret still accepted while a rotation is under way.</param>
    /// <param name="clock">Where the counters start (the system clock; tests restart a sender on a fake one).</param>
    public DatagramSealer(string? secret, string? previousSecret = null, TimeProvider? clock = null)
    {
        var start = (clock ?? TimeProvider.System).GetUtcNow().UtcTicks;
        Array.Fill(_counters, start);
        if (!string.IsNullOrEmpty(secret))
        {
            SetKeys(secret, previousSecret);
        }
    }

    public bool Enabled => _seal is not null;

    /// <summary>Bytes sealing adds to every payload.</summary>
    public int SealOverhead => Enabled ? Overhead : 0;

    /// <summary>Payloads refused because they were seen before or fell behind their sender's window.</summary>
    public long Replayed => Interlocked.Read(ref _replayed);

    /// <summary>Names this member in what it seals from now on: its advertised endpoint.</summary>
    public void SetSender(IPEndPoint advertised) => Volatile.Write(ref _sender, SenderId(advertised));

    /// <summary>
    /// Takes new secrets while running (a key rotation): sealing uses <paramref name="secret"/> from
    /// now on, opening accepts it and <paramref name="previousSecret"/>. Sealing cannot be turned on
    /// or off here; the payload size budget depends on it.
    /// </summary>
    public void UpdateSecrets(string secret, string? previousSecret)
    {
        if (!Enabled)
        {
            throw new InvalidOperationException("Sealing cannot be turned on while the member runs.");
        }

        SetKeys(secret, previousSecret);
    }

    /// <summary>Forgets the replay windows of the member at <paramref name="address"/> (declared dead or left).</summary>
    public void Forget(string address)
    {
        if (GossipOptionsValidator.TryParseEndPoint(address, out var endPoint))
        {
            _replays.Forget(SenderId(endPoint));
        }
    }

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
    /// without a secret, a plain one with a secret, one that fails authentication, or a replay.
    /// </summary>
    public byte[]? Open(ReadOnlySpan<byte> received, SealPurpose purpose, out DropReason reason)
    {
        reason = Refusal(received);
        if (reason != DropReason.None)
        {
            return null;
        }

        return _seal is null ? received.ToArray() : Decrypt(received, purpose, out reason);
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

        if (_seal is null)
        {
            plain = received;
            return DropReason.None;
        }

        plain = Decrypt(received, purpose, out reason);
        return reason;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var aes in _open)
            {
                aes.Dispose();
            }

            _open = [];
        }
    }

    /// <summary>The sender as it travels: IPv4 address and port, 48 bits.</summary>
    internal static ulong SenderId(IPEndPoint endPoint)
    {
        Span<byte> address = stackalloc byte[4];
        endPoint.Address.MapToIPv4().TryWriteBytes(address, out _);
        return ((ulong)BinaryPrimitives.ReadUInt32BigEndian(address) << 16) | (ushort)endPoint.Port;
    }

    private static AesGcm KeyOf(string secret) =>
        new(HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret), 32, Salt, "AES-GCM key v1"u8.ToArray()), TagSize);

    private void SetKeys(string secret, string? previousSecret)
    {
        var current = KeyOf(secret);
        AesGcm[] open = string.IsNullOrEmpty(previousSecret) || previousSecret == secret ? [current] : [current, KeyOf(previousSecret)];
        lock (_lock)
        {
            foreach (var old in _open)
            {
                old.Dispose();
            }

            _open = open;
            _seal = current;
        }
    }

    /// <summary>Why a payload cannot even be tried: sealed without a secret, or plain (or too short) with one.</summary>
    private DropReason Refusal(ReadOnlySpan<byte> received)
    {
        var isSealed = received.Length > 0 && received[0] == SealedMarker;
        var acceptable = _seal is null ? !isSealed : isSealed && received.Length >= Overhead;
        return acceptable ? DropReason.None : DropReason.Unauthenticated;
    }

    /// <summary>Encrypts the plain bytes at <see cref="Overhead"/> where they lie and writes header, nonce and tag before them.</summary>
    private byte[] SealInPlace(byte[] sealedBytes, SealPurpose purpose)
    {
        if (_seal is null)
        {
            return sealedBytes;
        }

        sealedBytes[0] = SealedMarker;
        var sender = Volatile.Read(ref _sender);
        BinaryPrimitives.WriteUInt16BigEndian(sealedBytes.AsSpan(1), (ushort)(sender >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(sealedBytes.AsSpan(3), (uint)sender);
        var nonce = sealedBytes.AsSpan(HeaderSize, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        var text = sealedBytes.AsSpan(Overhead);
        Span<byte> associated = stackalloc byte[HeaderSize + 1];
        lock (_lock)
        {
            // Numbered under the lock, so that payloads sealed one after another carry rising counters.
            BinaryPrimitives.WriteUInt64BigEndian(sealedBytes.AsSpan(1 + SenderSize), (ulong)++_counters[(int)purpose]);
            Associated(sealedBytes, purpose, associated);
            ObjectDisposedException.ThrowIf(_open.Length == 0, this);
            _seal.Encrypt(nonce, text, text, sealedBytes.AsSpan(HeaderSize + NonceSize, TagSize), associated);
        }

        return sealedBytes;
    }

    private byte[]? Decrypt(ReadOnlySpan<byte> received, SealPurpose purpose, out DropReason reason)
    {
        reason = DropReason.Unauthenticated;
        var plain = new byte[received.Length - Overhead];
        Span<byte> associated = stackalloc byte[HeaderSize + 1];
        Associated(received, purpose, associated);
        var opened = false;
        lock (_lock)
        {
            foreach (var key in _open)
            {
                try
                {
                    key.Decrypt(received.Slice(HeaderSize, NonceSize), received[Overhead..], received.Slice(HeaderSize + NonceSize, TagSize), plain, associated);
                    opened = true;
                    break;
                }
                catch (AuthenticationTagMismatchException)
                {
                    // Not under this key; the previous one may still open it during a rotation.
                }
            }
        }

        if (!opened)
        {
            return null;
        }

        // A connect token is the same bytes on every attempt and grants nothing by itself: what a
        // replayed token's connection carries is refused here like any other replay.
        if (purpose != SealPurpose.Connect)
        {
            var sender = ((ulong)BinaryPrimitives.ReadUInt16BigEndian(received[1..]) << 32) | BinaryPrimitives.ReadUInt32BigEndian(received[3..]);
            var counter = BinaryPrimitives.ReadUInt64BigEndian(received[(1 + SenderSize)..]);
            if (!_replays.Accept(sender, purpose, counter))
            {
                Interlocked.Increment(ref _replayed);
                reason = DropReason.Replayed;
                return null;
            }
        }

        reason = DropReason.None;
        return plain;
    }

    private static void Associated(ReadOnlySpan<byte> sealedBytes, SealPurpose purpose, Span<byte> associated)
    {
        sealedBytes[..HeaderSize].CopyTo(associated);
        associated[HeaderSize] = (byte)purpose;
    }
}

internal enum SealPurpose : byte
{
    Datagram = 1,
    Reliable = 2,
    Connect = 3,

    /// <summary>Data-plane messages (<see cref="PeerChannel"/>): neither gossip nor a token can pass for one.</summary>
    Data = 4,
}
