using System.Collections.Immutable;
using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SocketPush.Gossip.Protocol;
using SocketPush.Gossip.Transport;

namespace SocketPush.Gossip;

/// <summary>
/// This process's member of the gossip cluster: SWIM with Lifeguard over one LiteNetLib UDP port.
/// Read <see cref="Snapshot"/> at any time; subscribe to <see cref="Changed"/> to hear about
/// changes; call <see cref="LeaveAsync"/> before <see cref="DisposeAsync"/> to leave gracefully.
/// </summary>
/// <remarks>
/// One loop task owns the protocol state. Datagrams, gossip messages, timer ticks and calls
/// from outside are queued to it, so nothing in the protocol is locked, and no lock is held
/// while sending. Connections are kept by the transport on LiteNetLib's threads, shared with
/// the data plane (<see cref="Peers"/>), which never goes through the loop.
/// </remarks>
public sealed class Membership : IAsyncDisposable
{
    private GossipOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly LoopInputs _inputs = new();
    private readonly DatagramSealer _sealer;
    private readonly LiteNetTransport _transport;
    private readonly SwimCore _core;
    private readonly ITimer? _timer;
    private readonly Dictionary<uint, PendingRequest> _requests = [];
    private readonly List<MembershipChange> _changes = [];
    private readonly List<TaskCompletionSource> _leaveWaiters = [];
    private readonly TaskCompletionSource _loopDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private MembershipSnapshot _snapshot;
    private StrongBox<GossipCounters> _counters = new(default);
    private long _publishedVersion = -1;
    private uint _nextRequestId;
    private int _disposed;

