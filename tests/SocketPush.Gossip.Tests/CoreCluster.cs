using Microsoft.Extensions.Time.Testing;
using SocketPush.Gossip.Protocol;

namespace SocketPush.Gossip.Tests;

/// <summary>
/// Several cores on one fake clock with a hand-driven network: datagrams wait in each node's
/// outbox until the test delivers them, so a test can look at exactly what was sent when.
/// </summary>
internal sealed class CoreCluster
{
    private readonly Dictionary<string, CoreNode> _byAddress = new(StringComparer.Ordinal);

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public List<CoreNode> Nodes { get; } = [];

    /// <summary>Addresses whose traffic is lost in both directions.</summary>
    public HashSet<string> Cut { get; } = new(StringComparer.Ordinal);

    public CoreNode Add(string name, GossipOptions? options = null, byte[]? meta = null)
    {
        var node = new CoreNode(this, name, name + ":7946", options ?? new GossipOptions(), meta ?? [1, 2, 3]);
        _byAddress[node.Address] = node;
        Nodes.Add(node);
        return node;
    }

    /// <summary>Every node starts knowing every other as alive, as after a completed join.</summary>
    public void StartConverged()
    {
        foreach (var node in Nodes)
        {
            node.Core.SeedMembers(Nodes.Where(n => n != node).Select(n => n.Core.Self));
            node.Core.Start([]);
        }
    }

    /// <summary>Moves the clock by <paramref name="step"/> and runs due timers, without delivering anything.</summary>
    public void Advance(TimeSpan step)
    {
        Time.Advance(step);
        foreach (var node in Nodes)
        {
            node.Core.Tick();
        }
    }

    /// <summary>Delivers everything in flight, and what that causes, until the network is quiet.</summary>
    public void Deliver()
    {
        for (var round = 0; round < 1000; round++)
        {
            var moved = false;
            foreach (var node in Nodes.ToArray())
            {
                var outbox = node.Outbox.ToArray();
                node.Outbox.Clear();
                foreach (var (to, data) in outbox)
                {
                    moved = true;
                    if (Cut.Contains(to) || Cut.Contains(node.Address) || !_byAddress.TryGetValue(to, out var target))
                    {
                        continue;
                    }

                    target.Core.OnDatagram(node.Address, data);
                }

                var fallbacks = node.FallbackOutbox.ToArray();
                node.FallbackOutbox.Clear();
                foreach (var (to, seq, name) in fallbacks)
                {
                    moved = true;
                    if (!Cut.Contains(to) && !Cut.Contains(node.Address) && _byAddress.TryGetValue(to, out var target) && target.Core.IsPingTarget(name))
                    {
                        node.Core.OnFallbackAck(seq);
                    }
                }

                var pushPulls = node.PushPullOutbox.ToArray();
                node.PushPullOutbox.Clear();
                foreach (var (to, message) in pushPulls)
                {
                    moved = true;
                    if (Cut.Contains(to) || Cut.Contains(node.Address) || !_byAddress.TryGetValue(to, out var target))
                    {
                        continue;
                    }

                    var reply = target.Core.OnPushPullRequest(message);
                    if (reply is not null)
                    {
                        node.Core.OnPushPullReply(to, reply);
                    }
                }
            }

            if (!moved)
            {
                return;
            }
        }

        throw new InvalidOperationException("The network did not quiet down.");
    }

    /// <summary>Runs the cluster for <paramref name="duration"/> in small steps, delivering as it goes.</summary>
    public void Run(TimeSpan duration, TimeSpan? step = null)
    {
        var stepSize = step ?? TimeSpan.FromMilliseconds(10);
        for (var elapsed = TimeSpan.Zero; elapsed < duration; elapsed += stepSize)
        {
            Advance(stepSize);
            Deliver();
        }
    }
}

internal sealed class CoreNode : ICoreOutput
{
    public CoreNode(CoreCluster cluster, string name, string address, GossipOptions options, byte[] meta)
    {
        Address = address;
        Core = new SwimCore(options, name, address, meta, cluster.Time, new Random(name.Sum(c => c) * 7919),
            this, options.MaxDatagramSize, stagger: false);
    }

    public string Address { get; }

    public SwimCore Core { get; }

    public string Name => Core.Name;

    public List<(string To, byte[] Data)> Outbox { get; } = [];

    public List<(string To, PushPullMessage Message)> PushPullOutbox { get; } = [];

    public List<(MembershipChangeKind Kind, MemberRecord Member)> Changes { get; } = [];

    public List<(string To, uint Seq, string Target)> FallbackOutbox { get; } = [];

    public void SendFallbackPing(string address, uint seq, string target) => FallbackOutbox.Add((address, seq, target));

    public void SendDatagram(string address, ReadOnlySpan<byte> datagram) => Outbox.Add((address, datagram.ToArray()));

    public void SendPushPull(string address, PushPullMessage message) => PushPullOutbox.Add((address, message));

    public void MemberChanged(MembershipChangeKind kind, MemberRecord member) => Changes.Add((kind, member));

    public MemberState? StateOf(string name) => Core.Members.TryGetValue(name, out var m) ? m.State : null;

    /// <summary>Messages in the outbox addressed to <paramref name="to"/>.</summary>
    public List<IGossipMessage> SentTo(string to) => Outbox.Where(o => o.To == to).SelectMany(o => Decode(o.Data)).ToList();

    public List<IGossipMessage> AllSent() => Outbox.SelectMany(o => Decode(o.Data)).ToList();

    public static List<IGossipMessage> Decode(byte[] datagram)
    {
        var messages = new List<IGossipMessage>();
        var reason = WireFormat.Decode(datagram, messages, [], 512);
        Assert.Equal(DropReason.None, reason);
        return messages;
    }
}
