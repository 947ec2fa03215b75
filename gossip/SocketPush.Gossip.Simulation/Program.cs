using SocketPush.Gossip.Simulation;

var options = SimulationOptions.Parse(args, out var error);
if (options is null)
{
    Console.Error.WriteLine(error);
    Console.Error.WriteLine(SimulationOptions.Usage);
    return 2;
}

var report = new Simulation(options).Run();
Console.Out.WriteLine(report.ToJson());
return 0;
