using System.Diagnostics;
using SocketPush.Gossip.Simulation;

var options = SimulationOptions.Parse(args, out var error);
if (options is null)
{
    Console.Error.WriteLine(error);
    Console.Error.WriteLine(SimulationOptions.Usage);
    return 2;
}

// Thousands of member tables make a multi-gigabyte heap that every young collection has to scan for
// old-to-young references; a 256 MB first-generation budget cuts those collections by half. The
// runtime reads that budget only from the environment at startup, so set it and run again.
const string Gen0Budget = "DOTNET_GCgen0size";
if (options.Nodes >= 2000 && Environment.GetEnvironmentVariable(Gen0Budget) is null && Environment.ProcessPath is { } host)
{
    var start = new ProcessStartInfo(host) { UseShellExecute = false };
    var commandLine = Environment.GetCommandLineArgs();
    if (Path.GetFileNameWithoutExtension(host) == "dotnet")
    {
        start.ArgumentList.Add(commandLine[0]);
    }

    foreach (var arg in args)
    {
        start.ArgumentList.Add(arg);
    }

    start.Environment[Gen0Budget] = "0x10000000";
    using var child = Process.Start(start)!;
    child.WaitForExit();
    return child.ExitCode;
}

var report = new Simulation(options).Run();
Console.Out.WriteLine(report.ToJson());
return 0;
