using System.Text;

namespace SocketPush.Gossip.Tests;

/// <summary>Real members on loopback with short timings, shared by the UDP tests.</summary>
internal sealed class UdpCluster : IAsyncDisposable
{
    /// <summary>How long a test waits for a condition before it fails; never a speed assertion.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    public List<Membership> Members { get; } = [];

    public static GossipOptions Options(IList<string> seeds, string? secret) => new()
    {
        BindAddress = "127.0.0.1",
        Port = 0,
        Seeds = seeds,
        Secret = secret,
        Swim =
        {
            ProbeInterval = TimeSpan.FromMilliseconds(200),
            ProbeTimeout = TimeSpan.FromMilliseconds(100),
            GossipInterval = TimeSpan.FromMilliseconds(50),
            SuspicionMult = 2,
            PushPullInterval = TimeSpan.FromSeconds(5),
            ReconnectInterval = TimeSpan.FromSeconds(2),
            JoinRetryInterval = TimeSpan.FromMilliseconds(300),
        },
    };

    /// <summary>Some metadata that tells members apart; the library carries it without reading it.</summary>
    public static byte[] Metadata(string name) => Encoding.UTF8.GetBytes($"{name} http://{name}:8080 http://{name}:8181 1.0");

    public static Membership Start(GossipOptions options, string name) => Membership.Start(options, name, Metadata(name));

    /// <summary>Starts <paramref name="size"/> members named <c>{prefix}0</c>… joined through the first and waits until all see all.</summary>
    /// <remarks><paramref name="tune"/> changes the SWIM timings above, for a test that needs other ones.</remarks>
    public static async Task<UdpCluster> StartAsync(int size, string? secret = null, string prefix = "m", Action<SwimOptions>? tune = null)
    {
        GossipOptions OptionsFor(IList<string> seeds)
        {
            var options = Options(seeds, secret);
            tune?.Invoke(options.Swim);
            return options;
        }

        var cluster = new UdpCluster();
        var seed = Start(OptionsFor([]), prefix + "0");
        cluster.Members.Add(seed);
        for (var i = 1; i < size; i++)
        {
            cluster.Members.Add(Start(OptionsFor([seed.Address]), $"{prefix}{i}"));
        }

        foreach (var member in cluster.Members)
        {
            await member.WaitUntilAsync(m => m.Snapshot.Live.Count() == size, Patience);
        }

        return cluster;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var member in Members)
        {
            await member.DisposeAsync();
        }
    }
}
