using BenchmarkDotNet.Attributes;
using SocketPush.Gossip;

namespace SocketPush.Bench.Gossip;

/// <summary>
/// One request and its response over <see cref="PeerChannel"/> between two members on loopback,
/// as a forwarded API call makes it: the requester sends, the other member answers from its
/// receive thread on the connection the request came in on, and the requester waits for it.
/// <see cref="PromptSends"/> false leaves every send to LiteNetLib's next 15 ms logic tick.
/// </summary>
[ShortRunJob]
[MinColumn]
[MedianColumn]
public class PeerChannelRoundTrip
{
    private readonly object _gate = new();
    private bool _answered;
    private Membership _requester = null!;
    private Membership _responder = null!;
    private byte[] _request = null!;

    /// <summary>Whether sends wake LiteNetLib at once (the default) or wait for its tick.</summary>
    [Params(true, false)]
    public bool PromptSends { get; set; }

    /// <summary>Request and response size; 16 KB goes as 17 fragments of about 1 KB (LiteNetLib's initial MTU).</summary>
    [Params(64, 16384)]
    public int PayloadBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _requester = Membership.Start(Options(), "requester", ReadOnlyMemory<byte>.Empty);
        _responder = Membership.Start(Options(), "responder", ReadOnlyMemory<byte>.Empty);
        _requester.Peers.PromptSends = PromptSends;
        _responder.Peers.PromptSends = PromptSends;
        _responder.Peers.Received += (from, payload) => _responder.Peers.Send(from, payload);
        _requester.Peers.Received += (_, _) =>
        {
            lock (_gate)
            {
                _answered = true;
                Monitor.Pulse(_gate);
            }
        };
        _request = new byte[PayloadBytes];

        // The first exchange opens the connection; the benchmark measures the ones after.
        RoundTrip();
    }

    [Benchmark]
    public void RoundTrip()
    {
        lock (_gate)
        {
            _answered = false;
            if (!_requester.Peers.Send(_responder.Address, _request))
            {
                throw new InvalidOperationException("The request was refused.");
            }

            // The answer arrives on LiteNetLib's receive thread, which takes the lock only after this wait released it.
            while (!_answered)
            {
                if (!Monitor.Wait(_gate, TimeSpan.FromSeconds(10)))
                {
                    throw new InvalidOperationException("No answer within 10 s.");
                }
            }
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _requester.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _responder.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    private static GossipOptions Options() => new() { BindAddress = "127.0.0.1", Port = 0 };
}
