namespace SocketPush.Gossip.Protocol;

// Suspicion and Lifeguard: suspecting a member that missed its probes, the timeout that shrinks with
// independent confirmations, refuting a suspicion of this member, and the local health multiplier.
internal sealed partial class SwimCore
{
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

    private long Scale(long timeout) => timeout * (_awareness + 1);

    private void ApplyAwareness(int delta) =>
        _awareness = Math.Clamp(_awareness + delta, 0, _settings.AwarenessMaxMultiplier - 1);
}
