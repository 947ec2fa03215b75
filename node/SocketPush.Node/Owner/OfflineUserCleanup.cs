using System.Collections.Concurrent;
using SocketPush.Client.Services;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Owner;

/// <summary>
/// socket-push's removeUserAfterDisconnectTimeout: a user whose last connection closed and who does not come
/// back within the timeout is unsubscribed from every channel. A reconnect within the timeout cancels it. It runs on
/// the owner of the user, from presence, so a connection on any node counts.
/// </summary>
internal sealed class OfflineUserCleanup : IHostedService
{
    private readonly ConcurrentDictionary<string, ITimer> _pending = new(StringComparer.Ordinal);
    private readonly PresenceTable _presence;
    private readonly IChannelService _channels;
    private readonly LiveConfig _config;
    private readonly TimeProvider _time;
    private readonly ILogger<OfflineUserCleanup> _logger;

    public OfflineUserCleanup(PresenceTable presence, IChannelService channels, LiveConfig config, TimeProvider time, ILogger<OfflineUserCleanup> logger)
    {
        _presence = presence;
        _channels = channels;
        _config = config;
        _time = time;
        _logger = logger;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _presence.UserOnline += Cancel;
        _presence.UserOffline += Schedule;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _presence.UserOnline -= Cancel;
        _presence.UserOffline -= Schedule;
        foreach (var userId in _pending.Keys)
        {
            Cancel(userId);
        }

        return Task.CompletedTask;
    }

    private void Schedule(string userId)
    {
        var timeout = _config.Options.RemoveUserAfterDisconnectTimeout;
        if (timeout == TimeSpan.Zero)
        {
            return;
        }

        var timer = _time.CreateTimer(_ => _ = ExpireAsync(userId, timeout), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        if (_pending.TryAdd(userId, timer))
        {
            timer.Change(timeout, Timeout.InfiniteTimeSpan);
        }
        else
        {
            timer.Dispose();
        }
    }

    private void Cancel(string userId)
    {
        if (_pending.TryRemove(userId, out var timer))
        {
            timer.Dispose();
        }
    }

    private async Task ExpireAsync(string userId, TimeSpan timeout)
    {
        if (!_pending.TryRemove(userId, out var timer))
        {
            return;
        }

        timer.Dispose();
        if (_presence.IsOnline(userId))
        {
            return;
        }

        _presence.Forget(userId);

        try
        {
            await _channels.UnsubscribeAllAsync(userId);
            OwnerLog.OfflineUserUnsubscribed(_logger, userId, timeout);
        }
        catch (ServiceException e)
        {
            OwnerLog.OfflineCleanupFailed(_logger, e, userId);
        }
    }
}
