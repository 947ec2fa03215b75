using System.Collections.Immutable;
using SocketPush.Node.Admin;

namespace SocketPush.Node.Client;

/// <summary>
/// Hands one message to the local connections of one or many users. Nothing here waits for the network and
/// nothing is allocated per connection: each connection takes the message (serialized once for all of them)
/// or refuses it as a slow consumer.
/// </summary>
internal sealed class MessageDelivery(ConnectionRegistry registry, NodeMetrics metrics, TimeProvider time)
{
    /// <summary>Returns how many connections of the user took the message.</summary>
    public int ToUser(PushMessage message, string userId)
    {
        var counts = default(Counts);
        counts.Add(message, registry.ConnectionsOf(userId));
        return Finish(message, counts);
    }

    /// <summary>Returns how many connections of the users took the message.</summary>
    public int ToUsers(PushMessage message, ImmutableHashSet<string> userIds)
    {
        var counts = default(Counts);
        foreach (var userId in userIds)
        {
            counts.Add(message, registry.ConnectionsOf(userId));
        }

        return Finish(message, counts);
    }

    private int Finish(PushMessage message, Counts counts)
    {
        // Queued messages are counted by their connection when they reach the socket.
        metrics.Delivered(message.Kind, counts.Written, time.GetElapsedTime(message.PublishedTimestamp));
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
