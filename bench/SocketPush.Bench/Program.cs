using BenchmarkDotNet.Running;
using SocketPush.Bench.Ring;

// Measurement commands run directly; anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "ring")
{
    return RingReport.Run(args[1..], Console.Out, Console.Error);
}

if (args.Length > 0 && args[0] == "ring-sweep")
{
    return RingSweep.Run(args[1..], Console.Out);
}

if (args.Length > 0 && args[0] == "ring-techniques")
{
    return RingTechniques.Run(args[1..], Console.Out);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
