using System.Collections;
using System.Diagnostics;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using SocketPush.Gossip.Protocol;

namespace SocketPush.Gossip.Simulation;

/// <summary>
/// N members of the real <see cref="SwimCore"/> in one process on virtual time. The network loses
/// and delays datagrams, can split the members in two halves, and members crash and restart. The
/// reliable channel loses the same packets and turns each loss into LiteNetLib's resend delay, or
/// a dropped connection (<see cref="ReliableChannelModel"/>).
/// One thread, one seeded <see cref="Random"/> for the network and one per member: the same
/// options give the same run.
/// </summary>
internal sealed class Simulation
{
    private const int PushPullOverhead = 8;

    /// <summary>Version, kind, request id, sequence number and a short name.</summary>
    private const int FallbackPingBytes = 24;
    private static readonly long TicksPerSecond = TimeSpan.TicksPerSecond;

    private readonly SimulationOptions _options;
    private readonly SimClock _clock = new();
    private readonly EventQueue _events = new();
    private readonly Random _random;
    private readonly SimNode[] _nodes;
    private readonly string[] _addresses;
    private readonly XxHash64 _trace = new();

    /// <summary>Datagrams in flight; a plain stack beats the shared pool's per-thread buckets here.</summary>
    private readonly Stack<byte[]> _buffers = new();
    private readonly byte[] _traceHeader = new byte[16];
    private readonly List<CrashRecord> _crashes = [];
    private readonly Dictionary<int, CrashRecord> _openCrash = [];
    private readonly List<UpdateRecord> _updates = [];
    private readonly Dictionary<string, UpdateRecord> _openUpdateByMember = new(StringComparer.Ordinal);
    private readonly HashSet<int> _falsePositiveMembers = [];
    private readonly HashSet<long> _suspicionsOfLive = [];
    private readonly long _end;
    private readonly int[] _seeds;
    private readonly ReliableChannelModel _reliable;
    private bool _partitioned;
    private long _datagrams;
    private long _datagramBytes;
    private long _pushPullMessages;
    private long _pushPullBytes;
    private long _fallbackMessages;
    private long _falsePositiveEvents;
    private long? _healConvergedAt;

    public Simulation(SimulationOptions options)
    {
        _options = options;
        _random = new Random(options.Seed);
        _end = (long)(options.Seconds * TicksPerSecond);
        _nodes = new SimNode[options.Nodes];
        _addresses = new string[options.Nodes];
        for (var i = 0; i < options.Nodes; i++)
        {
            _addresses[i] = "n" + i.ToString(CultureInfo.InvariantCulture);
        }

        _seeds = [0, 1, 2];
        _reliable = new ReliableChannelModel(options, _random, Latency);
    }

    public SimulationReport Run()
    {
        var wall = Stopwatch.StartNew();
        CreateMembers();
        Phase($"create {wall.Elapsed.TotalSeconds:F1} cpu={Environment.CpuUsage.TotalTime.TotalSeconds:F1} gc2={GC.CollectionCount(2)} gc0={GC.CollectionCount(0)} pause={GC.GetTotalPauseDuration().TotalSeconds:F1}");
        ScheduleScenario();
        while (_events.Count > 0 && _events.PeekTime <= _end)
        {
            var e = _events.Pop();
            _clock.Now = e.Time;
            Handle(ref e);
        }

        _clock.Now = _end;
        Phase($"run {wall.Elapsed.TotalSeconds:F1} cpu={Environment.CpuUsage.TotalTime.TotalSeconds:F1} gc2={GC.CollectionCount(2)} gc1={GC.CollectionCount(1)} gc0={GC.CollectionCount(0)} pause={GC.GetTotalPauseDuration().TotalSeconds:F1}");
        var report = BuildReport();
        Phase($"report {wall.Elapsed.TotalSeconds:F1} cpu={Environment.CpuUsage.TotalTime.TotalSeconds:F1}");
        wall.Stop();
        if (!_options.NoTiming)
        {
            report.WallSeconds = wall.Elapsed.TotalSeconds;
            report.SimulatedSecondsPerWallSecond = _options.Seconds / Math.Max(1e-9, wall.Elapsed.TotalSeconds);
        }

        return report;
    }

