using System.Buffers;

namespace SocketPush.Gossip.Protocol;

/// <summary>
/// SWIM with Lifeguard as a pure state machine. Inputs: a datagram arrived, a push-pull message
/// arrived, due timers (<see cref="Tick"/>). Outputs go to <see cref="ICoreOutput"/>. Time is read
/// only from the injected <see cref="TimeProvider"/>, randomness only from the injected
/// <see cref="Random"/>; the core is not thread-safe, its driver calls it from one thread at a time.
/// </summary>
/// <remarks>
/// The state is declared here; the behaviour is split by concern into <c>SwimCore.Incoming.cs</c>,
/// <c>.Probing.cs</c>, <c>.Suspicion.cs</c>, <c>.Members.cs</c>, <c>.Dissemination.cs</c>,
/// <c>.PushPull.cs</c> and <c>.JoinLeave.cs</c>.
/// </remarks>
internal sealed partial class SwimCore
{
    private readonly TimeProvider _time;
    private readonly long _startTimestamp;
    private readonly Random _random;
    private readonly ICoreOutput _output;
    private Dictionary<string, MemberRecord> _members;
    /// <summary>
    /// Round-robin probe order. Entries may be older versions of a member's record: probing looks the
    /// member up again, and gossip only needs an address and the small down-set to tell who is live.
    /// </summary>
    private readonly List<MemberRecord> _probeOrder = [];
    private readonly Dictionary<string, Suspicion> _suspicions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _downSince = new(StringComparer.Ordinal);
    private readonly List<string> _deadNames = [];
    private readonly BroadcastQueue _broadcasts = new();
    private readonly TimerQueue _timers = new();
    private readonly Dictionary<uint, Pending> _pending = [];
    private readonly Probe _probe = new();
    private readonly List<string> _seeds = [];
    private readonly ArrayBufferWriter<byte> _writer = new(2048);
    private readonly List<byte[]> _taken = [];
    private readonly List<IGossipMessage> _decoded = [];
    private readonly List<int> _decodedEnds = [];
    private readonly List<MemberRecord> _targets = [];
    private readonly PingMessage _ping = new();
    private readonly AckMessage _ack = new();
    private readonly NackMessage _nack = new();
    private readonly IndirectPingMessage _indirect = new();
    private readonly bool _stagger;

    private Settings _settings;
    private MemberRecord _self;
    private int _probeIndex;
    private int _awareness;
    private uint _seq;
    private int _liveCount = 1;
    private bool _started;
    private bool _joinRetryScheduled;
    private ulong _digest;
    private long _gossipPhase;
    private bool _gossipScheduled;
    private bool _leaving;
    private bool _leaveDone;
    private CoreCounters _counters;

    /// <param name="options">Timings and limits; validated by the caller.</param>
    /// <param name="name">This member's unique name.</param>
    /// <param name="address">Where others reach this member, <c>host:port</c>.</param>
    /// <param name="meta">Encoded metadata, at most <see cref="GossipOptions.MaxMetadataBytes"/>.</param>
    /// <param name="time">The only clock the core reads.</param>
    /// <param name="random">The only source of randomness.</param>
    /// <param name="output">Receives datagrams, push-pull requests and membership changes.</param>
    /// <param name="maxPayload">Largest plain datagram; the transport may add sealing on top.</param>
    /// <param name="stagger">Start periodic timers at a random phase; tests turn it off to know the exact times.</param>
    /// <param name="expectedMembers">Capacity hint for the member table.</param>
    public SwimCore(GossipOptions options, string name, string address, byte[] meta, TimeProvider time, Random random,
        ICoreOutput output, int maxPayload, bool stagger = true, int expectedMembers = 0)
    {
        _settings = new Settings(options, maxPayload);
        _time = time;
        _startTimestamp = time.GetTimestamp();
        _random = random;
        _output = output;
        _stagger = stagger;
        _members = new Dictionary<string, MemberRecord>(expectedMembers, StringComparer.Ordinal);
        _self = new MemberRecord { Name = name, Address = address, Incarnation = 0, State = MemberState.Alive, Meta = meta };
        _members[name] = _self;
        _digest = _self.DigestHash;
        _broadcasts.Finished = OnBroadcastFinished;
    }

    public string Name => _self.Name;

    public MemberRecord Self => _self;

    /// <summary>Alive and suspect members, this one included.</summary>
    public int LiveCount => _liveCount;

    /// <summary>Every remembered member, this one included, dead and left ones until they are reaped.</summary>
    public IReadOnlyDictionary<string, MemberRecord> Members => _members;

    /// <summary>Grows on every change of the member table, so a driver knows when to publish a snapshot.</summary>
    public long Version { get; private set; }

