using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace SocketPush.Testing;

/// <summary>
/// A self-signed server certificate for localhost and 127.0.0.1, written as PEM files a node's <c>tls</c> section
/// names, and a validation callback that trusts exactly the certificates made here (no store, no root installed).
/// </summary>
public sealed class TestCertificate : IDisposable
{
    private static readonly HashSet<string> Trusted = [];

    private TestCertificate(string directory, X509Certificate2 certificate)
    {
        Directory = directory;
        Certificate = certificate;
        CertificatePath = Path.Combine(directory, "cert.pem");
        KeyPath = Path.Combine(directory, "key.pem");
        Write(certificate);
    }

    public string Directory { get; }

    public X509Certificate2 Certificate { get; private set; }

    public string CertificatePath { get; }

    public string KeyPath { get; }

    /// <summary>Trusts a server certificate made by this class, and nothing else.</summary>
    public static RemoteCertificateValidationCallback Validation { get; } =
        (_, certificate, _, _) => certificate is not null && IsTrusted(certificate.GetCertHashString());

    /// <summary>
    /// Trusts the certificate in a PEM file that this class made in another process (the load harness's client
    /// processes trust the one its coordinator gave the node).
    /// </summary>
    public static void Trust(string certificatePath)
    {
        using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(certificatePath));
        lock (Trusted)
        {
            Trusted.Add(certificate.GetCertHashString());
        }
    }

    /// <summary>Makes a certificate with the common name <paramref name="name"/> in a new temporary directory.</summary>
    public static TestCertificate Create(string name = "socketpush-test") =>
        new(System.IO.Directory.CreateTempSubdirectory("socketpush-tls-").FullName, Make(name));

    /// <summary>Replaces the files with a new certificate (a renewal) and returns it.</summary>
    public X509Certificate2 Renew(string name)
    {
        var renewed = Make(name);
        Write(renewed);
        Certificate = renewed;
        return renewed;
    }

    public void Dispose()
    {
        System.IO.Directory.Delete(Directory, recursive: true);
    }

    private static bool IsTrusted(string thumbprint)
    {
        lock (Trusted)
        {
            return Trusted.Contains(thumbprint);
        }
    }

    private static X509Certificate2 Make(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var now = DateTimeOffset.UtcNow;
        var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));
        lock (Trusted)
        {
            Trusted.Add(certificate.GetCertHashString());
        }

        return certificate;
    }

    private void Write(X509Certificate2 certificate)
    {
        // The key first: a node that looks between the two writes sees a new key with the old certificate, fails
        // to load the pair and keeps what it has; after the second write the pair matches.
        File.WriteAllText(KeyPath, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(CertificatePath, certificate.ExportCertificatePem());
    }
}