    /// <summary>With --phases, where the wall and processor time went, on standard error.</summary>
    private void Phase(string line)
    {
        if (_options.Phases)
        {
            Console.Error.WriteLine(line);
        }
    }

    // ---- setup ----

    private void CreateMembers()
    {
        for (var i = 0; i < _nodes.Length; i++)
        {
            _nodes[i] = new SimNode(this, i);
            _nodes[i].Core = NewCore(i, 0);
        }

        if (_options.JoinThroughSeeds)
        {
            // Members arrive one after another in the first seconds, each through the seeds.
            for (var i = 0; i < _nodes.Length; i++)
            {
                var at = i < _seeds.Length ? 0 : (long)(_random.NextDouble() * Math.Min(10, _options.Seconds / 4) * TicksPerSecond);
                _events.Push(new SimEvent { Time = at, Kind = SimEventKind.Restart, Node = i, Generation = -1 });
            }

            return;
        }

        // Shared immutable records: every member starts with the same converged view.
        var table = new Dictionary<string, MemberRecord>(_nodes.Length, StringComparer.Ordinal);
        foreach (var node in _nodes)
        {
            table[node.Core.Name] = node.Core.Self;
        }

        var digest = SwimCore.DigestOf(table.Values);
        var records = _nodes.Select(n => n.Core.Self).ToArray();
        foreach (var node in _nodes)
        {
            node.Core.SeedConverged(table, records, digest);
            node.Core.Start([]);
            node.Up = true;
            Reschedule(node);
        }
    }

    private SwimCore NewCore(int index, int generation)
    {
        var meta = Encoding.UTF8.GetBytes($"{{\"node\":\"n{index}\",\"client\":\"http://10.0.{index / 250}.{index % 250}:8080\",\"v\":{generation}}}");
        var random = new Random(MemberSeed(_options.Seed, index, generation));
        return new SwimCore(_options.Gossip, _addresses[index], _addresses[index], meta, _clock, random, _nodes[index],
            _options.Gossip.MaxDatagramSize, stagger: true, expectedMembers: _nodes.Length);
    }

    /// <summary>
    /// Seeds that differ by a constant give System.Random streams that move together, so members
    /// would pick the same probe and gossip targets; SplitMix64 decorrelates them.
    /// </summary>
    internal static int MemberSeed(int seed, int index, int generation)
    {
        var z = unchecked(((ulong)(uint)seed << 32) ^ ((ulong)(uint)index << 8) ^ (uint)generation) + 0x9E3779B97F4A7C15UL;
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (int)(z & int.MaxValue);
    }

    private void ScheduleScenario()
    {
        var seconds = _options.Seconds;
        var protectedNodes = new HashSet<int>(_seeds);
        var updaters = new List<int>();
        for (var u = 0; u < _options.Updates; u++)
        {
            int node;
            do
            {
                node = _random.Next(_nodes.Length);
            }
            while (protectedNodes.Contains(node) && protectedNodes.Count < _nodes.Length);

            updaters.Add(node);
        }

        var victims = new List<int>();
        while (victims.Count < _options.Crash)
        {
            var node = _random.Next(_nodes.Length);
            if (!protectedNodes.Contains(node) && !updaters.Contains(node) && !victims.Contains(node))
            {
                victims.Add(node);
            }
        }

        var start = Math.Min(seconds / 4, 5 + (seconds * 0.05));
        var crashEnd = Math.Max(start, seconds - 45);
        foreach (var victim in victims)
        {
            var at = start + (_random.NextDouble() * (crashEnd - start));
            _events.Push(new SimEvent { Time = ToTicks(at), Kind = SimEventKind.Crash, Node = victim });
            if (_options.RestartAfter is { } after)
            {
                _events.Push(new SimEvent { Time = ToTicks(at + after), Kind = SimEventKind.Restart, Node = victim });
            }
        }

        var updateEnd = Math.Max(start, seconds - 20);
        foreach (var updater in updaters)
        {
            var at = start + (_random.NextDouble() * (updateEnd - start));
            _events.Push(new SimEvent { Time = ToTicks(at), Kind = SimEventKind.UpdateMetadata, Node = updater });
        }

        if (_options.PartitionAt is { } partitionAt && _options.HealAt is { } healAt)
        {
            _events.Push(new SimEvent { Time = ToTicks(partitionAt), Kind = SimEventKind.Partition });
            _events.Push(new SimEvent { Time = ToTicks(healAt), Kind = SimEventKind.Heal });
        }
    }

