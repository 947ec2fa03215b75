using System.Buffers;
using MemoryPack;

namespace SocketPush.Gossip.Protocol;

/// <summary>
/// SWIM with Lifeguard as a pure state machine. Inputs: a datagram arrived, a push-pull message
/// arrived, due timers (<see cref="Tick"/>). Outputs go to <see cref="ICoreOutput"/>. Time is read
/// only from the injected <see cref="TimeProvider"/>, randomness only from the injected
/// <see cref="Random"/>; the core is not thread-safe, its driver calls it from one thread at a time.
/// </summary>
internal sealed class SwimCore
{
    /// <summary>
    /// An intermediary sends its nack at this fraction of the probe timeout (Lifeguard), so that
    /// the nack reaches the requester before its probe interval ends.
    /// </summary>
    private const double NackFraction = 0.8;

    private static readonly long ReapInterval = TimeSpan.FromSeconds(10).Ticks;

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

    /// <summary>Starts the periodic timers and joins through <paramref name="seeds"/> (addresses).</summary>
    public void Start(IEnumerable<string> seeds)
    {
        if (_started)
        {
            throw new InvalidOperationException("The member was already started.");
        }

        _started = true;
        var now = Now;
        var s = _settings;
        _timers.Schedule(now + Phase(s.ProbeInterval), new TimerEntry(TimerKind.Probe, 0, null, 0));
        _gossipPhase = now + Phase(s.GossipInterval);
        _timers.Schedule(now + Phase(PushPullInterval()), new TimerEntry(TimerKind.PushPull, 0, null, 0));
        _timers.Schedule(now + Phase(s.ReconnectInterval), new TimerEntry(TimerKind.Reconnect, 0, null, 0));
        _timers.Schedule(now + ReapInterval, new TimerEntry(TimerKind.Reap, 0, null, 0));
        AddSeeds(seeds);
        if (_broadcasts.Count > 0)
        {
            EnsureGossipScheduled();
        }

        if (_seeds.Count > 0)
        {
            JoinSeeds(_seeds);
            ScheduleJoinRetry(now);
        }
    }

    /// <summary>
    /// Joins through seeds listed after the start (a reloaded config): each new one gets a join at once, also
    /// when this member already has a cluster, so that two clusters a new seed bridges merge. Known seeds are
    /// skipped. Returns how many were new.
    /// </summary>
    public int Join(IEnumerable<string> seeds)
    {
        if (!_started)
        {
            throw new InvalidOperationException("The member has not started yet.");
        }

        var added = AddSeeds(seeds);
        if (added.Count > 0 && !_leaving)
        {
            JoinSeeds(added);
            ScheduleJoinRetry(Now);
        }

        return added.Count;
    }

    private List<string> AddSeeds(IEnumerable<string> seeds)
    {
        var added = new List<string>();
        foreach (var seed in seeds)
        {
            if (!string.Equals(seed, _self.Address, StringComparison.Ordinal) && !_seeds.Contains(seed))
            {
                _seeds.Add(seed);
                added.Add(seed);
            }
        }

        return added;
    }

    private void ScheduleJoinRetry(long now)
    {
        if (!_joinRetryScheduled)
        {
            _joinRetryScheduled = true;
            _timers.Schedule(now + _settings.JoinRetryInterval, new TimerEntry(TimerKind.JoinRetry, 0, null, 0));
        }
    }

    /// <summary>New timings take effect from the next timer of each kind.</summary>
    public void UpdateOptions(GossipOptions options) => _settings = new Settings(options, _settings.MaxPayload);

    /// <summary>
    /// Simulation only: takes a copy of a converged member table (alive members, this one's own
    /// record included) as if a join had delivered it. Copying a dictionary reuses its stored
    /// hashes, which is what makes a 10,000-member start affordable.
    /// </summary>
    public void SeedConverged(Dictionary<string, MemberRecord> table, IReadOnlyList<MemberRecord> records, ulong digest)
    {
        if (!table.TryGetValue(_self.Name, out var self) || !ReferenceEquals(self, _self) || _members.Count != 1)
        {
            throw new InvalidOperationException("A converged table must hold this member's own record and nothing may be known yet.");
        }

        _members = new Dictionary<string, MemberRecord>(table, StringComparer.Ordinal);
        _digest = digest;
        _probeOrder.Capacity = records.Count;
        foreach (var record in records)
        {
            if (record.Name != _self.Name)
            {
                _probeOrder.Add(record);
            }
        }

        _liveCount = _members.Count;
        Shuffle(_probeOrder, 0);
        Version++;
    }

    /// <summary>Dead and left members still remembered.</summary>
    public IEnumerable<string> DownMembers => _downSince.Keys;

