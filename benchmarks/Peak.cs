using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Functional.Benchmarks;

/// <summary>The machine's float64 FMA peak: independent FMA chains held in registers, in several shapes (8 lanes
/// × 12, 16 or 24 chains; 4 lanes × 12), each timed three times on one core and on every core at once; the peak is
/// the best. One shape cannot be trusted on every machine (two FMA ports need more chains in flight than one), and
/// `benchmarks/native/peak.sh` measures the same loops from C to check these figures against.</summary>
public static class Peak
{
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static double Chains(long iterations)
    {
        var x = Vector512.Create(1.0000001);
        var y = Vector512.Create(0.9999999);
        Vector512<double> a0 = Vector512.Create(0.1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, x, y); a1 = Vector512.FusedMultiplyAdd(a1, x, y);
            a2 = Vector512.FusedMultiplyAdd(a2, x, y); a3 = Vector512.FusedMultiplyAdd(a3, x, y);
            a4 = Vector512.FusedMultiplyAdd(a4, x, y); a5 = Vector512.FusedMultiplyAdd(a5, x, y);
            a6 = Vector512.FusedMultiplyAdd(a6, x, y); a7 = Vector512.FusedMultiplyAdd(a7, x, y);
            a8 = Vector512.FusedMultiplyAdd(a8, x, y); a9 = Vector512.FusedMultiplyAdd(a9, x, y);
            a10 = Vector512.FusedMultiplyAdd(a10, x, y); a11 = Vector512.FusedMultiplyAdd(a11, x, y);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static double Chains16(long iterations)
    {
        var x = Vector512.Create(1.0000001);
        var y = Vector512.Create(0.9999999);
        Vector512<double> a0 = Vector512.Create(0.1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, x, y); a1 = Vector512.FusedMultiplyAdd(a1, x, y);
            a2 = Vector512.FusedMultiplyAdd(a2, x, y); a3 = Vector512.FusedMultiplyAdd(a3, x, y);
            a4 = Vector512.FusedMultiplyAdd(a4, x, y); a5 = Vector512.FusedMultiplyAdd(a5, x, y);
            a6 = Vector512.FusedMultiplyAdd(a6, x, y); a7 = Vector512.FusedMultiplyAdd(a7, x, y);
            a8 = Vector512.FusedMultiplyAdd(a8, x, y); a9 = Vector512.FusedMultiplyAdd(a9, x, y);
            a10 = Vector512.FusedMultiplyAdd(a10, x, y); a11 = Vector512.FusedMultiplyAdd(a11, x, y);
            a12 = Vector512.FusedMultiplyAdd(a12, x, y); a13 = Vector512.FusedMultiplyAdd(a13, x, y);
            a14 = Vector512.FusedMultiplyAdd(a14, x, y); a15 = Vector512.FusedMultiplyAdd(a15, x, y);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 + a14 + a15);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static double Chains24(long iterations)
    {
        var x = Vector512.Create(1.0000001);
        var y = Vector512.Create(0.9999999);
        Vector512<double> a0 = Vector512.Create(0.1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        Vector512<double> b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0, b8 = a0, b9 = a0, b10 = a0, b11 = a0;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, x, y); a1 = Vector512.FusedMultiplyAdd(a1, x, y);
            a2 = Vector512.FusedMultiplyAdd(a2, x, y); a3 = Vector512.FusedMultiplyAdd(a3, x, y);
            a4 = Vector512.FusedMultiplyAdd(a4, x, y); a5 = Vector512.FusedMultiplyAdd(a5, x, y);
            a6 = Vector512.FusedMultiplyAdd(a6, x, y); a7 = Vector512.FusedMultiplyAdd(a7, x, y);
            a8 = Vector512.FusedMultiplyAdd(a8, x, y); a9 = Vector512.FusedMultiplyAdd(a9, x, y);
            a10 = Vector512.FusedMultiplyAdd(a10, x, y); a11 = Vector512.FusedMultiplyAdd(a11, x, y);
            b0 = Vector512.FusedMultiplyAdd(b0, x, y); b1 = Vector512.FusedMultiplyAdd(b1, x, y);
            b2 = Vector512.FusedMultiplyAdd(b2, x, y); b3 = Vector512.FusedMultiplyAdd(b3, x, y);
            b4 = Vector512.FusedMultiplyAdd(b4, x, y); b5 = Vector512.FusedMultiplyAdd(b5, x, y);
            b6 = Vector512.FusedMultiplyAdd(b6, x, y); b7 = Vector512.FusedMultiplyAdd(b7, x, y);
            b8 = Vector512.FusedMultiplyAdd(b8, x, y); b9 = Vector512.FusedMultiplyAdd(b9, x, y);
            b10 = Vector512.FusedMultiplyAdd(b10, x, y); b11 = Vector512.FusedMultiplyAdd(b11, x, y);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + b0 + b1 + b2 + b3 + b4 + b5 + b6 + b7 + b8 + b9 + b10 + b11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static double Chains256(long iterations)
    {
        var x = Vector256.Create(1.0000001);
        var y = Vector256.Create(0.9999999);
        Vector256<double> a0 = Vector256.Create(0.1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, x, y); a1 = Vector256.FusedMultiplyAdd(a1, x, y);
            a2 = Vector256.FusedMultiplyAdd(a2, x, y); a3 = Vector256.FusedMultiplyAdd(a3, x, y);
            a4 = Vector256.FusedMultiplyAdd(a4, x, y); a5 = Vector256.FusedMultiplyAdd(a5, x, y);
            a6 = Vector256.FusedMultiplyAdd(a6, x, y); a7 = Vector256.FusedMultiplyAdd(a7, x, y);
            a8 = Vector256.FusedMultiplyAdd(a8, x, y); a9 = Vector256.FusedMultiplyAdd(a9, x, y);
            a10 = Vector256.FusedMultiplyAdd(a10, x, y); a11 = Vector256.FusedMultiplyAdd(a11, x, y);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    /// <summary>Flops of one call of <see cref="Chains"/>.</summary>
    public static double Flops(long iterations) => iterations * 12.0 * 8 * 2;

    /// <summary>Each shape: its name, the loop, and its flops per iteration.</summary>
    public static IReadOnlyList<(string Name, Func<long, double> Run, double FlopsPerIteration)> Shapes()
    {
        var shapes = new List<(string, Func<long, double>, double)>();
        if (Vector512.IsHardwareAccelerated)
        {
            shapes.Add(("8 lanes × 12 chains", Chains, 12 * 8 * 2));
            shapes.Add(("8 lanes × 16 chains", Chains16, 16 * 8 * 2));
            shapes.Add(("8 lanes × 24 chains", Chains24, 24 * 8 * 2));
        }
        if (Vector256.IsHardwareAccelerated) shapes.Add(("4 lanes × 12 chains", Chains256, 12 * 4 * 2));
        return shapes;
    }

    /// <summary>GFLOP/s of one shape on `threads` threads started together (best of three).</summary>
    private static double Rate(Func<long, double> run, double flopsPerIteration, int threads, long iterations)
    {
        double best = 0;
        for (int round = 0; round < 3; round++)
        {
            using var start = new Barrier(threads + 1);
            var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() => { start.SignalAndWait(); run(iterations); })).ToArray();
            foreach (var w in workers) w.Start();
            start.SignalAndWait();
            var sw = Stopwatch.StartNew();
            foreach (var w in workers) w.Join();
            best = Math.Max(best, threads * flopsPerIteration * iterations / sw.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>Measured GFLOP/s on one core and on every core (the best shape of each), and every shape's figures.</summary>
    public static (double One, double All, string Detail) Measure()
    {
        const long iters = 50_000_000;
        int cores = Environment.ProcessorCount;
        double one = 0, all = 0;
        var detail = new System.Text.StringBuilder();
        foreach (var (name, run, flops) in Shapes())
        {
            run(1000);
            double o = Rate(run, flops, 1, iters), a = Rate(run, flops, cores, iters);
            detail.AppendLine($"  {name}: {o:F1} GFLOP/s on one core, {a:F1} on {cores}");
            (one, all) = (Math.Max(one, o), Math.Max(all, a));
        }
        return (one, all, detail.ToString());
    }
}