    private static long ToTicks(double seconds) => (long)(seconds * TicksPerSecond);

    // ---- event loop ----

    private void Handle(ref SimEvent e)
    {
        switch (e.Kind)
        {
            case SimEventKind.Timer:
            {
                var node = _nodes[e.Node];
                if (node.Up && node.Generation == e.Generation && node.ScheduledDue == e.Time)
                {
                    node.ScheduledDue = long.MaxValue;
                    node.Core.Tick();
                    Reschedule(node);
                }

                break;
            }

            case SimEventKind.Datagram:
            {
                var node = _nodes[e.Node];
                if (node.Up)
                {
                    Trace(e.Time, e.Node, e.Buffer.AsSpan(0, e.Length));
                    node.Core.OnDatagram(_addresses[e.From], e.Buffer.AsSpan(0, e.Length));
                    Reschedule(node);
                }

                _buffers.Push(e.Buffer!);
                break;
            }

            case SimEventKind.PushPullRequest:
            {
                var node = _nodes[e.Node];
                if (node.Up && !Blocked(e.From, e.Node))
                {
                    var reply = node.Core.OnPushPullRequest((PushPullMessage)e.Payload!);
                    Reschedule(node);
                    if (reply is null)
                    {
                        break;
                    }

                    if (_reliable.Delay(e.Node, e.From, CountPushPull(reply)) is not { } delay)
                    {
                        break;
                    }

                    _events.Push(new SimEvent
                    {
                        Time = _clock.Now + delay,
                        Kind = SimEventKind.PushPullReply,
                        Node = e.From,
                        From = e.Node,
                        Generation = e.Generation,
                        Payload = reply,
                    });
                }

                break;
            }

            case SimEventKind.PushPullReply:
            {
                var node = _nodes[e.Node];
                if (node.Up && node.Generation == e.Generation && !Blocked(e.From, e.Node))
                {
                    node.Core.OnPushPullReply(_addresses[e.From], (PushPullMessage)e.Payload!);
                    Reschedule(node);
                }

                break;
            }

            case SimEventKind.FallbackPing:
            {
                var node = _nodes[e.Node];
                if (node.Up && !Blocked(e.From, e.Node) && node.Core.IsPingTarget((string)e.Payload!))
                {
                    _fallbackMessages++;
                    if (_reliable.Delay(e.Node, e.From, FallbackPingBytes) is not { } delay)
                    {
                        break;
                    }

                    _events.Push(new SimEvent
                    {
                        Time = _clock.Now + delay,
                        Kind = SimEventKind.FallbackAck,
                        Node = e.From,
                        From = e.Node,
                        Generation = e.Generation,
                        Length = e.Length,
                    });
                }

                break;
            }

            case SimEventKind.FallbackAck:
            {
                var node = _nodes[e.Node];
                if (node.Up && node.Generation == e.Generation && !Blocked(e.From, e.Node))
                {
                    node.Core.OnFallbackAck((uint)e.Length);
                    Reschedule(node);
                }

                break;
            }

            case SimEventKind.Crash:
                Crash(e.Node);
                break;
            case SimEventKind.Restart:
                Restart(e.Node, e.Generation == -1);
                break;
            case SimEventKind.UpdateMetadata:
                UpdateMetadata(e.Node);
                break;
            case SimEventKind.Partition:
                _partitioned = true;
                break;
            case SimEventKind.Heal:
                _partitioned = false;
                _events.Push(new SimEvent { Time = _clock.Now + TicksPerSecond, Kind = SimEventKind.Sample });
                break;
            case SimEventKind.Sample:
                if (LiveViewsAgree())
                {
                    _healConvergedAt = _clock.Now;
                }
                else
                {
                    _events.Push(new SimEvent { Time = _clock.Now + (TicksPerSecond / 2), Kind = SimEventKind.Sample });
                }

                break;
            default:
                break;
        }
    }

