using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SocketPush.Node.Configuration;

/// <summary>
/// The certificate the client and admin ports present when <c>tls.certificate</c> is set. A renewed certificate is
/// taken without a restart: the files are looked at again (at most every few seconds, when a TLS connection
/// opens) and read once more when their modification time changed or a reload named other files. A file that does
/// not load leaves the previous certificate in use, and says why in the log.
/// </summary>
internal sealed class ServerCertificate
{
    /// <summary>How stale the look at the files may be: a renewal is taken within this.</summary>
    private static readonly TimeSpan RecheckEvery = TimeSpan.FromSeconds(5);

    private readonly LiveConfig _config;
    private readonly TimeProvider _time;
    private readonly Func<ILogger> _logger;
    private readonly Lock _gate = new();
    private X509Certificate2 _current;
    private (TlsSection Tls, DateTime CertificateWritten, DateTime KeyWritten) _loadedFrom;
    private DateTimeOffset _lookedAt;

    /// <summary>Loads the certificate the config names; throws <see cref="ConfigException"/> when it cannot.</summary>
    public ServerCertificate(LiveConfig config, TimeProvider time, Func<ILogger> logger)
    {
        _config = config;
        _time = time;
        _logger = logger;
        var tls = config.Current.Tls;
        _current = Load(tls, out var problem) ?? throw new ConfigException($"tls.certificate: {problem}");
        _loadedFrom = (tls, WrittenAt(tls.Certificate), WrittenAt(tls.Key));
        _lookedAt = time.GetUtcNow();
    }

    /// <summary>Why the files of <paramref name="tls"/> do not give a certificate the node can serve with, or null.</summary>
    public static string? Problem(TlsSection tls)
    {
        using var certificate = Load(tls, out var problem);
        return problem;
    }

    /// <summary>The certificate for a TLS connection opening now.</summary>
    public X509Certificate2 Current()
    {
        var now = _time.GetUtcNow();
        if (now - _lookedAt < RecheckEvery)
        {
            return _current;
        }

        lock (_gate)
        {
            if (now - _lookedAt >= RecheckEvery)
            {
                _lookedAt = now;
                Refresh();
            }

            return _current;
        }
    }

    private void Refresh()
    {
        var tls = _config.Current.Tls;
        var from = (tls, WrittenAt(tls.Certificate), WrittenAt(tls.Key));
        if (SameFiles(from, _loadedFrom) || tls.Certificate.Length == 0)
        {
            return;
        }

        _loadedFrom = from;
        if (Load(tls, out var problem) is { } renewed)
        {
            // The old one is not disposed: connections that opened with it may still use it.
            _current = renewed;
#pragma warning disable CA1873 // Once per renewal.
            CertificateLog.CertificateLoaded(_logger(), renewed.Subject, renewed.NotAfter);
#pragma warning restore CA1873
        }
        else
        {
            CertificateLog.CertificateRefused(_logger(), problem!);
        }
    }

    private static bool SameFiles(
        (TlsSection Tls, DateTime CertificateWritten, DateTime KeyWritten) a,
        (TlsSection Tls, DateTime CertificateWritten, DateTime KeyWritten) b) =>
        a.Tls.Certificate == b.Tls.Certificate && a.Tls.Key == b.Tls.Key && a.Tls.Password == b.Tls.Password
        && a.CertificateWritten == b.CertificateWritten && a.KeyWritten == b.KeyWritten;

    private static DateTime WrittenAt(string path) => path.Length > 0 && File.Exists(path) ? File.GetLastWriteTimeUtc(path) : default;

    private static X509Certificate2? Load(TlsSection tls, out string? problem)
    {
        problem = null;
        X509Certificate2 certificate;
        try
        {
            var pkcs12 = tls.Certificate.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase)
                || tls.Certificate.EndsWith(".p12", StringComparison.OrdinalIgnoreCase);
            certificate = pkcs12 ? X509CertificateLoader.LoadPkcs12FromFile(tls.Certificate, tls.Password.Length > 0 ? tls.Password : null)
                : tls.Password.Length > 0 ? X509Certificate2.CreateFromEncryptedPemFile(tls.Certificate, tls.Password, tls.Key.Length > 0 ? tls.Key : null)
                : X509Certificate2.CreateFromPemFile(tls.Certificate, tls.Key.Length > 0 ? tls.Key : null);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            problem = $"cannot load '{tls.Certificate}'{(tls.Key.Length > 0 ? $" with the key '{tls.Key}'" : "")}: {e.Message}";
            return null;
        }

        if (!certificate.HasPrivateKey)
        {
            problem = $"'{tls.Certificate}' has no private key; name the key file in tls.key.";
            certificate.Dispose();
            return null;
        }

        return certificate;
    }
}

internal static partial class CertificateLog
{
    [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "TLS certificate {Subject} (valid until {NotAfter:u}) in use for new connections")]
    public static partial void CertificateLoaded(ILogger logger, string subject, DateTime notAfter);

    [LoggerMessage(EventId = 601, Level = LogLevel.Error, Message = "TLS certificate files changed but do not load; the previous certificate stays in use: {Problem}")]
    public static partial void CertificateRefused(ILogger logger, string problem);
}
