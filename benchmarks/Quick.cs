using System.Diagnostics;
using Core = Functional.Core;

namespace Functional.Benchmarks;

/// <summary>The bodies of Program.cs's stopwatch modes, for development and for figures measured in one process
/// (the BenchmarkDotNet classes are under Areas/). This part: the timing helpers the modes share.</summary>
public static partial class Quick
{
    static double Time(Action f, int reps)
    {
        // Warm for a second at least: a fresh process runs its first tens of thousands of small calls before the
        // JIT's optimised code is in place (benchmarks/warmup.sh), and the first workload timed would pay for it.
        var warm = Stopwatch.StartNew();
        for (int i = 0; i < Math.Max(3, reps / 10) || warm.Elapsed.TotalSeconds < 1; i++) f();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < reps; i++) f();
        return sw.Elapsed.TotalSeconds / reps;
    }

    internal static double Median(IEnumerable<double> xs)
    {
        var a = xs.Order().ToArray();
        return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
    }

    /// <summary><see cref="PerCall"/> after the garbage of whatever ran before is collected and finalised: a plain
    /// call's large results otherwise leave the background GC working through the next measurement, and
    /// TorchSharp's undisposed tensors free their memory on the finalizer thread.</summary>
    internal static double Settled(Action f, int warmups)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Quiet();
        return PerCall(f, warmups);
    }

    /// <summary>Waits until our kernel workers have stopped spinning after the last job (they spin for
    /// <c>Tuning.SpinMs</c> before they sleep): on two cores a spinning worker takes half the machine from whatever
    /// is timed next, TorchSharp included.</summary>
    internal static void Quiet() => Thread.Sleep(TimeSpan.FromMilliseconds(Functional.Kernels.Tuning.SpinMs + 5));

    /// <summary>Seconds per call: `warmups` calls, then as many as fit in about a second.</summary>
    internal static double PerCall(Action f, int warmups)
    {
        for (int i = 0; i < warmups; i++) f();
        var sw = Stopwatch.StartNew();
        long calls = 0;
        while (sw.Elapsed.TotalSeconds < 1) { f(); calls++; }
        return sw.Elapsed.TotalSeconds / calls;
    }

    /// <summary>Runs `body` for `seconds` and prints its mean time (for perf record).</summary>
    public static void Loop(Action body, double seconds)
    {
        var sw = Stopwatch.StartNew();
        long n = 0;
        while (sw.Elapsed.TotalSeconds < seconds) { body(); n++; }
        Console.WriteLine($"{sw.Elapsed.TotalMilliseconds / n:F2} ms");
    }

    /// <summary>An end-to-end step, ours plain and in a scope and TorchSharp's, alternating over two rounds (in ms),
    /// after both sides' values for one call.</summary>
    private static void EndToEnd(string label, Func<object> ours, Func<double> scoped, Func<double> theirs)
    {
        Console.WriteLine($"loss + first gradient element: ours {scoped():R}, TorchSharp {theirs():R}");
        double Ms(Action a) => PerCall(a, 10) * 1e3;
        for (int round = 0; round < 2; round++)
        {
            double o = Ms(() => ours()), sc = Ms(() => scoped()), t = Ms(() => theirs());
            Console.WriteLine($"{label}: ours {o:F2} ms, in a scope {sc:F2} ms, TorchSharp {t:F2} ms, ratios {t / o:F2}x / {t / sc:F2}x");
        }
    }
}
