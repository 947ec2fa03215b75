using System.Buffers;
using MemoryPack;

namespace SocketPush.Gossip.Protocol;

// Dissemination: updates queued for piggybacking, gossip rounds while any wait, and compound datagrams
// that carry as many updates as fit.
internal sealed partial class SwimCore
{
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

    private int RetransmitLimit() => _settings.RetransmitMult * (int)Math.Ceiling(Math.Log10(_liveCount + 1.0));
}
