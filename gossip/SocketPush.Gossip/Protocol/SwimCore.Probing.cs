namespace SocketPush.Gossip.Protocol;

// Probing: one member per interval in a shuffled round-robin order, indirect probes through others
// after a missed ack, the reliable-channel fallback, and relaying the probes others ask of this member.
internal sealed partial class SwimCore
{
    /// <summary>
    /// An intermediary sends its nack at this fraction of the probe timeout (Lifeguard), so that
    /// the nack reaches the requester before its probe interval ends.
    /// </summary>
    private const double NackFraction = 0.8;

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
