using System.Diagnostics;
using System.Globalization;
using SocketPush.ConsistentHashing;

namespace SocketPush.Bench.Ring;

/// <summary>
/// The <c>ring</c> command: balance and movement of the default ring over 1,000,000 keys, printed as
/// one JSON object on stdout; the goal checks go to stderr and set the exit code (0 all met, 2 not).
/// Options: <c>--vnodes n</c>, <c>--keys n</c>, <c>--replicas n</c> (with n &gt; 1, balance counts key
/// replicas per node and movement counts (key, replica) pairs).
/// </summary>
internal static class RingReport
{
    private static readonly int[] BalanceSizes = [3, 10, 30, 100];
    private const int MovementNodes = 10;
    private const double BalanceGoal = 1.10;
    private const double MovementTolerance = 0.10;

    public static int Run(string[] args, TextWriter output, TextWriter log)
    {
        var options = new HashRingOptions();
        int keyCount = 1_000_000;
        int replicas = 1;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--vnodes" when i + 1 < args.Length:
                    options.VirtualNodesPerNode = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--keys" when i + 1 < args.Length:
                    keyCount = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--replicas" when i + 1 < args.Length:
                    replicas = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                default:
                    log.WriteLine($"unknown argument '{args[i]}'; usage: ring [--vnodes n] [--keys n] [--replicas n]");
                    return 1;
            }
        }

        var errors = HashRingOptionsValidator.Validate(options);
        if (errors.Count > 0 || keyCount < 1 || replicas < 1)
        {
            log.WriteLine(string.Join(" ", errors.Append("--keys and --replicas must be at least 1.")));
            return 1;
        }

        var clock = Stopwatch.StartNew();
        var keys = RingWorkload.KeyPositions(keyCount);
        bool met = true;

        var balance = new List<(int Nodes, double MaxOverMean)>();
        foreach (int size in BalanceSizes)
        {
            var ring = HashRing.Create(RingWorkload.NodeIds(size), options);
            double ratio = RingWorkload.MaxOverMean(RingWorkload.Load(ring, keys, replicas));
            balance.Add((size, ratio));
            met &= Check(log, $"balance at {size} nodes: max/mean {ratio:F4} <= {BalanceGoal}", ratio <= BalanceGoal);
        }

        var ten = HashRing.Create(RingWorkload.NodeIds(MovementNodes), options);
        var joined = HashRing.Create(RingWorkload.NodeIds(MovementNodes + 1), options);
        var left = HashRing.Create(RingWorkload.NodeIds(MovementNodes - 1), options);
        string newcomer = $"node-{MovementNodes + 1}";
        string leaver = $"node-{MovementNodes}";

        var join = Movement(ten, joined, keys, replicas);
        double joinIdeal = 1.0 / (MovementNodes + 1);
        met &= Check(log, $"join {MovementNodes}->{MovementNodes + 1}: moved {join.Fraction:F4}, ideal {joinIdeal:F4}, within {MovementTolerance:P0}", Math.Abs(join.Fraction / joinIdeal - 1) <= MovementTolerance);
        met &= Check(log, $"join: every moved replica went to {newcomer} ({join.Gained.Count} distinct gainers)", join.Gained.SetEquals([newcomer]));

        var leave = Movement(ten, left, keys, replicas);
        double leaveIdeal = 1.0 / MovementNodes;
        met &= Check(log, $"leave {MovementNodes}->{MovementNodes - 1}: moved {leave.Fraction:F4}, ideal {leaveIdeal:F4}, within {MovementTolerance:P0}", Math.Abs(leave.Fraction / leaveIdeal - 1) <= MovementTolerance);
        met &= Check(log, $"leave: only replicas held by {leaver} moved ({leave.Lost.Count} distinct losers)", leave.Lost.SetEquals([leaver]));
        log.WriteLine($"{keyCount} keys, replicas {replicas}, {clock.Elapsed.TotalSeconds:F1} s; goals {(met ? "met" : "NOT met")}");

        var invariant = CultureInfo.InvariantCulture;
        string balanceJson = string.Join(", ", balance.Select(b => string.Create(invariant, $"\"{b.Nodes}\": {Math.Round(b.MaxOverMean, 4)}")));
        output.WriteLine(string.Create(invariant,
            $"{{\"vnodes\": {options.VirtualNodesPerNode}, \"balance\": {{{balanceJson}}}, " +
            $"\"movedOnJoin\": {{\"nodes\": {MovementNodes}, \"fraction\": {Math.Round(join.Fraction, 4)}, \"ideal\": {Math.Round(joinIdeal, 4)}}}, " +
            $"\"movedOnLeave\": {{\"nodes\": {MovementNodes}, \"fraction\": {Math.Round(leave.Fraction, 4)}, \"ideal\": {Math.Round(leaveIdeal, 4)}}}}}"));
        return met ? 0 : 2;
    }

    /// <summary>
    /// The fraction of (key, replica) pairs that changed node, with the nodes that gained a pair and the
    /// nodes that lost one.
    /// </summary>
    private static (double Fraction, HashSet<string> Gained, HashSet<string> Lost) Movement(HashRing before, HashRing after, uint[] keys, int replicas)
    {
        var gained = new HashSet<string>(StringComparer.Ordinal);
        var lost = new HashSet<string>(StringComparer.Ordinal);
        var old = new string[replicas];
        var now = new string[replicas];
        long moved = 0;
        long pairs = 0;
        foreach (uint key in keys)
        {
            int oldCount = before.PreferenceListAt(key, old);
            int newCount = after.PreferenceListAt(key, now);
            pairs += oldCount;
            for (int i = 0; i < newCount; i++)
            {
                if (Array.IndexOf(old, now[i], 0, oldCount) < 0)
                {
                    moved++;
                    gained.Add(now[i]);
                }
            }

            for (int i = 0; i < oldCount; i++)
            {
                if (Array.IndexOf(now, old[i], 0, newCount) < 0)
                {
                    lost.Add(old[i]);
                }
            }
        }

        return ((double)moved / pairs, gained, lost);
    }

    private static bool Check(TextWriter log, string what, bool ok)
    {
        log.WriteLine($"{(ok ? "ok  " : "FAIL")} {what}");
        return ok;
    }
}
