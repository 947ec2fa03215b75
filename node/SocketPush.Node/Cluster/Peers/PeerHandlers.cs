using SocketPush.Node.Cluster.ConfigLayer;
using SocketPush.Node.Cluster.Delivery;
using SocketPush.Node.Cluster.Routing;
using SocketPush.Node.Owner;
using SocketPush.Node.Owner.History;

namespace SocketPush.Node.Cluster.Peers;

/// <summary>
/// What a peer request runs against on the node that serves it: the owner side of the services, the records, the
/// fan-out and the node's own connections. Resolved when first used: the owners reach other nodes through routing,
/// which serves requests through these.
/// </summary>
internal sealed class PeerHandlers(IServiceProvider services)
{
    public AuthService Auth => services.GetRequiredService<AuthService>();

    public UserService Users => services.GetRequiredService<UserService>();

    public ChannelService Channels => services.GetRequiredService<ChannelService>();

    public RecordService Records => services.GetRequiredService<RecordService>();

    public HistoryStore History => services.GetRequiredService<HistoryStore>();

    public OwnerStreams Streams => services.GetRequiredService<OwnerStreams>();

    public AntiEntropy AntiEntropy => services.GetRequiredService<AntiEntropy>();

    public OwnerFanOut FanOut => services.GetRequiredService<OwnerFanOut>();

    public ILocalConnections Connections => services.GetRequiredService<ILocalConnections>();

    public ConfigLayerStore ConfigLayer => services.GetRequiredService<ConfigLayerStore>();
}
