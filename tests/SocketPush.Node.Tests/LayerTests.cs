using System.Reflection;
using NetArchTest.Rules;
using SocketPush.Node.Hosting;

namespace SocketPush.Node.Tests;

/// <summary>
/// The node's folders are its layers, and some references between them must never exist (docs/architecture.md):
/// each rule here fails, naming the types, the day one appears.
/// </summary>
[Collection(FuzzCollection.Name)]
public sealed class LayerTests
{
    private const string Node = "SocketPush.Node";
    private const string Owner = Node + ".Owner";
    private const string Edge = Node + ".Edge";
    private const string Cluster = Node + ".Cluster";
    private const string Configuration = Node + ".Configuration";
    private const string Admin = Node + ".Admin";
    private const string Hosting = Node + ".Hosting";
    private const string CommandLine = Node + ".CommandLine";

    private static readonly Assembly NodeAssembly = typeof(NodeHost).Assembly;

    /// <summary>The node's types, read once for every rule (reading an assembly's IL is the slow part).</summary>
    private static readonly Lazy<Types> NodeTypes = new(() => Types.InAssembly(NodeAssembly));

    public static TheoryData<string, string> ForbiddenReferences => new()
    {
        // The owner keeps records and decides who receives what; how clients are connected and how the node is
        // operated are not its business.
        { Owner, Edge },
        { Owner, Admin },
        // The edge delivers what it is handed and asks routing for what it needs from owners; it never reads records.
        { Edge, Owner },
        { Edge, Admin },
        // The cluster moves records and calls between nodes: it knows no HTTP, and reaches this node's connections
        // only through the delivery seam (Cluster/Delivery), which the edge implements.
        { Cluster, "Microsoft.AspNetCore" },
        { Cluster, Edge },
        { Cluster, Admin },
        // Configuration is read by every layer and reads none of them.
        { Configuration, Owner },
        { Configuration, Edge },
        { Configuration, Cluster },
        { Configuration, Admin },
        // Hosting composes the others; nothing depends on it.
        { Owner, Hosting },
        { Edge, Hosting },
        { Cluster, Hosting },
        { Configuration, Hosting },
        { Admin, Hosting },
        // The command line starts the node (or a tool) and exits; nothing depends on it.
        { Owner, CommandLine },
        { Edge, CommandLine },
        { Cluster, CommandLine },
        { Configuration, CommandLine },
        { Admin, CommandLine },
        { Hosting, CommandLine },
    };

    [Theory]
    [MemberData(nameof(ForbiddenReferences))]
    public void A_layer_does_not_reference_another_it_must_not_know(string layer, string forbidden)
    {
        var result = NodeTypes.Value
            .That().ResideInNamespace(layer)
            .ShouldNot().HaveDependencyOn(forbidden)
            .GetResult();
        Assert.True(result.IsSuccessful, $"{layer} must not use {forbidden}, but these types do: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }

    [Fact]
    public void Every_type_of_the_node_lives_in_one_of_its_layers_or_in_the_root_which_uses_none()
    {
        string[] layers = [Owner, Edge, Cluster, Configuration, Admin, Hosting, CommandLine, Node + ".Generators"];
        var outside = NodeAssembly.GetTypes()
            .Where(t => t.Namespace is { } ns && ns.StartsWith(Node + ".", StringComparison.Ordinal) && !layers.Any(l => ns == l || ns.StartsWith(l + ".", StringComparison.Ordinal)))
            .Select(t => t.FullName);
        Assert.Empty(outside);

        // The root namespace holds what every layer may use (MetricLabels); it must not become a way around the rules.
        foreach (var layer in layers)
        {
            var result = NodeTypes.Value.That().ResideInNamespaceMatching("^SocketPush\\.Node$").ShouldNot().HaveDependencyOn(layer).GetResult();
            Assert.True(result.IsSuccessful, $"the root namespace must not use {layer}, but these types do: {string.Join(", ", result.FailingTypeNames ?? [])}");
        }
    }

    [Theory]
    [InlineData(typeof(SocketPush.Gossip.Membership))]
    [InlineData(typeof(SocketPush.ConsistentHashing.HashRing))]
    public void The_libraries_know_nothing_of_users_sessions_channels_or_the_node(Type library)
    {
        var result = Types.InAssembly(library.Assembly).ShouldNot().HaveDependencyOn(Node).GetResult();
        Assert.True(result.IsSuccessful, $"{library.Assembly.GetName().Name} uses the node: {string.Join(", ", result.FailingTypeNames ?? [])}");

        // Member metadata is opaque bytes to gossip: no name of the library speaks of what the node puts in it.
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        string[] words = ["User", "Session", "Subscri", "Url"];
        var names = library.Assembly.GetTypes()
            .SelectMany(t => t.GetMembers(all).Select(m => $"{t.Name}.{m.Name}").Append(t.Name))
            .Where(name => words.Any(w => name.Contains(w, StringComparison.OrdinalIgnoreCase)));
        Assert.Empty(names);
    }
}