    /// <summary>Tests only: starts as if a join had already delivered these members.</summary>
    public void SeedMembers(IEnumerable<MemberRecord> records)
    {
        foreach (var record in records)
        {
            if (record.Name == _self.Name || record.State != MemberState.Alive || _members.ContainsKey(record.Name))
            {
                continue;
            }

            SetMember(record);
            _probeOrder.Add(record);
            _liveCount++;
        }

        Shuffle(_probeOrder, 0);
        Version++;
    }

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

    /// <summary>Handles one plain datagram from <paramref name="from"/>; returns why it was dropped, if it was.</summary>
    public DropReason OnDatagram(string from, ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length > _settings.MaxPayload)
        {
            RecordDrop(DropReason.Oversize);
            return DropReason.Oversize;
        }

        var reason = WireFormat.Decode(datagram, _decoded, _decodedEnds, _settings.MaxMetaBytes);
        if (reason != DropReason.None)
        {
            RecordDrop(reason);
            return reason;
        }

        _counters.DatagramsReceived++;
        var start = 1;
        for (var i = 0; i < _decoded.Count; i++)
        {
            var end = _decodedEnds[i];
            Handle(from, _decoded[i], datagram[start..end]);
            start = end;
        }

        _decoded.Clear();
        return DropReason.None;
    }

    /// <summary>Counts a datagram the driver refused before it reached the core (sealing, size).</summary>
    public void RecordDrop(DropReason reason)
    {
        switch (reason)
        {
            case DropReason.Malformed: _counters.DroppedMalformed++; break;
            case DropReason.Unauthenticated: _counters.DroppedUnauthenticated++; break;
            case DropReason.Oversize: _counters.DroppedOversize++; break;
            case DropReason.UnknownVersion: _counters.DroppedUnknownVersion++; break;
            case DropReason.Replayed: _counters.DroppedReplayed++; break;
            default: break;
        }
    }

    /// <summary>
    /// Answers a push-pull request. The request is merged first, so a member told that it is
    /// suspected or dead answers with its refutation already in the state it sends back.
    /// </summary>
    /// <returns>The answer to send back, or null for a push that needs none.</returns>
    public PushPullMessage? OnPushPullRequest(PushPullMessage request)
    {
        if (request.IsPush)
        {
            Merge(request.Members ?? [], announceNew: false);
            return null;
        }

        _counters.PushPulls++;
        if (request.Members is { } members)
        {
            Merge(members, announceNew: request.Join);
            return new PushPullMessage { Digest = _digest, Members = LocalState() };
        }

        return request.Digest == _digest
            ? new PushPullMessage { Digest = _digest }
            : new PushPullMessage { Digest = _digest, Members = LocalState(), WantPush = true };
    }

    /// <summary>Merges the answer of <paramref name="from"/>, and sends our state back when it asked for it.</summary>
    public void OnPushPullReply(string from, PushPullMessage reply)
    {
        _counters.PushPulls++;
        if (reply.Members is { } members)
        {
            Merge(members, announceNew: false);
        }

        if (reply.WantPush)
        {
            _output.SendPushPull(from, new PushPullMessage { IsPush = true, Digest = _digest, Members = LocalState() });
        }
    }

    /// <summary>Announces new metadata under a higher incarnation.</summary>
    public void UpdateMetadata(byte[] meta)
    {
        _self = new MemberRecord
        {
            Name = _self.Name,
            Address = _self.Address,
            Incarnation = _self.Incarnation + 1,
            State = _leaving ? MemberState.Left : MemberState.Alive,
            Meta = meta,
        };
        SetMember(_self);
        Version++;
        if (!_leaving)
        {
            QueueAliveSelf();
            _output.MemberChanged(MembershipChangeKind.Updated, _self);
        }
    }

    /// <summary>Starts a graceful leave: stops probing and gossips the departure.</summary>
    public void Leave()
    {
        if (_leaving)
        {
            return;
        }

        _leaving = true;
        _self = _self.With(MemberState.Left, _self.Incarnation);
        SetMember(_self);
        Version++;
        if (_liveCount <= 1)
        {
            _leaveDone = true;
            return;
        }

        Enqueue(_self.Name, new LeftMessage { Name = _self.Name, Incarnation = _self.Incarnation });
    }

    /// <summary>Replaces a member's entry and keeps the table's digest current.</summary>
    private void SetMember(MemberRecord record)
    {
        if (_members.TryGetValue(record.Name, out var old))
        {
            _digest ^= old.DigestHash;
        }

        _members[record.Name] = record;
        _digest ^= record.DigestHash;
    }

    /// <summary>XOR of every record's hash: equal digests mean equal member tables.</summary>
    public static ulong DigestOf(IEnumerable<MemberRecord> records)
    {
        ulong digest = 0;
        foreach (var record in records)
        {
            digest ^= record.DigestHash;
        }

        return digest;
    }

    /// <summary>This member's full state for a push-pull exchange.</summary>
    public MemberRecord[] LocalState()
    {
        var state = new MemberRecord[_members.Count];
        _members.Values.CopyTo(state, 0);
        return state;
    }

    // ---- probing ----

    private void OnProbeTimer(long now)
    {
        FinishProbe();
        var interval = Scale(_settings.ProbeInterval);
        _timers.Schedule(now + interval, new TimerEntry(TimerKind.Probe, 0, null, 0));
        if (_leaving)
        {
            return;
        }

        var target = NextProbeTarget();
        if (target is null)
        {
            return;
        }

        _probe.Active = true;
        _probe.Seq = ++_seq;
        _probe.Target = target.Name;
        _probe.TargetAddress = target.Address;
        _probe.Incarnation = target.Incarnation;
        _probe.Acked = false;
        _probe.Indirect = false;
        _probe.ExpectedNacks = 0;
        _probe.Nacks = 0;
        _counters.Probes++;

        _ping.Seq = _probe.Seq;
        _ping.Target = target.Name;
        if (target.State == MemberState.Suspect)
        {
            // Lifeguard: tell the suspect directly, so it can refute without waiting for the rumour.
            var suspect = new SuspectMessage { Name = target.Name, Incarnation = target.Incarnation, From = _self.Name };
            SendCompound(target.Address, _ping, suspect);
        }
        else
        {
            SendCompound(target.Address, _ping, null);
        }

        _timers.Schedule(now + Scale(_settings.ProbeTimeout), new TimerEntry(TimerKind.ProbeTimeout, _probe.Seq, null, 0));
    }

    private void OnProbeTimeout(long now, uint seq)
    {
        if (!_probe.Active || _probe.Seq != seq || _probe.Acked)
        {
            return;
        }

        _probe.Indirect = true;
        PickRandomLive(_settings.IndirectChecks, _probe.Target, includeRecentlyDead: false, now);
        _indirect.Seq = seq;
        _indirect.Target = _probe.Target;
        _indirect.TargetAddress = _probe.TargetAddress;
        _indirect.WantNack = true;
        foreach (var helper in _targets)
        {
            SendCompound(helper.Address, _indirect, null);
            _probe.ExpectedNacks++;
        }

        if (_settings.FallbackPing)
        {
            _output.SendFallbackPing(_probe.TargetAddress, seq, _probe.Target);
        }
    }

    /// <summary>Whether a reliable-channel ping for <paramref name="target"/> is for this member.</summary>
    public bool IsPingTarget(string target) => target == _self.Name;

    /// <summary>The fallback ping was answered: the probe succeeds, without crediting local health.</summary>
    public void OnFallbackAck(uint seq)
    {
        if (_probe.Active && _probe.Seq == seq)
        {
            _probe.Acked = true;
        }
    }

    private void FinishProbe()
    {
        if (!_probe.Active)
        {
            return;
        }

        _probe.Active = false;
        if (_probe.Acked)
        {
            return;
        }

        _counters.FailedProbes++;
        // Lifeguard: missing nacks mean our own links may be the problem, so slow down instead of blaming others.
        var delta = _probe.ExpectedNacks > 0 ? _probe.ExpectedNacks - _probe.Nacks : 1;
        ApplyAwareness(delta);
        if (_members.TryGetValue(_probe.Target, out var target) && target.Incarnation == _probe.Incarnation)
        {
            ApplySuspect(_probe.Target, _probe.Incarnation, _self.Name, default);
        }
    }

    private MemberRecord? NextProbeTarget()
    {
        var checkedCount = 0;
        var limit = _probeOrder.Count + 1;
        while (checkedCount++ <= limit)
        {
            if (_probeIndex >= _probeOrder.Count)
            {
                ResetProbeOrder();
                if (_probeOrder.Count == 0)
                {
                    return null;
                }
            }

            var name = _probeOrder[_probeIndex++].Name;
            if (_members.TryGetValue(name, out var member) && IsLive(member) && name != _self.Name)
            {
                return member;
            }
        }

        return null;
    }

    private void ResetProbeOrder()
    {
        _probeOrder.Clear();
        foreach (var member in _members.Values)
        {
            if (IsLive(member) && member.Name != _self.Name)
            {
                _probeOrder.Add(member);
            }
        }

        Shuffle(_probeOrder, 0);
        _probeIndex = 0;
    }

    private void AddToProbeOrder(MemberRecord record)
    {
        // A random slot keeps the round-robin fair without reshuffling the whole order.
        _probeOrder.Add(record);
        var slot = _random.Next(_probeOrder.Count);
        (_probeOrder[slot], _probeOrder[^1]) = (_probeOrder[^1], _probeOrder[slot]);
    }

    // ---- gossip, push-pull, reconnect, join ----

    /// <summary>
    /// Gossip rounds keep a fixed phase, but the timer only runs while updates wait: an idle
    /// member costs nothing between probes, which matters with thousands of simulated members.
    /// </summary>
    private void EnsureGossipScheduled()
    {
        if (_gossipScheduled || !_started)
        {
            return;
        }

        var interval = _settings.GossipInterval;
        var now = Now;
        var due = now <= _gossipPhase ? _gossipPhase : _gossipPhase + ((((now - _gossipPhase) / interval) + 1) * interval);
        _timers.Schedule(due, new TimerEntry(TimerKind.Gossip, 0, null, 0));
        _gossipScheduled = true;
    }

    private void OnGossipTimer(long now)
    {
        _gossipScheduled = false;
        if (_broadcasts.Count == 0)
        {
            return;
        }

        _gossipPhase = now;
        _timers.Schedule(now + _settings.GossipInterval, new TimerEntry(TimerKind.Gossip, 0, null, 0));
        _gossipScheduled = true;

        PickRandomLive(_settings.GossipNodes, null, includeRecentlyDead: true, now);
        foreach (var target in _targets)
        {
            if (_broadcasts.Count == 0)
            {
                break;
            }

            SendCompound(target.Address, null, null);
        }
    }

    private void OnPushPullTimer(long now)
    {
        _timers.Schedule(now + PushPullInterval(), new TimerEntry(TimerKind.PushPull, 0, null, 0));
        if (_leaving)
        {
            return;
        }

        PickRandomLive(1, null, includeRecentlyDead: false, now);
        if (_targets.Count == 1 && _targets[0].State == MemberState.Alive)
        {
            _output.SendPushPull(_targets[0].Address, new PushPullMessage { Digest = _digest });
        }
    }

    private void OnReconnectTimer(long now)
    {
        _timers.Schedule(now + _settings.ReconnectInterval, new TimerEntry(TimerKind.Reconnect, 0, null, 0));
        if (_leaving)
        {
            return;
        }

        // Revived members stay in the list until drawn; each is removed once, so this stays cheap.
        while (_deadNames.Count > 0)
        {
            var index = _random.Next(_deadNames.Count);
            var name = _deadNames[index];
            if (!_members.TryGetValue(name, out var member) || member.State != MemberState.Dead)
            {
                _deadNames[index] = _deadNames[^1];
                _deadNames.RemoveAt(_deadNames.Count - 1);
                continue;
            }

            // A cheap ping first: only a dead member that answers is worth a full state exchange.
            var seq = ++_seq;
            _pending[seq] = new Pending(PendingKind.Reconnect, member.Address, 0);
            _ping.Seq = seq;
            _ping.Target = member.Name;
            SendCompound(member.Address, _ping, null);
            _timers.Schedule(now + _settings.ProbeInterval, new TimerEntry(TimerKind.PendingExpiry, seq, null, 0));
            return;
        }
    }

    private void OnJoinRetryTimer(long now)
    {
        _timers.Schedule(now + _settings.JoinRetryInterval, new TimerEntry(TimerKind.JoinRetry, 0, null, 0));
        if (!_leaving && _liveCount <= 1)
        {
            JoinSeeds(_seeds);
        }
    }

    private void JoinSeeds(List<string> seeds)
    {
        var state = LocalState();
        foreach (var seed in seeds)
        {
            _output.SendPushPull(seed, new PushPullMessage { Join = true, Digest = _digest, Members = state });
        }
    }

    private void OnReapTimer(long now)
    {
        _timers.Schedule(now + ReapInterval, new TimerEntry(TimerKind.Reap, 0, null, 0));
        List<string>? expired = null;
        foreach (var (name, since) in _downSince)
        {
            if (now - since >= _settings.DeadMemberRetention)
            {
                (expired ??= []).Add(name);
            }
        }

        if (expired is null)
        {
            return;
        }

        var forgotten = new HashSet<string>(expired, StringComparer.Ordinal);
        _probeOrder.RemoveAll(r => forgotten.Contains(r.Name));
        _probeIndex = Math.Min(_probeIndex, _probeOrder.Count);
        foreach (var name in expired)
        {
            _downSince.Remove(name);
            if (_members.Remove(name, out var removed))
            {
                _digest ^= removed.DigestHash;
            }
        }

        Version++;
    }

    // ---- incoming messages ----

    private void Handle(string from, IGossipMessage message, ReadOnlySpan<byte> raw)
    {
        switch (message)
        {
            case PingMessage ping:
                if (ping.Target == _self.Name)
                {
                    _ack.Seq = ping.Seq;
                    SendCompound(from, _ack, null);
                }

                break;
            case IndirectPingMessage indirect:
                OnIndirectPing(from, indirect);
                break;
            case AckMessage ack:
                OnAck(ack.Seq);
                break;
            case NackMessage nack:
                if (_probe.Active && _probe.Seq == nack.Seq)
                {
                    _probe.Nacks++;
                }

                break;
            case AliveMessage alive:
                ApplyAlive(alive.Name, alive.Address, alive.Incarnation, alive.Meta, raw, quietIfNew: false);
                break;
            case SuspectMessage suspect:
                ApplySuspect(suspect.Name, suspect.Incarnation, suspect.From, raw);
                break;
            case DeadMessage dead:
                ApplyDown(dead.Name, dead.Incarnation, MemberState.Dead, raw);
                break;
            case LeftMessage left:
                ApplyDown(left.Name, left.Incarnation, MemberState.Left, raw);
                break;
            default:
                break;
        }
    }

    private void OnIndirectPing(string from, IndirectPingMessage indirect)
    {
        var now = Now;
        var seq = ++_seq;
        _pending[seq] = new Pending(PendingKind.Relay, from, indirect.Seq);
        _ping.Seq = seq;
        _ping.Target = indirect.Target;
        SendCompound(indirect.TargetAddress, _ping, null);
        if (indirect.WantNack)
        {
            _timers.Schedule(now + (long)(_settings.ProbeTimeout * NackFraction), new TimerEntry(TimerKind.RelayNack, seq, null, 0));
        }

        _timers.Schedule(now + _settings.ProbeTimeout, new TimerEntry(TimerKind.PendingExpiry, seq, null, 0));
    }

    private void OnRelayNack(uint seq)
    {
        if (_pending.TryGetValue(seq, out var pending) && pending.Kind == PendingKind.Relay)
        {
            _nack.Seq = pending.RequesterSeq;
            SendCompound(pending.Address, _nack, null);
        }
    }

    private void OnAck(uint seq)
    {
        if (_probe.Active && _probe.Seq == seq)
        {
            if (!_probe.Acked)
            {
                _probe.Acked = true;
                if (!_probe.Indirect)
                {
                    ApplyAwareness(-1);
                }
            }

            return;
        }

        if (!_pending.Remove(seq, out var pending))
        {
            return;
        }

        if (pending.Kind == PendingKind.Relay)
        {
            _ack.Seq = pending.RequesterSeq;
            SendCompound(pending.Address, _ack, null);
        }
        else
        {
            _output.SendPushPull(pending.Address, new PushPullMessage { Digest = _digest, Members = LocalState() });
        }
    }

    // ---- state rules ----

    /// <summary>At one incarnation a later state wins: Alive &lt; Suspect &lt; Dead &lt; Left.</summary>
    private static bool Supersedes(MemberState state, uint incarnation, MemberRecord current) =>
        incarnation > current.Incarnation || (incarnation == current.Incarnation && state > current.State);

    private static bool IsLive(MemberRecord member) => member.State is MemberState.Alive or MemberState.Suspect;

    /// <returns>True when the update changed the table.</returns>
    private bool ApplyAlive(string name, string address, uint incarnation, byte[] meta, ReadOnlySpan<byte> raw, bool quietIfNew)
    {
        if (name == _self.Name)
        {
            // An older life of this member, or someone else's claim: outbid it.
            if (incarnation > _self.Incarnation
                || (incarnation == _self.Incarnation && (address != _self.Address || !meta.AsSpan().SequenceEqual(_self.Meta))))
            {
                Refute(incarnation);
            }

            return false;
        }

        var known = _members.TryGetValue(name, out var current);
        if (known && incarnation <= current!.Incarnation)
        {
            return false;
        }

        var record = new MemberRecord { Name = name, Address = address, Incarnation = incarnation, State = MemberState.Alive, Meta = meta };
        SetMember(record);
        Version++;
        MembershipChangeKind kind;
        if (!known)
        {
            _liveCount++;
            AddToProbeOrder(record);
            kind = MembershipChangeKind.Joined;
        }
        else if (current!.State == MemberState.Suspect)
        {
            _suspicions.Remove(name);
            kind = MembershipChangeKind.Recovered;
        }
        else if (current.State is MemberState.Dead or MemberState.Left)
        {
            _liveCount++;
            _downSince.Remove(name);
            AddToProbeOrder(record);
            kind = MembershipChangeKind.Joined;
        }
        else
        {
            kind = MembershipChangeKind.Updated;
        }

        if (known || !quietIfNew)
        {
            if (!TryRebroadcastRaw(name, raw))
            {
                Enqueue(name, new AliveMessage { Name = name, Address = address, Incarnation = incarnation, Meta = meta });
            }
        }

        _output.MemberChanged(kind, record);
        return true;
    }

    private bool ApplySuspect(string name, uint incarnation, string from, ReadOnlySpan<byte> raw)
    {
        if (name == _self.Name)
        {
            if (!_leaving && incarnation >= _self.Incarnation)
            {
                Refute(incarnation);
            }

            return false;
        }

        if (!_members.TryGetValue(name, out var current))
        {
            return false;
        }

        if (current.State == MemberState.Suspect && incarnation == current.Incarnation)
        {
            // Another member's independent suspicion shortens the timeout; pass it on so others count it too.
            if (_suspicions.TryGetValue(name, out var existing) && existing.Confirm(from))
            {
                ScheduleSuspicion(name, existing);
                if (!TryRebroadcastRaw(name, raw))
                {
                    Enqueue(name, new SuspectMessage { Name = name, Incarnation = incarnation, From = from });
                }

                return true;
            }

            return false;
        }

        if (!Supersedes(MemberState.Suspect, incarnation, current))
        {
            return false;
        }

        var record = current.With(MemberState.Suspect, incarnation);
        SetMember(record);
        Version++;
        if (current.State is MemberState.Dead or MemberState.Left)
        {
            _liveCount++;
            _downSince.Remove(name);
            AddToProbeOrder(record);
        }

        var now = Now;
        if (_suspicions.TryGetValue(name, out var suspicion))
        {
            suspicion.Incarnation = incarnation;
            suspicion.Confirm(from);
        }
        else
        {
            var n = _liveCount;
            var expected = _settings.SuspicionMult - 2;
            if (n - 2 < expected)
            {
                expected = 0;
            }

            var min = SuspicionMinimum(n);
            var max = _settings.SuspicionMaxTimeoutMult * min;
            suspicion = new Suspicion(now, Math.Max(0, expected), min, max, from, incarnation);
            _suspicions[name] = suspicion;
            _counters.Suspicions++;
        }

        ScheduleSuspicion(name, suspicion);
        if (!TryRebroadcastRaw(name, raw))
        {
            Enqueue(name, new SuspectMessage { Name = name, Incarnation = incarnation, From = from });
        }

        _output.MemberChanged(MembershipChangeKind.Suspected, record);
        return true;
    }

    private bool ApplyDown(string name, uint incarnation, MemberState state, ReadOnlySpan<byte> raw)
    {
        if (name == _self.Name)
        {
            if (!_leaving && incarnation >= _self.Incarnation)
            {
                Refute(incarnation);
            }

            return false;
        }

        if (!_members.TryGetValue(name, out var current) || !Supersedes(state, incarnation, current))
        {
            return false;
        }

        var record = current.With(state, incarnation);
        SetMember(record);
        Version++;
        var wasLive = IsLive(current);
        if (wasLive)
        {
            _liveCount--;
            _suspicions.Remove(name);
        }

        if (wasLive || current.State != state)
        {
            _downSince[name] = Now;
        }

        if (state == MemberState.Dead && wasLive)
        {
            _deadNames.Add(name);
        }

        if (!TryRebroadcastRaw(name, raw))
        {
            Enqueue(name, state == MemberState.Left
                ? new LeftMessage { Name = name, Incarnation = incarnation }
                : new DeadMessage { Name = name, Incarnation = incarnation, From = _self.Name });
        }

        if (wasLive || current.State != state)
        {
            _output.MemberChanged(state == MemberState.Left ? MembershipChangeKind.Left : MembershipChangeKind.Failed, record);
        }

        return true;
    }

    /// <param name="remote">The peer's full state.</param>
    /// <param name="announceNew">
    /// Gossip members we did not know. A joiner's own record is news to the cluster; what a reply
    /// teaches a joiner, the cluster already knows, and re-gossiping a whole member list would flood it.
    /// </param>
    private void Merge(MemberRecord[] remote, bool announceNew)
    {
        foreach (var record in remote)
        {
            if (_members.TryGetValue(record.Name, out var current) && ReferenceEquals(current, record))
            {
                continue;
            }

            if (record.Name == _self.Name)
            {
                if (record.State == MemberState.Alive)
                {
                    ApplyAlive(record.Name, record.Address, record.Incarnation, record.Meta, default, quietIfNew: !announceNew);
                }
                else if (!_leaving && record.Incarnation >= _self.Incarnation)
                {
                    Refute(record.Incarnation);
                }

                continue;
            }

            switch (record.State)
            {
                case MemberState.Alive:
                    ApplyAlive(record.Name, record.Address, record.Incarnation, record.Meta, default, quietIfNew: !announceNew);
                    break;
                case MemberState.Left:
                    if (current is null)
                    {
                        Remember(record);
                    }
                    else
                    {
                        ApplyDown(record.Name, record.Incarnation, MemberState.Left, default);
                    }

                    break;
                default:
                    if (current is null)
                    {
                        if (record.State == MemberState.Dead)
                        {
                            Remember(record);
                        }
                        else
                        {
                            ApplyAlive(record.Name, record.Address, record.Incarnation, record.Meta, default, quietIfNew: !announceNew);
                        }
                    }
                    else
                    {
                        // Someone else's verdict of death becomes our suspicion: the member gets its chance to refute.
                        ApplySuspect(record.Name, record.Incarnation, "", default);
                    }

                    break;
            }
        }
    }

    /// <summary>A tombstone learned from a push-pull: never announced, only used to refuse stale rumours.</summary>
    private void Remember(MemberRecord record)
    {
        SetMember(record);
        _downSince[record.Name] = Now;
        if (record.State == MemberState.Dead)
        {
            _deadNames.Add(record.Name);
        }

        Version++;
    }

    private void Refute(uint incarnation)
    {
        _counters.Refutations++;
        _self = new MemberRecord
        {
            Name = _self.Name,
            Address = _self.Address,
            Incarnation = Math.Max(incarnation, _self.Incarnation) + 1,
            State = MemberState.Alive,
            Meta = _self.Meta,
        };
        SetMember(_self);
        Version++;
        // Lifeguard: being suspected hints that our own processing or links are slow.
        ApplyAwareness(1);
        QueueAliveSelf();
    }

    private void QueueAliveSelf() => Enqueue(_self.Name, new AliveMessage
    {
        Name = _self.Name,
        Address = _self.Address,
        Incarnation = _self.Incarnation,
        Meta = _self.Meta,
    });

    private void OnSuspicionTimer(TimerEntry entry)
    {
        if (entry.Name is null || !_suspicions.TryGetValue(entry.Name, out var suspicion) || suspicion.Generation != entry.Generation)
        {
            return;
        }

        if (_members.TryGetValue(entry.Name, out var member) && member.State == MemberState.Suspect)
        {
            ApplyDown(entry.Name, member.Incarnation, MemberState.Dead, default);
        }

        _suspicions.Remove(entry.Name);
    }

    private void ScheduleSuspicion(string name, Suspicion suspicion)
    {
        suspicion.Generation++;
        _timers.Schedule(suspicion.Due, new TimerEntry(TimerKind.Suspicion, 0, name, suspicion.Generation));
    }

    private long SuspicionMinimum(int n)
    {
        var scale = Math.Max(1.0, Math.Log10(Math.Max(1.0, n)));
        return (long)(_settings.SuspicionMult * scale * _settings.ProbeInterval);
    }

    // ---- sending ----

    /// <summary>Re-gossips an update as it was received, which is cheaper than encoding it again.</summary>
    private bool TryRebroadcastRaw(string name, ReadOnlySpan<byte> raw)
    {
        if (raw.IsEmpty)
        {
            return false;
        }

        _broadcasts.Enqueue(name, raw.ToArray());
        EnsureGossipScheduled();
        return true;
    }

    private void Enqueue(string name, IGossipMessage message)
    {
        _broadcasts.Enqueue(name, MemoryPackSerializer.Serialize(message));
        EnsureGossipScheduled();
    }

    private void OnBroadcastFinished(string name, bool sent)
    {
        // Only the departure itself, sent out in full: the update about this member it replaced (the metadata a
        // leaving node announced just before) finishes too, as Leave queues the departure, and says nothing about it.
        if (_leaving && sent && name == _self.Name)
        {
            _leaveDone = true;
        }
    }

    /// <summary>Sends <paramref name="first"/> and <paramref name="second"/> (either may be null) plus as many queued updates as fit.</summary>
    private void SendCompound(string address, IGossipMessage? first, IGossipMessage? second)
    {
        _writer.ResetWrittenCount();
        _writer.GetSpan(1)[0] = WireFormat.Version;
        _writer.Advance(1);
        if (first is not null)
        {
            MemoryPackSerializer.Serialize(_writer, first);
        }

        if (second is not null)
        {
            MemoryPackSerializer.Serialize(_writer, second);
        }

        var budget = _settings.MaxPayload - _writer.WrittenCount;
        _broadcasts.Take(budget, RetransmitLimit(), _taken);
        foreach (var update in _taken)
        {
            _writer.Write(update);
        }

        if (_writer.WrittenCount <= 1)
        {
            return;
        }

        _counters.DatagramsSent++;
        _counters.BytesSent += _writer.WrittenCount;
        _output.SendDatagram(address, _writer.WrittenSpan);
    }

    /// <summary>Fills <see cref="_targets"/> with up to <paramref name="count"/> distinct random members to talk to.</summary>
    private void PickRandomLive(int count, string? exclude, bool includeRecentlyDead, long now)
    {
        _targets.Clear();
        var pool = _probeOrder.Count;
        if (pool == 0 || count <= 0)
        {
            return;
        }

        for (var attempt = 0; attempt < 3 * count + 3 && _targets.Count < count; attempt++)
        {
            var member = _probeOrder[_random.Next(pool)];
            var name = member.Name;
            if (name == exclude || name == _self.Name)
            {
                continue;
            }

            // Members not in the down-set are live; only the rare down ones need a look at the table.
            var eligible = true;
            if (_downSince.TryGetValue(name, out var since))
            {
                eligible = includeRecentlyDead && now - since < _settings.GossipToTheDeadTime
                    && _members.TryGetValue(name, out var current) && current.State == MemberState.Dead;
            }

            if (eligible && !_targets.Contains(member))
            {
                _targets.Add(member);
            }
        }
    }

    // ---- helpers ----

    private int RetransmitLimit() => _settings.RetransmitMult * (int)Math.Ceiling(Math.Log10(_liveCount + 1.0));

    private long PushPullInterval()
    {
        // memberlist: beyond 32 members the interval grows with log2(N), so full syncs stay affordable.
        const int threshold = 32;
        var n = _liveCount;
        if (n <= threshold)
        {
            return _settings.PushPullInterval;
        }

        var multiplier = (int)Math.Ceiling(Math.Log2(n) - Math.Log2(threshold)) + 1;
        return _settings.PushPullInterval * multiplier;
    }

    private long Scale(long timeout) => timeout * (_awareness + 1);

    private void ApplyAwareness(int delta) =>
        _awareness = Math.Clamp(_awareness + delta, 0, _settings.AwarenessMaxMultiplier - 1);

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

        public long ProbeInterval { get; } = o.ProbeInterval.Ticks;

        public long ProbeTimeout { get; } = o.ProbeTimeout.Ticks;

        public int IndirectChecks { get; } = o.IndirectChecks;

        public bool FallbackPing { get; } = o.FallbackPing;

        public int SuspicionMult { get; } = o.SuspicionMult;

        public int SuspicionMaxTimeoutMult { get; } = o.SuspicionMaxTimeoutMult;

        public int RetransmitMult { get; } = o.RetransmitMult;

        public long GossipInterval { get; } = o.GossipInterval.Ticks;

        public int GossipNodes { get; } = o.GossipNodes;

        public long GossipToTheDeadTime { get; } = o.GossipToTheDeadTime.Ticks;

        public long PushPullInterval { get; } = o.PushPullInterval.Ticks;

        public int AwarenessMaxMultiplier { get; } = o.AwarenessMaxMultiplier;

        public long DeadMemberRetention { get; } = o.DeadMemberRetention.Ticks;

        public long ReconnectInterval { get; } = o.ReconnectInterval.Ticks;

        public long JoinRetryInterval { get; } = o.JoinRetryInterval.Ticks;
    }

    private sealed class Probe
    {
        public bool Active { get; set; }

        public uint Seq { get; set; }

        public string Target { get; set; } = "";

        public string TargetAddress { get; set; } = "";

        public uint Incarnation { get; set; }

        public bool Acked { get; set; }

        public bool Indirect { get; set; }

        public int ExpectedNacks { get; set; }

        public int Nacks { get; set; }
    }

    private enum PendingKind : byte
    {
        Relay,
        Reconnect,
    }

    private readonly record struct Pending(PendingKind Kind, string Address, uint RequesterSeq);
}

/// <summary>Counters kept by the core; the driver adds what it counts itself.</summary>
internal struct CoreCounters
{
    public long Probes;
    public long FailedProbes;
    public long Suspicions;
    public long Refutations;
    public long DatagramsSent;
    public long BytesSent;
    public long DatagramsReceived;
    public long DroppedMalformed;
    public long DroppedUnauthenticated;
    public long DroppedOversize;
    public long DroppedUnknownVersion;
    public long DroppedReplayed;
    public long PushPulls;
}
