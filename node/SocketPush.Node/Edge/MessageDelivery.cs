using System.Buffers;
using System.Collections.Immutable;

namespace SocketPush.Node.Edge;

/// <summary>
/// Hands one message to the local connections of one or many users. Nothing here waits for the network and
/// nothing is allocated per connection: each connection takes the message (serialized once for all of them)
/// or refuses it as a slow consumer.
/// </summary>
internal sealed class MessageDelivery(ConnectionRegistry registry, EdgeMetrics metrics, TimeProvider time)
{
    /// <summary>Returns how many connections of the user took the message.</summary>
    public int ToUser(PushMessage message, string userId)
    {
        var counts = default(Counts);
        counts.Add(message, registry.ConnectionsOf(userId));
        return Finish(message, counts);
    }

    /// <summary>
    /// Users per share of a large fan-out. Each delivery is one <c>send</c> costing microseconds, so a share of
    /// this size is worth handing to another thread; smaller audiences go out on the caller's thread alone.
    /// </summary>
    internal const int UsersPerShare = 512;

    /// <summary>Returns how many connections of the users took the message.</summary>
    public int ToUsers(PushMessage message, IReadOnlyCollection<string> userIds)
    {
        var shares = userIds.Count / UsersPerShare;
        var threads = Math.Min(Environment.ProcessorCount, shares);
        if (threads < 2)
        {
            var counts = default(Counts);
            foreach (var userId in userIds)
            {
                counts.Add(message, registry.ConnectionsOf(userId));
            }

            return Finish(message, counts);
        }

        // A large audience is split across the cores: the last subscriber waits for a fraction of the walk. Shares
        // are smaller than one per core, so a thread that loses its core for a while leaves its remaining shares
        // to the others instead of holding back the tail.
        var users = ArrayPool<string>.Shared.Rent(userIds.Count);
        try
        {
            var count = 0;
            foreach (var userId in userIds)
            {
                users[count++] = userId;
            }

            var total = default(Counts);
            Parallel.For(0, shares, new ParallelOptions { MaxDegreeOfParallelism = threads }, share =>
            {
                var counts = default(Counts);
                for (var i = share * count / shares; i < (share + 1) * count / shares; i++)
                {
                    counts.Add(message, registry.ConnectionsOf(users[i]));
                }

                Interlocked.Add(ref total.Taken, counts.Taken);
                Interlocked.Add(ref total.Written, counts.Written);
            });
            return Finish(message, total);
        }
        finally
        {
            ArrayPool<string>.Shared.Return(users, clearArray: true);
        }
    }

    private int Finish(PushMessage message, Counts counts)
    {
        // Queued messages are counted by their connection when they reach the socket.
        metrics.Delivered(message, counts.Written, time);
        return counts.Taken;
    }

    private struct Counts
    {
        public int Taken;
        public int Written;

        public void Add(PushMessage message, ImmutableArray<ClientConnection> connections)
        {
            foreach (var connection in connections)
            {
                switch (connection.TrySend(message))
                {
                    case SendResult.Written:
                        Written++;
                        Taken++;
                        break;
                    case SendResult.Queued:
                        Taken++;
                        break;
                }
            }
        }
    }
}
