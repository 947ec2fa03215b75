using System.Text.Json;
using SocketPush.Client.Services;

namespace SocketPush.Node.Tests;

/// <summary>
/// A service that exists only in the tests, with the parameter kinds the real interfaces do not all have yet: an
/// optional string, an optional int?, a required int and an optional int with a non-null default. Shared (linked)
/// by SocketPush.Node.Tests and SocketPush.Client.Tests, so that the node side and the clients are tested against
/// the same declaration and the same <c>/api</c> text.
/// </summary>
[Service("sample", "A test-only service with optional and integer parameters.")]
public interface ISampleService
{
    [Method("Returns a channel's messages after since, at most limit of them.")]
    Task<JsonElement> HistoryAsync(string channelId, string? since = null, int? limit = null, CancellationToken cancellationToken = default);

    [Method("Returns count times factor.")]
    Task<int> ScaleAsync(int count, int factor = 2, CancellationToken cancellationToken = default);
}

/// <summary>What the tests expect of <see cref="ISampleService"/> on the wire.</summary>
public static class SampleService
{
    /// <summary>
    /// Its <c>GET /api</c> description, as the node writes it: <c>optional</c> appears only on optional parameters.
    /// The node's tests check that the node writes exactly this; the PHP tests generate a client from it.
    /// </summary>
    public const string Description =
        """
        {"sample": {
          "history": {
            "params": [
              {"name": "channelId", "type": "string"},
              {"name": "since", "type": "string", "optional": true},
              {"name": "limit", "type": "integer", "optional": true}],
            "description": "Returns a channel's messages after since, at most limit of them.",
            "result": "object"},
          "scale": {
            "params": [
              {"name": "count", "type": "integer"},
              {"name": "factor", "type": "integer", "optional": true}],
            "description": "Returns count times factor.",
            "result": "integer"}}}
        """;

    /// <summary>A catalog of just this service.</summary>
    public static ServiceCatalog Catalog { get; } = ServiceCatalog.Build(typeof(ISampleService));

    /// <summary>The descriptor of sample.{method}.</summary>
    public static MethodDescriptor Method(string name) =>
        Catalog.TryFind("sample", name, out _, out var method) ? method! : throw new ArgumentException($"sample has no method {name}.", nameof(name));
}
