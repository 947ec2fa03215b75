namespace SocketPush.Gossip.Protocol;

// Incoming datagrams: decoding, counting what is dropped, and handing each message to its concern.
internal sealed partial class SwimCore
{
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
}