    private Membership(GossipOptions options, string name, byte[] meta, ILogger logger, TimeProvider time, int seed)
    {
        _options = options;
        _logger = logger;
        _time = time;
        _sealer = new DatagramSealer(options.Secret, options.PreviousSecret);
        _transport = new LiteNetTransport(_sealer, _inputs, options.MaxDatagramSize, options.PeerConnectTimeout, logger)
        {
            ConnectionRefused = endPoint => GossipLog.RefusedConnection(logger, endPoint),
        };
        Peers = new PeerChannel(_transport, _sealer, logger);
        _transport.Start(IPAddress.Parse(options.BindAddress), options.Port);
        var advertise = IPAddress.Parse(options.AdvertiseAddress ?? options.BindAddress);
        LocalEndPoint = new IPEndPoint(advertise, _transport.LocalPort);
        Address = LocalEndPoint.ToString();
        _sealer.SetSender(LocalEndPoint);
        _core = new SwimCore(options, name, Address, meta, time, new Random(seed), new CoreOutput(this),
            options.MaxDatagramSize - _sealer.SealOverhead);
        _snapshot = new MembershipSnapshot(name, 0, []);

        // The loop thread times its own waits on the system clock. Another clock (a fake one in
        // tests) moves on its own schedule, so its timer wakes the loop when it fires.
        if (time != TimeProvider.System)
        {
            _timer = time.CreateTimer(static state => ((Membership)state!)._inputs.Post(TimerTick.Instance), this,
                Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>
    /// A change of one member. Raised on the gossip loop after <see cref="Snapshot"/> shows the
    /// change; keep handlers short, the loop waits for them.
    /// </summary>
    public event EventHandler<MembershipChange>? Changed;

    /// <summary>Raised after every input the loop handled; lets tests wait for counters without sleeping.</summary>
    internal event Action? Processed;

    /// <summary>The address other members use for this one.</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary><see cref="LocalEndPoint"/> as <c>host:port</c>, the form seeds are given in.</summary>
    public string Address { get; }

    /// <summary>This member's name, unique in the cluster; it cannot change while the member runs.</summary>
    public string Name => _core.Name;

    /// <summary>The current view of the cluster, replaced as a whole on every change.</summary>
    public MembershipSnapshot Snapshot => Volatile.Read(ref _snapshot);

    /// <summary>Totals for metrics.</summary>
    public GossipCounters Counters => Volatile.Read(ref _counters).Value;

    /// <summary>The data plane on this member's port; created with the membership, closed when it is disposed.</summary>
    public PeerChannel Peers { get; }

    /// <summary>
    /// Binds the UDP port and starts gossiping; joining through <see cref="GossipOptions.Seeds"/>
    /// goes on in the background (and is retried while no other member is known).
    /// </summary>
    /// <param name="options">Socket, secrets, limits and timings.</param>
    /// <param name="name">This member's name, unique in the cluster (1 to 128 characters).</param>
    /// <param name="metadata">What this member tells the others about itself, as opaque bytes; copied.</param>
    /// <param name="loggerFactory">Where the gossip loop logs; none by default.</param>
    /// <param name="timeProvider">The clock of every timer; the system clock by default.</param>
    /// <exception cref="ArgumentException">The options or the name are invalid, or the metadata is longer than <see cref="GossipOptions.MaxMetadataBytes"/>.</exception>
    public static Membership Start(GossipOptions options, string name, ReadOnlyMemory<byte> metadata, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null) =>
        Start(options, name, metadata, loggerFactory, timeProvider, RandomNumberGenerator.GetInt32(int.MaxValue));

    internal static Membership Start(GossipOptions options, string name, ReadOnlyMemory<byte> metadata, ILoggerFactory? loggerFactory, TimeProvider? timeProvider, int seed)
    {
        ArgumentNullException.ThrowIfNull(options);
        GossipOptionsValidator.ThrowIfInvalid(options);
        if (string.IsNullOrEmpty(name) || name.Length > WireFormat.MaxNameLength)
        {
            throw new ArgumentException($"The member name must have 1 to {WireFormat.MaxNameLength} characters.", nameof(name));
        }

        var meta = CopyMetadata(options, metadata);
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("SocketPush.Gossip");
        var membership = new Membership(options, name, meta, logger, timeProvider ?? TimeProvider.System, seed);
        membership.Run();
        return membership;
    }

    /// <summary>Announces new metadata (opaque bytes, copied) under a higher incarnation.</summary>
    /// <exception cref="ArgumentException">The metadata is longer than <see cref="GossipOptions.MaxMetadataBytes"/>.</exception>
    public Task UpdateMetadataAsync(ReadOnlyMemory<byte> metadata, CancellationToken cancellationToken = default)
    {
        var meta = CopyMetadata(_options, metadata);
        return PostAsync(core => core.UpdateMetadata(meta), cancellationToken);
    }

    /// <summary>
    /// Applies new timings and limits without a restart; each timer uses them from its next run.
    /// A new <see cref="GossipOptions.Secret"/> and <see cref="GossipOptions.PreviousSecret"/> take
    /// effect at once (a key rotation), but sealing cannot be turned on or off. The socket (bind
    /// address, port, advertise address) and the datagram size cannot change while the member runs;
    /// more seeds are joined with <see cref="JoinAsync"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid or change what cannot change.</exception>
    public Task UpdateOptionsAsync(GossipOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        GossipOptionsValidator.ThrowIfInvalid(options);
        var fixedChanged = new List<string>();
        if (options.BindAddress != _options.BindAddress)
        {
            fixedChanged.Add(nameof(GossipOptions.BindAddress));
        }

        if (options.Port != _options.Port)
        {
            fixedChanged.Add(nameof(GossipOptions.Port));
        }

        if (options.AdvertiseAddress != _options.AdvertiseAddress)
        {
            fixedChanged.Add(nameof(GossipOptions.AdvertiseAddress));
        }

        if ((options.Secret is null) != (_options.Secret is null))
        {
            fixedChanged.Add(nameof(GossipOptions.Secret) + " (sealing on or off; a new secret is taken while running)");
        }

        if (options.MaxDatagramSize != _options.MaxDatagramSize)
        {
            fixedChanged.Add(nameof(GossipOptions.MaxDatagramSize));
        }

        if (fixedChanged.Count > 0)
        {
            throw new ArgumentException($"These settings cannot change while the member runs: {string.Join(", ", fixedChanged)}.", nameof(options));
        }

        return PostAsync(core =>
        {
            core.UpdateOptions(options);
            _transport.SetConnectTimeout(options.PeerConnectTimeout);
            if (options.Secret is { } secret && (secret != _options.Secret || options.PreviousSecret != _options.PreviousSecret))
            {
                _sealer.UpdateSecrets(secret, options.PreviousSecret);
                _transport.RefreshConnectToken();
            }

            _options = options;
        }, cancellationToken);
    }

    /// <summary>
    /// Joins through more seeds (addresses, <c>ip:port</c>) while running: each one not known yet gets a join
    /// request at once and is retried with the others while no other member is known. Returns how many were new.
    /// </summary>
    public async Task<int> JoinAsync(IEnumerable<string> seeds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        var list = seeds.ToList();
        var added = 0;
        await PostAsync(core => added = core.Join(list), cancellationToken).ConfigureAwait(false);
        return added;
    }

    /// <summary>
    /// Gossips this member's departure and waits until it was passed on as often as any update, or
    /// until <see cref="GossipOptions.LeaveTimeout"/>. The member stops probing but keeps answering
    /// until disposed. Returns whether the announcement went out completely.
    /// </summary>
    public async Task<bool> LeaveAsync(CancellationToken cancellationToken = default)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await PostAsync(core =>
        {
            core.Leave();
            _leaveWaiters.Add(done);
        }, cancellationToken).ConfigureAwait(false);
        try
        {
            await done.Task.WaitAsync(_options.LeaveTimeout, _time, cancellationToken).ConfigureAwait(false);
            GossipLog.Left(_logger, true);
            return true;
        }
        catch (TimeoutException)
        {
            GossipLog.Left(_logger, false);
            return false;
        }
    }

    /// <summary>Stops the loop and closes the socket. Without <see cref="LeaveAsync"/> first, others will declare this member dead.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Peers.Close();
        _inputs.Complete();
        try
        {
            // Rethrows what stopped the loop, if anything did; the socket is closed either way.
            await _loopDone.Task.ConfigureAwait(false);
        }
        finally
        {
            if (_timer is not null)
            {
                await _timer.DisposeAsync().ConfigureAwait(false);
            }

            _transport.Dispose();
            _sealer.Dispose();
            _inputs.Dispose();
        }
    }

    /// <summary>A copy the caller cannot change any more: the core keeps and sends it as it is.</summary>
    private static byte[] CopyMetadata(GossipOptions options, ReadOnlyMemory<byte> metadata)
    {
        if (metadata.Length > options.MaxMetadataBytes)
        {
            throw new ArgumentException($"The metadata takes {metadata.Length} bytes; at most {options.MaxMetadataBytes} are allowed.", nameof(metadata));
        }

        return metadata.ToArray();
    }

    private Task PostAsync(Action<SwimCore> action, CancellationToken cancellationToken)
    {
        var command = new Command(action);
        ObjectDisposedException.ThrowIf(!_inputs.Post(command), this);

        return command.Done.Task.WaitAsync(cancellationToken);
    }

    private void Run()
    {
        var seeds = new List<string>();
        foreach (var seed in _options.Seeds)
        {
            if (GossipOptionsValidator.TryParseEndPoint(seed, out var endPoint))
            {
                seeds.Add(endPoint.ToString());
            }
        }

        GossipLog.Started(_logger, Name, new IPEndPoint(IPAddress.Parse(_options.BindAddress), _transport.LocalPort), Address);

        // A thread of its own, not the thread pool: probe deadlines are a few hundred
        // milliseconds, and a pool kept busy (the node's requests, its data-plane sends) holds
        // every queued continuation until it adds a thread, about every half second. That was
        // long enough to suspect a healthy member during a data burst on a loaded machine.
        var thread = new Thread(() => RunLoop(seeds)) { IsBackground = true, Name = "Gossip loop " + Name };
        thread.Start();
    }

    private void RunLoop(List<string> seeds)
    {
#pragma warning disable CA1031 // The thread must not take the process down; DisposeAsync rethrows what stopped it.
        try
        {
            Handle(new Command(core => core.Start(seeds)));
            while (!_inputs.IsCompleted)
            {
                _inputs.Wait(MillisecondsUntilDue());
                while (!_inputs.IsCompleted && _inputs.TryTake(out var input))
                {
                    Handle(input);
                }

                if (!_inputs.IsCompleted && _timer is null && _core.NextDueIn <= TimeSpan.Zero)
                {
                    Handle(TimerTick.Instance);
                }
            }

            _loopDone.TrySetResult();
        }
        catch (Exception e)
        {
            _loopDone.TrySetException(e);
        }
#pragma warning restore CA1031
    }

    /// <summary>How long the loop may sleep: until the core's next timer, rounded up so it wakes when it is due, not just before.</summary>
    private int MillisecondsUntilDue() =>
        _timer is not null || _core.NextDueIn is not { } due ? Timeout.Infinite : (int)Math.Clamp(Math.Ceiling(due.TotalMilliseconds), 0, int.MaxValue);

    private void Handle(object input)
    {
        switch (input)
        {
            case TimerTick:
                _core.Tick();
                break;
            case DatagramInput datagram:
                OnDatagram(datagram);
                break;
            case ReliableInput reliable:
                OnReliable(reliable);
                break;
            case Command command:
                command.Action(_core);
                command.Done.TrySetResult();
                break;
            default:
                break;
        }

        AfterInput();
    }

    private void OnDatagram(DatagramInput datagram)
    {
        var source = datagram.From.ToString();
        var plain = _transport.OpenDatagram(datagram.Data, out var reason);
        if (plain is null)
        {
            _core.RecordDrop(reason);
            GossipLog.DroppedDatagram(_logger, source, reason.ToString());
            return;
        }

        reason = _core.OnDatagram(source, plain);
        if (reason != DropReason.None)
        {
            GossipLog.DroppedDatagram(_logger, source, reason.ToString());
        }
    }

    private void OnReliable(ReliableInput input)
    {
        var reason = _transport.Decode(input.Data, out var envelope);
        if (reason != DropReason.None || envelope is null
            || (envelope.PushPull is { } check && !WireFormat.IsValidPushPull(check, _options.MaxMetadataBytes)))
        {
            _core.RecordDrop(reason == DropReason.None ? DropReason.Malformed : reason);
            GossipLog.DroppedDatagram(_logger, input.Peer.ToString(), "reliable: " + reason);
            return;
        }

        if (!envelope.IsReply)
        {
            if (envelope.PushPull is { } request)
            {
                var answer = _core.OnPushPullRequest(request);
                if (answer is not null)
                {
                    _transport.Reply(input.Peer, new ReliableEnvelope { RequestId = envelope.RequestId, IsReply = true, PushPull = answer });
                }
            }
            else if (envelope.PingTarget is { } target)
            {
                _transport.Reply(input.Peer, new ReliableEnvelope
                {
                    RequestId = envelope.RequestId,
                    IsReply = true,
                    PingSeq = envelope.PingSeq,
                    PingAcked = _core.IsPingTarget(target),
                });
            }

            return;
        }

        if (!_requests.Remove(envelope.RequestId, out var pending))
        {
            return;
        }

        if (envelope.PushPull is { } reply)
        {
            _core.OnPushPullReply(pending.Address, reply);
        }
        else if (envelope.PingAcked && envelope.PingSeq == pending.PingSeq)
        {
            _core.OnFallbackAck(envelope.PingSeq);
        }
    }

    private void AfterInput()
    {
        if (_core.Version != _publishedVersion)
        {
            PublishSnapshot();
        }

        var c = _core.Counters;
        _counters = new StrongBox<GossipCounters>(new GossipCounters
        {
            Probes = c.Probes,
            FailedProbes = c.FailedProbes,
            Suspicions = c.Suspicions,
            Refutations = c.Refutations,
            DatagramsSent = c.DatagramsSent,
            BytesSent = c.BytesSent + (c.DatagramsSent * _sealer.SealOverhead),
            DatagramsReceived = c.DatagramsReceived,
            DroppedMalformed = c.DroppedMalformed,
            DroppedUnauthenticated = c.DroppedUnauthenticated + _transport.RefusedConnections,
            DroppedOversize = c.DroppedOversize,
            DroppedUnknownVersion = c.DroppedUnknownVersion,
            DroppedReplayed = c.DroppedReplayed,
            PushPulls = c.PushPulls,
            HealthMultiplier = _core.HealthMultiplier,
        });

        if (_changes.Count > 0)
        {
            var changes = _changes.ToArray();
            _changes.Clear();
            foreach (var change in changes)
            {
                GossipLog.MemberChanged(_logger, change.Member.Name, change.Kind, change.Member.Incarnation);
                RaiseChanged(change);
            }
        }

        if (_leaveWaiters.Count > 0 && _core.LeaveBroadcastDone)
        {
            foreach (var waiter in _leaveWaiters)
            {
                waiter.TrySetResult();
            }

            _leaveWaiters.Clear();
        }

        PruneRequests();
        _timer?.Change(_core.NextDueIn ?? Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        Processed?.Invoke();
    }

    private void RaiseChanged(MembershipChange change)
    {
#pragma warning disable CA1031 // A subscriber's bug must not stop the gossip loop; it is logged.
        try
        {
            Changed?.Invoke(this, change);
        }
        catch (Exception e)
        {
            GossipLog.HandlerFailed(_logger, e);
        }
#pragma warning restore CA1031
    }

    private void PublishSnapshot()
    {
        var builder = ImmutableArray.CreateBuilder<GossipMember>(_core.Members.Count);
        foreach (var record in _core.Members.Values)
        {
            builder.Add(View(record));
        }

        builder.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        _publishedVersion = _core.Version;
        Volatile.Write(ref _snapshot, new MembershipSnapshot(Name, _publishedVersion, builder.MoveToImmutable()));
    }

    private static GossipMember View(MemberRecord record) =>
        record.PublicView ??= new GossipMember(record.Name, record.Address, record.Incarnation, record.State, record.Meta);

    /// <summary>Requests whose peer never answered are forgotten after a minute.</summary>
    private void PruneRequests()
    {
        if (_requests.Count < 64)
        {
            return;
        }

        var now = _time.GetTimestamp();
        foreach (var (id, pending) in _requests.ToArray())
        {
            if (_time.GetElapsedTime(pending.SentAt, now) > TimeSpan.FromMinutes(1))
            {
                _requests.Remove(id);
            }
        }
    }

    private uint NextRequestId() => ++_nextRequestId;

    private sealed class CoreOutput(Membership owner) : ICoreOutput
    {
        public void SendDatagram(string address, ReadOnlySpan<byte> datagram)
        {
            if (!owner._transport.SendDatagram(address, datagram))
            {
                GossipLog.BadAddress(owner._logger, address);
            }
        }

        public void SendPushPull(string address, PushPullMessage message)
        {
            var id = owner.NextRequestId();
            if (!message.IsPush)
            {
                owner._requests[id] = new PendingRequest(address, 0, owner._time.GetTimestamp());
            }

            if (!owner._transport.SendReliable(address, new ReliableEnvelope { RequestId = id, PushPull = message }))
            {
                owner._requests.Remove(id);
                GossipLog.BadAddress(owner._logger, address);
            }
        }

        public void SendFallbackPing(string address, uint seq, string target)
        {
            var id = owner.NextRequestId();
            owner._requests[id] = new PendingRequest(address, seq, owner._time.GetTimestamp());
            if (!owner._transport.SendReliable(address, new ReliableEnvelope { RequestId = id, PingSeq = seq, PingTarget = target }))
            {
                owner._requests.Remove(id);
            }
        }

        public void MemberChanged(MembershipChangeKind kind, MemberRecord member)
        {
            if (kind is MembershipChangeKind.Failed or MembershipChangeKind.Left)
            {
                // Its replay windows go with it: memory stays bounded by the live members, and a new
                // life of it (fresh counters anyway) is not held to the old one's.
                owner._sealer.Forget(member.Address);
            }

            owner._changes.Add(new MembershipChange(kind, View(member)));
        }
    }

    private sealed record PendingRequest(string Address, uint PingSeq, long SentAt);

    private sealed class TimerTick
    {
        public static readonly TimerTick Instance = new();
    }

    private sealed class Command(Action<SwimCore> action)
    {
        public Action<SwimCore> Action { get; } = action;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
