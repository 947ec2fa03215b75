using System.Collections.Concurrent;
using SocketPush.Client.Services;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Client;

/// <summary>
/// socket-push's removeUserAfterDisconnectTimeout: a user whose last connection closed and who does not come
/// back within the timeout is unsubscribed from every channel. A reconnect within the timeout cancels it.
/// </summary>
internal sealed class OfflineUserCleanup : IDisposable
{
    private readonly ConcurrentDictionary<string, ITimer> _pending = new(StringComparer.Ordinal);
    private readonly ConnectionRegistry _registry;
    private readonly IChannelService _channels;
    private readonly LiveConfig _config;
    private readonly TimeProvider _time;
    private readonly ILogger<OfflineUserCleanup> _logger;

    public OfflineUserCleanup(ConnectionRegistry registry, IChannelService channels, LiveConfig config, TimeProvider time, ILogger<OfflineUserCleanup> logger)
    {
        _registry = registry;
        _channels = channels;
        _config = config;
        _time = time;
        _logger = logger;
        registry.UserOnline += Cancel;
        registry.UserOffline += Schedule;
    }

    public void Dispose()
    {
        _registry.UserOnline -= Cancel;
        _registry.UserOffline -= Schedule;
        foreach (var userId in _pending.Keys)
        {
            Cancel(userId);
        }
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
        if (_registry.IsOnline(userId))
        {
            return;
        }

        try
        {
            await _channels.UnsubscribeAllAsync(userId);
            ClientLog.OfflineUserUnsubscribed(_logger, userId, timeout);
        }
        catch (ServiceException e)
        {
            ClientLog.OfflineCleanupFailed(_logger, e, userId);
        }
    }
}
