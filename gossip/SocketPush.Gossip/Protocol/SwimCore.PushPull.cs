namespace SocketPush.Gossip.Protocol;

// Push-pull: periodic full-state exchanges, merging a peer's state, and reaching dead members again
// so that the two sides of a healed partition find each other.
internal sealed partial class SwimCore
{
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

    /// <summary>This member's full state for a push-pull exchange.</summary>
    public MemberRecord[] LocalState()
    {
        var state = new MemberRecord[_members.Count];
        _members.Values.CopyTo(state, 0);
        return state;
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
}