    /// <summary>Lifeguard's local health multiplier: 1 when healthy.</summary>
    public int HealthMultiplier => _awareness + 1;

    /// <summary>True once the leave announcement was gossiped as often as any update is.</summary>
    public bool LeaveBroadcastDone => _leaveDone;

    public int PendingBroadcasts => _broadcasts.Count;

    public CoreCounters Counters => _counters;

    /// <summary>Time until the earliest timer is due, or null when none is scheduled.</summary>
    /// <remarks>
    /// Timers made pointless meanwhile (the probe was acked, the relay answered, the suspicion
    /// rescheduled) are dropped first, so the driver does not wake the member for nothing.
    /// </remarks>
    public TimeSpan? NextDueIn
    {
        get
        {
            while (_timers.TryPeek(out var head) && IsStale(head))
            {
                _timers.DropFirst();
            }

            if (!_timers.TryPeekDue(out var due))
            {
                return null;
            }

            var delay = due - Now;
            return TimeSpan.FromTicks(Math.Max(0, delay));
        }
    }

    private long Now => _time.GetElapsedTime(_startTimestamp).Ticks;

    private bool IsStale(TimerEntry entry) => entry.Kind switch
    {
        TimerKind.ProbeTimeout => !_probe.Active || _probe.Seq != entry.Seq || _probe.Acked,
        TimerKind.PendingExpiry or TimerKind.RelayNack => !_pending.ContainsKey(entry.Seq),
        TimerKind.Suspicion => entry.Name is null || !_suspicions.TryGetValue(entry.Name, out var suspicion) || suspicion.Generation != entry.Generation,
        _ => false,
    };

    /// <summary>New timings take effect from the next timer of each kind.</summary>
    public void UpdateOptions(GossipOptions options) => _settings = new Settings(options, _settings.MaxPayload);

    /// <summary>Runs every timer that is due.</summary>
    public void Tick()
    {
        var now = Now;
        while (_timers.TryDequeueDue(now, out var entry, out _))
        {
            switch (entry.Kind)
            {
                case TimerKind.Probe: OnProbeTimer(now); break;
                case TimerKind.ProbeTimeout: OnProbeTimeout(now, entry.Seq); break;
                case TimerKind.Gossip: OnGossipTimer(now); break;
                case TimerKind.PushPull: OnPushPullTimer(now); break;
                case TimerKind.Reconnect: OnReconnectTimer(now); break;
                case TimerKind.JoinRetry: OnJoinRetryTimer(now); break;
                case TimerKind.Suspicion: OnSuspicionTimer(entry); break;
                case TimerKind.RelayNack: OnRelayNack(entry.Seq); break;
                case TimerKind.PendingExpiry: _pending.Remove(entry.Seq); break;
                case TimerKind.Reap: OnReapTimer(now); break;
                default: break;
            }
        }
    }

    private long Phase(long interval) => _stagger ? (long)(_random.NextDouble() * interval) : interval;

    private void Shuffle<T>(List<T> list, int from)
    {
        for (var i = list.Count - 1; i > from; i--)
        {
            var j = from + _random.Next(i - from + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }

    private sealed class Settings(GossipOptions o, int maxPayload)
    {
        public int MaxPayload { get; } = maxPayload;

        public int MaxMetaBytes { get; } = o.MaxMetadataBytes;

        public long ProbeInterval { get; } = o.Swim.ProbeInterval.Ticks;

        public long ProbeTimeout { get; } = o.Swim.ProbeTimeout.Ticks;

        public int IndirectChecks { get; } = o.Swim.IndirectChecks;

        public bool FallbackPing { get; } = o.Swim.FallbackPing;

        public int SuspicionMult { get; } = o.Swim.SuspicionMult;

        public int SuspicionMaxTimeoutMult { get; } = o.Swim.SuspicionMaxTimeoutMult;

        public int RetransmitMult { get; } = o.Swim.RetransmitMult;

        public long GossipInterval { get; } = o.Swim.GossipInterval.Ticks;

        public int GossipNodes { get; } = o.Swim.GossipNodes;

        public long GossipToTheDeadTime { get; } = o.Swim.GossipToTheDeadTime.Ticks;

        public long PushPullInterval { get; } = o.Swim.PushPullInterval.Ticks;

        public int AwarenessMaxMultiplier { get; } = o.Swim.AwarenessMaxMultiplier;

        public long DeadMemberRetention { get; } = o.Swim.DeadMemberRetention.Ticks;

        public long ReconnectInterval { get; } = o.Swim.ReconnectInterval.Ticks;

        public long JoinRetryInterval { get; } = o.Swim.JoinRetryInterval.Ticks;
    }
}
