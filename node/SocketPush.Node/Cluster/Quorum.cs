namespace SocketPush.Node.Cluster;

/// <summary>Waiting for a write quorum: the copies of a write under way, each answering whether its replica took it.</summary>
internal static class Quorum
{
    /// <summary>How many copies acknowledged: as soon as <paramref name="needed"/> did, or once every copy answered.</summary>
    public static async Task<int> AcknowledgedAsync(IReadOnlyCollection<Task<bool>> copies, int needed)
    {
        var acknowledged = 0;
        var pending = copies.ToList();
        while (pending.Count > 0)
        {
            var done = await Task.WhenAny(pending).ConfigureAwait(false);
            pending.Remove(done);
            if (await done.ConfigureAwait(false) && ++acknowledged >= needed)
            {
                break;
            }
        }

        return acknowledged;
    }
}
