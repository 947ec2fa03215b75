namespace SocketPush.Gossip.Protocol;

// The member table and its state rules: which update supersedes which, alive and down members,
// tombstones and their reaping, and the table's digest.
internal sealed partial class SwimCore
{
    /// <summary>How often tombstones past their retention are forgotten.</summary>
    private static readonly long ReapInterval = TimeSpan.FromSeconds(10).Ticks;

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
            if (_leaving && _liveCount <= 1)
            {
                // The last other member went while this one was announcing its own departure (a cluster stopping
                // all at once): nobody is left to tell, so the leave need not wait for its announcement to go out.
                _leaveDone = true;
            }
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
}
