namespace SocketPush.Gossip.Protocol;

// Joining through seeds (retried while no other member is known) and leaving gracefully.
internal sealed partial class SwimCore
{
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

    private void OnBroadcastFinished(string name, bool sent)
    {
        // Only the departure itself, sent out in full: the update about this member it replaced (the metadata a
        // leaving node announced just before) finishes too, as Leave queues the departure, and says nothing about it.
        if (_leaving && sent && name == _self.Name)
        {
            _leaveDone = true;
        }
    }
}
