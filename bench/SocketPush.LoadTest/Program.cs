using System.Text.Json;
using SocketPush.LoadTest;
using SocketPush.LoadTest.Systems;
using SocketPush.LoadTest.Workers;
using SocketPush.Testing;

if (args.Length > 0 && args[0] == "worker")
{
    return await WorkerHost.RunAsync();
}

if (args.Length > 0 && args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine(RunOptions.Usage);
    return 0;
}

if (args.Length > 0 && args[0] == "report")
{
    if (args.Length != 4)
    {
        Console.Error.WriteLine(RunOptions.Usage);
        return 2;
    }

    var saved = JsonSerializer.Deserialize<ResultsFile>(File.ReadAllText(args[1]), ResultsFile.JsonOptions)
        ?? throw new InvalidDataException("empty results file");
    Report.WriteAll(saved, args[2], args[3]);
    return 0;
}

RunOptions options;
try
{
    options = RunOptions.Parse(args.Length > 0 && args[0] == "run" ? args[1..] : args);
}
catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(RunOptions.Usage);
    return 2;
}

options.CommandLine = Environment.GetEnvironmentVariable("SOCKETPUSH_BENCH_COMMAND") is { Length: > 0 } given
    ? given
    : "SocketPush.LoadTest " + string.Join(' ', args);
var log = new ProgressLog();
using var certificate = options.Tls ? TestCertificate.Create("socketpush-bench") : null;
if (options.MessageBytes is { } bytes)
{
    BenchMessage.PadTo(bytes);
}

var socketPush = new SocketPushSystem(
    options.ResolvedNodeDll, options.NodeEnvironment, await SocketPushSystem.DescribeVersionAsync(options.Repository), certificate, options.MaxQueued, options.SendBuffer);
var systems = new List<ISystemUnderTest>();
// The cluster set compares the cluster with one node: both take part whatever --systems says.
IEnumerable<string> names = options.ScenarioNames.Contains(Scenarios.Cluster)
    ? options.Systems.Union([SystemNames.SocketPush, SystemNames.SocketPushCluster])
    : options.Systems;
foreach (var name in names)
{
    systems.Add(name switch
    {
        SystemNames.SocketPush => socketPush,
        SystemNames.SocketPushCluster => new SocketPushClusterSystem(socketPush),
        SystemNames.SocketIo => new SocketIoSystem(Path.Combine(options.Repository, "bench", "peers", "socketio")),
        _ => new NchanSystem(Path.Combine(options.Repository, "bench", "peers", "nchan"), options.NchanWorkers, NchanVersion.Describe()),
    });
}

var coordinator = new Coordinator(options, log);
var outDir = options.ResolvedOutputDirectory;
var results = await coordinator.RunAsync(systems, partial => Report.WriteAll(partial, outDir, options.ResultName));
Report.WriteAll(results, outDir, options.ResultName);
log.Line($"results: {Path.Combine(outDir, options.ResultName)}.md, .json{(results.Runs.Count > 0 && results.History is null ? ", .png" : "")}");
var statuses = results.Runs.Select(r => r.Status)
    .Concat(results.Replicas?.WriteLatency.Select(w => w.Status) ?? [])
    .Concat(results.Replicas?.Handoff is { } handoff ? [handoff.Status] : [])
    .Concat(results.PeerPath?.Delivery.Select(d => d.Status) ?? [])
    .Concat(results.PeerPath?.Handoff.Select(h => h.Handoff.Status) ?? [])
    .Concat(results.PeerPath?.AntiEntropy.Select(a => a.Status) ?? [])
    .Concat(results.History?.Failovers.Select(f => f.Status) ?? []);
return statuses.All(s => s.StartsWith("ok", StringComparison.Ordinal)) ? 0 : 1;