    private void Reschedule(SimNode node)
    {
        if (node.Core.NextDueIn is not { } delay)
        {
            return;
        }

        var due = _clock.Now + delay.Ticks;
        if (due < node.ScheduledDue)
        {
            node.ScheduledDue = due;
            _events.Push(new SimEvent { Time = due, Kind = SimEventKind.Timer, Node = node.Index, Generation = node.Generation });
        }
    }

    private void Crash(int index)
    {
        var node = _nodes[index];
        if (!node.Up)
        {
            return;
        }

        node.Up = false;
        node.ScheduledDue = long.MaxValue;
        var record = new CrashRecord(index, _clock.Now, _nodes.Length);
        _crashes.Add(record);
        _openCrash[index] = record;
    }

    private void Restart(int index, bool firstStart)
    {
        var node = _nodes[index];
        if (!firstStart)
        {
            node.Generation++;
            node.Core = NewCore(index, node.Generation);
            if (_openCrash.Remove(index, out var crash))
            {
                crash.RestartedAt = _clock.Now;
            }
        }

        node.Up = true;
        node.ScheduledDue = long.MaxValue;
        node.Core.Start(_seeds.Where(s => s != index).Select(s => _addresses[s]));
        Reschedule(node);
    }

    private void UpdateMetadata(int index)
    {
        var node = _nodes[index];
        if (!node.Up)
        {
            return;
        }

        var meta = node.Core.Self.Meta.Concat("!"u8.ToArray()).Take(_options.Gossip.MaxMetadataBytes).ToArray();
        node.Core.UpdateMetadata(meta);
        var record = new UpdateRecord(index, node.Core.Self.Incarnation, _clock.Now, _nodes.Length);
        _updates.Add(record);
        _openUpdateByMember[_addresses[index]] = record;
        Reschedule(node);
    }

    // ---- network ----

    private bool Blocked(int from, int to) =>
        _partitioned && (from < _nodes.Length / 2) != (to < _nodes.Length / 2);

    private long Latency()
    {
        var ms = _options.LatencyMinMs + (_random.NextDouble() * (_options.LatencyMaxMs - _options.LatencyMinMs));
        return (long)(ms * TimeSpan.TicksPerMillisecond);
    }

    internal void Send(int from, string address, ReadOnlySpan<byte> datagram)
    {
        _datagrams++;
        _datagramBytes += datagram.Length;
        var to = IndexOf(address);
        if (to < 0 || Blocked(from, to) || (_options.Loss > 0 && _random.NextDouble() < _options.Loss))
        {
            return;
        }

        var buffer = _buffers.Count > 0 ? _buffers.Pop() : new byte[_options.Gossip.MaxDatagramSize];
        datagram.CopyTo(buffer);
        _events.Push(new SimEvent
        {
            Time = _clock.Now + Latency(),
            Kind = SimEventKind.Datagram,
            Node = to,
            From = from,
            Buffer = buffer,
            Length = datagram.Length,
        });
    }

    internal void SendPushPull(int from, string address, PushPullMessage message)
    {
        var bytes = CountPushPull(message);
        var to = IndexOf(address);
        if (to < 0 || Blocked(from, to) || _reliable.Delay(from, to, bytes) is not { } delay)
        {
            return;
        }

        _events.Push(new SimEvent
        {
            Time = _clock.Now + delay,
            Kind = SimEventKind.PushPullRequest,
            Node = to,
            From = from,
            Generation = _nodes[from].Generation,
            Payload = message,
        });
    }

    internal void SendFallbackPing(int from, string address, uint seq, string target)
    {
        _fallbackMessages++;
        var to = IndexOf(address);
        if (to < 0 || Blocked(from, to) || _reliable.Delay(from, to, FallbackPingBytes) is not { } delay)
        {
            return;
        }

        // The sequence number rides in Length: the event struct has no other spare field.
        _events.Push(new SimEvent
        {
            Time = _clock.Now + delay,
            Kind = SimEventKind.FallbackPing,
            Node = to,
            From = from,
            Generation = _nodes[from].Generation,
            Length = (int)seq,
            Payload = target,
        });
    }

    /// <summary>Counts a push-pull message and returns its size on the wire.</summary>
    private int CountPushPull(PushPullMessage message)
    {
        _pushPullMessages++;
        long bytes = PushPullOverhead;
        foreach (var member in message.Members ?? [])
        {
            bytes += member.EncodedSize;
        }

        _pushPullBytes += bytes;
        return (int)Math.Min(bytes, int.MaxValue);
    }

