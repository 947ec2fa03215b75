using System.Diagnostics;

namespace SocketPush.LoadTest.Systems;

internal static class NchanVersion
{
    /// <summary>"nginx 1.22.1, nchan 1.3.6" from the binary and the Debian package.</summary>
    public static string Describe()
    {
        var nginx = Run("nginx", "-v").Replace("nginx version: nginx/", "", StringComparison.Ordinal).Trim();
        var nchan = Run("dpkg-query", "-W", "-f=${Version}", "libnginx-mod-nchan").Trim();
        var colon = nchan.IndexOf(':');
        nchan = colon >= 0 ? nchan[(colon + 1)..] : nchan;
        var dash = nchan.IndexOf('+');
        return $"nginx {nginx}, nchan {(dash >= 0 ? nchan[..dash] : nchan)}";
    }

    private static string Run(string file, params string[] args)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
            if (p is null)
            {
                return "?";
            }

            // nginx -v writes to stderr.
            var text = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return text;
        }
        catch (Exception)
        {
            return "?";
        }
    }
}
