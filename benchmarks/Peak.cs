using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Functional.Benchmarks;

/// <summary>The machine's float64 FMA peak: 12 independent Vector512 FMA chains, all in registers.</summary>
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
        var s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
        return Vector512.Sum(s);
    }

    /// <summary>Flops of one call of <see cref="Chains"/>.</summary>
    public static double Flops(long iterations) => iterations * 12.0 * 8 * 2;

    /// <summary>Measured GFLOP/s on one core and on every core.</summary>
    public static (double One, double All) Measure()
    {
        const long iters = 50_000_000;
        Chains(1000);
        var sw = Stopwatch.StartNew();
        Chains(iters);
        double one = Flops(iters) / sw.Elapsed.TotalSeconds / 1e9;
        int cores = Environment.ProcessorCount;
        sw.Restart();
        Parallel.For(0, cores, _ => Chains(iters));
        double all = cores * Flops(iters) / sw.Elapsed.TotalSeconds / 1e9;
        return (one, all);
    }
}