    private int IndexOf(string address) =>
        address.Length > 1 && address[0] == 'n' && int.TryParse(address.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < _nodes.Length
            ? i
            : -1;

    private void Trace(long time, int to, ReadOnlySpan<byte> bytes)
    {
        BitConverter.TryWriteBytes(_traceHeader.AsSpan(0, 8), time);
        BitConverter.TryWriteBytes(_traceHeader.AsSpan(8, 8), (long)to);
        _trace.Append(_traceHeader);
        _trace.Append(bytes);
    }

    // ---- observations ----

    internal void Observed(int observer, MembershipChangeKind kind, MemberRecord member)
    {
        var subject = IndexOf(member.Name);
        if (subject < 0)
        {
            return;
        }

        var up = _nodes[subject].Up;
        switch (kind)
        {
            case MembershipChangeKind.Failed:
                if (up)
                {
                    _falsePositiveEvents++;
                    _falsePositiveMembers.Add(subject);
                }
                else if (_openCrash.TryGetValue(subject, out var crash))
                {
                    crash.Saw(observer, _clock.Now);
                }

                break;
            case MembershipChangeKind.Suspected:
                if (up)
                {
                    _suspicionsOfLive.Add(((long)subject << 32) | member.Incarnation);
                }

                break;
            case MembershipChangeKind.Updated or MembershipChangeKind.Recovered or MembershipChangeKind.Joined:
                if (_openUpdateByMember.TryGetValue(member.Name, out var update) && member.Incarnation >= update.Incarnation)
                {
                    update.Saw(observer, _clock.Now);
                }

                break;
            default:
                break;
        }
    }

    /// <summary>Every running member sees exactly the running members as live.</summary>
    /// <remarks>
    /// A view that holds as many live members as there are running members, none of them a stopped
    /// one, holds exactly the running ones; so only stopped members need to be looked up.
    /// </remarks>
    private bool LiveViewsAgree()
    {
        var upCount = 0;
        foreach (var node in _nodes)
        {
            upCount += node.Up ? 1 : 0;
        }

        foreach (var node in _nodes)
        {
            if (node.Up && node.Core.LiveCount != upCount)
            {
                return false;
            }
        }

        foreach (var down in _nodes)
        {
            if (down.Up)
            {
                continue;
            }

            foreach (var node in _nodes)
            {
                if (node.Up && node.Core.Members.TryGetValue(_addresses[down.Index], out var member)
                    && member.State is MemberState.Alive or MemberState.Suspect)
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>
    /// Seconds from the event until the last observer that should see it did (members running at the end and
    /// since the event, the subject excepted), or null if one had not seen it by <paramref name="deadline"/>.
    /// </summary>
    private double? SecondsToReachAll(SpreadRecord record, SimNode[] up, long deadline)
    {
        long last = record.At;
        foreach (var observer in up)
        {
            if (observer.Index == record.Node || MissedPartOf(observer.Index, record.At))
            {
                continue;
            }

            if (!record.Seen[observer.Index] || record.SeenAt[observer.Index] > deadline)
            {
                return null;
            }

            last = Math.Max(last, record.SeenAt[observer.Index]);
        }

        return (last - record.At) / (double)TicksPerSecond;
    }

    private SimulationReport BuildReport()
    {
        var up = _nodes.Where(n => n.Up).ToArray();
        var detection = new List<double>();
        var undetected = 0;
        foreach (var crash in _crashes)
        {
            // Observers: members running at the end that were running, in the same life, since the crash.
            var end = crash.RestartedAt ?? _end;
            if (SecondsToReachAll(crash, up, end) is { } seconds)
            {
                detection.Add(seconds);
            }
            else
            {
                undetected++;
            }
        }

        var dissemination = new List<double>();
        var undisseminated = 0;
        foreach (var update in _updates)
        {
            if (SecondsToReachAll(update, up, long.MaxValue) is { } seconds)
            {
                dissemination.Add(seconds);
            }
            else
            {
                undisseminated++;
            }
        }

        var seenDead = new HashSet<int>();
        foreach (var observer in up)
        {
            foreach (var name in observer.Core.DownMembers)
            {
                var index = IndexOf(name);
                if (index >= 0 && _nodes[index].Up)
                {
                    seenDead.Add(index);
                }
            }
        }

        var memberSeconds = _nodes.Length * _options.Seconds;
        return new SimulationReport
        {
            Nodes = _nodes.Length,
            Seconds = _options.Seconds,
            Loss = _options.Loss,
            FallbackPing = _options.Gossip.Swim.FallbackPing,
            ReliableModel = _options.LosslessReliable ? "lossless" : "litenetlib",
            Crashed = _crashes.Count,
            Restarted = _crashes.Count(c => c.RestartedAt is not null),
            Seed = _options.Seed,
            Converged = LiveViewsAgree(),
            DetectionSeconds = Percentiles.Of(detection),
            UndetectedCrashes = undetected,
            FalsePositives = _falsePositiveMembers.Count,
            FalsePositiveEvents = _falsePositiveEvents,
            SuspicionsOfLive = _suspicionsOfLive.Count,
            DisseminationSeconds = Percentiles.Of(dissemination),
            Updates = _updates.Count,
            Undisseminated = undisseminated,
            MessagesPerMemberPerSecond = (_datagrams + _pushPullMessages + _fallbackMessages) / memberSeconds,
            BytesPerMemberPerSecond = (_datagramBytes + _pushPullBytes + (_fallbackMessages * FallbackPingBytes)) / memberSeconds,
            DatagramsPerMemberPerSecond = _datagrams / memberSeconds,
            PushPullsPerMemberPerSecond = _pushPullMessages / memberSeconds,
            FallbackPingsPerMemberPerSecond = _fallbackMessages / memberSeconds,
            ReliableResends = _reliable.Resends,
            ReliableConnectionDrops = _reliable.Drops,
            ReliableMessagesLost = _reliable.Lost,
            PartitionAt = _options.PartitionAt,
            HealAt = _options.HealAt,
            SecondsToOneViewAfterHeal = _healConvergedAt is { } at && _options.HealAt is { } heal ? (at / (double)TicksPerSecond) - heal : null,
            UpMembersSeenDead = seenDead.Count,
            TraceDigest = _trace.GetCurrentHashAsUInt64().ToString("x16", CultureInfo.InvariantCulture),
        };
    }

    /// <summary>True when the member was down at some point after <paramref name="since"/>, so it cannot be expected to know.</summary>
    private bool MissedPartOf(int index, long since) =>
        _crashes.Any(c => c.Node == index && (c.At >= since || (c.RestartedAt ?? long.MaxValue) > since));

    internal sealed class SimNode(Simulation simulation, int index) : ICoreOutput
    {
        public int Index { get; } = index;

        public SwimCore Core { get; set; } = null!;

        public bool Up { get; set; }

        public int Generation { get; set; }

        public long ScheduledDue { get; set; } = long.MaxValue;

        public void SendDatagram(string address, ReadOnlySpan<byte> datagram) => simulation.Send(Index, address, datagram);

        public void SendPushPull(string address, PushPullMessage message) => simulation.SendPushPull(Index, address, message);

        public void SendFallbackPing(string address, uint seq, string target) => simulation.SendFallbackPing(Index, address, seq, target);

        public void MemberChanged(MembershipChangeKind kind, MemberRecord member) => simulation.Observed(Index, kind, member);
    }

    /// <summary>Something that happened to one member and spreads to the others: when each observer saw it.</summary>
    private abstract class SpreadRecord(int node, long at, int members)
    {
        public int Node { get; } = node;

        public long At { get; } = at;

        public BitArray Seen { get; } = new(members);

        public long[] SeenAt { get; } = new long[members];

        public void Saw(int observer, long time)
        {
            if (!Seen[observer])
            {
                Seen[observer] = true;
                SeenAt[observer] = time;
            }
        }
    }

    private sealed class CrashRecord(int node, long at, int members) : SpreadRecord(node, at, members)
    {
        public long? RestartedAt { get; set; }
    }

    private sealed class UpdateRecord(int node, uint incarnation, long at, int members) : SpreadRecord(node, at, members)
    {
        public uint Incarnation { get; } = incarnation;
    }
}
