using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Threading;

namespace Functional.Kernels;

/// <summary>The machine's float64 FMA peak: independent FMA chains held in registers, in several shapes (8 lanes
/// × 12, 16 or 24 chains; 4 lanes × 12), each timed three times on one core and on every core at once; the peak is
/// the best. One shape cannot be trusted on every machine (two FMA ports need more chains in flight than one), and
/// `benchmarks/native/peak.sh` measures the same loops from C to check these figures against. The benchmarks and
/// the machine report's measurement (<c>Machine.measure</c>) share it.</summary>
internal static class Peak
{
    /// <summary>The vector operations a chain loop needs, for one width: a struct per width, so that the JIT
    /// compiles each loop for its width with every chain in a register.</summary>
    private interface ILanes<V>
    {
        static abstract V Create(double value);
        static abstract V Fma(V a, V b, V c);
        static abstract V Add(V a, V b);
        static abstract double Sum(V v);
    }

    private struct Lanes8 : ILanes<Vector512<double>>
    {
        public static Vector512<double> Create(double value) => Vector512.Create(value);
        public static Vector512<double> Fma(Vector512<double> a, Vector512<double> b, Vector512<double> c) => Vector512.FusedMultiplyAdd(a, b, c);
        public static Vector512<double> Add(Vector512<double> a, Vector512<double> b) => a + b;
        public static double Sum(Vector512<double> v) => Vector512.Sum(v);
    }

    private struct Lanes4 : ILanes<Vector256<double>>
    {
        public static Vector256<double> Create(double value) => Vector256.Create(value);
        public static Vector256<double> Fma(Vector256<double> a, Vector256<double> b, Vector256<double> c) => Vector256.FusedMultiplyAdd(a, b, c);
        public static Vector256<double> Add(Vector256<double> a, Vector256<double> b) => a + b;
        public static double Sum(Vector256<double> v) => Vector256.Sum(v);
    }

    /// <summary>One double at a time, a multiply and an add (what scalar code runs where no vector unit is used,
    /// e.g. under <c>DOTNET_EnableHWIntrinsic=0</c>; a fused multiply-add would be a library call there).</summary>
    private struct Lanes1 : ILanes<double>
    {
        public static double Create(double value) => value;
        public static double Fma(double a, double b, double c) => a * b + c;
        public static double Add(double a, double b) => a + b;
        public static double Sum(double v) => v;
    }

    /// <summary>12 chains of 8 lanes (the BenchmarkDotNet peak's loop).</summary>
    public static double Chains(long iterations) => Chains12<Lanes8, Vector512<double>>(iterations);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static double Chains12<L, V>(long iterations) where L : struct, ILanes<V> where V : struct
    {
        V x = L.Create(1.0000001), y = L.Create(0.9999999);
        V a0 = L.Create(0.1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < iterations; i++)
        {
            a0 = L.Fma(a0, x, y); a1 = L.Fma(a1, x, y); a2 = L.Fma(a2, x, y); a3 = L.Fma(a3, x, y);
            a4 = L.Fma(a4, x, y); a5 = L.Fma(a5, x, y); a6 = L.Fma(a6, x, y); a7 = L.Fma(a7, x, y);
            a8 = L.Fma(a8, x, y); a9 = L.Fma(a9, x, y); a10 = L.Fma(a10, x, y); a11 = L.Fma(a11, x, y);
        }
        return L.Sum(L.Add(L.Add(L.Add(a0, a1), L.Add(a2, a3)), L.Add(L.Add(L.Add(a4, a5), L.Add(a6, a7)), L.Add(L.Add(a8, a9), L.Add(a10, a11)))));
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static double Chains16<L, V>(long iterations) where L : struct, ILanes<V> where V : struct
    {
        V x = L.Create(1.0000001), y = L.Create(0.9999999);
        V a0 = L.Create(0.1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0;
        for (long i = 0; i < iterations; i++)
        {
            a0 = L.Fma(a0, x, y); a1 = L.Fma(a1, x, y); a2 = L.Fma(a2, x, y); a3 = L.Fma(a3, x, y);
            a4 = L.Fma(a4, x, y); a5 = L.Fma(a5, x, y); a6 = L.Fma(a6, x, y); a7 = L.Fma(a7, x, y);
            a8 = L.Fma(a8, x, y); a9 = L.Fma(a9, x, y); a10 = L.Fma(a10, x, y); a11 = L.Fma(a11, x, y);
            a12 = L.Fma(a12, x, y); a13 = L.Fma(a13, x, y); a14 = L.Fma(a14, x, y); a15 = L.Fma(a15, x, y);
        }
        V s = L.Add(L.Add(L.Add(a0, a1), L.Add(a2, a3)), L.Add(L.Add(a4, a5), L.Add(a6, a7)));
        V t = L.Add(L.Add(L.Add(a8, a9), L.Add(a10, a11)), L.Add(L.Add(a12, a13), L.Add(a14, a15)));
        return L.Sum(L.Add(s, t));
    }

    /// <summary>24 chains: two independent halves of 12 in one loop (as many chains as fit in 32 registers with the
    /// two constants).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static double Chains24<L, V>(long iterations) where L : struct, ILanes<V> where V : struct
    {
        V x = L.Create(1.0000001), y = L.Create(0.9999999);
        V a0 = L.Create(0.1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        V b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0, b8 = a0, b9 = a0, b10 = a0, b11 = a0;
        for (long i = 0; i < iterations; i++)
        {
            a0 = L.Fma(a0, x, y); a1 = L.Fma(a1, x, y); a2 = L.Fma(a2, x, y); a3 = L.Fma(a3, x, y);
            a4 = L.Fma(a4, x, y); a5 = L.Fma(a5, x, y); a6 = L.Fma(a6, x, y); a7 = L.Fma(a7, x, y);
            a8 = L.Fma(a8, x, y); a9 = L.Fma(a9, x, y); a10 = L.Fma(a10, x, y); a11 = L.Fma(a11, x, y);
            b0 = L.Fma(b0, x, y); b1 = L.Fma(b1, x, y); b2 = L.Fma(b2, x, y); b3 = L.Fma(b3, x, y);
            b4 = L.Fma(b4, x, y); b5 = L.Fma(b5, x, y); b6 = L.Fma(b6, x, y); b7 = L.Fma(b7, x, y);
            b8 = L.Fma(b8, x, y); b9 = L.Fma(b9, x, y); b10 = L.Fma(b10, x, y); b11 = L.Fma(b11, x, y);
        }
        V s = L.Add(L.Add(L.Add(a0, a1), L.Add(a2, a3)), L.Add(L.Add(L.Add(a4, a5), L.Add(a6, a7)), L.Add(L.Add(a8, a9), L.Add(a10, a11))));
        V t = L.Add(L.Add(L.Add(b0, b1), L.Add(b2, b3)), L.Add(L.Add(L.Add(b4, b5), L.Add(b6, b7)), L.Add(L.Add(b8, b9), L.Add(b10, b11))));
        return L.Sum(L.Add(s, t));
    }

    /// <summary>Each shape: its name, the loop, and its flops per iteration.</summary>
    public static IReadOnlyList<(string Name, Func<long, double> Run, double FlopsPerIteration)> Shapes()
    {
        var shapes = new List<(string, Func<long, double>, double)>();
        if (Vector512.IsHardwareAccelerated)
        {
            shapes.Add(("8 lanes × 12 chains", Chains12<Lanes8, Vector512<double>>, 12 * 8 * 2));
            shapes.Add(("8 lanes × 16 chains", Chains16<Lanes8, Vector512<double>>, 16 * 8 * 2));
            shapes.Add(("8 lanes × 24 chains", Chains24<Lanes8, Vector512<double>>, 24 * 8 * 2));
        }
        if (Vector256.IsHardwareAccelerated) shapes.Add(("4 lanes × 12 chains", Chains12<Lanes4, Vector256<double>>, 12 * 4 * 2));
        if (shapes.Count == 0) shapes.Add(("scalar × 12 chains", Chains12<Lanes1, double>, 12 * 2));
        return shapes;
    }

    /// <summary>GFLOP/s of one shape on `threads` threads started together (best of three), timed from the first
    /// thread's start to the last one's end as the threads see them (timed by the thread that released them, a run
    /// of 20 ms once measured 332 GFLOP/s on two cores whose peak is 235: it had started its clock late).</summary>
    private static double Rate(Func<long, double> run, double flopsPerIteration, int threads, long iterations)
    {
        double best = 0;
        for (int round = 0; round < 3; round++)
        {
            using var start = new Barrier(threads);
            var starts = new long[threads];
            var ends = new long[threads];
            var workers = Enumerable.Range(0, threads).Select(i => new Thread(() =>
            {
                start.SignalAndWait();
                starts[i] = Stopwatch.GetTimestamp();
                run(iterations);
                ends[i] = Stopwatch.GetTimestamp();
            })).ToArray();
            foreach (var w in workers) w.Start();
            foreach (var w in workers) w.Join();
            double seconds = (double)(ends.Max() - starts.Min()) / Stopwatch.Frequency;
            best = Math.Max(best, threads * flopsPerIteration * iterations / seconds / 1e9);
        }
        return best;
    }

    /// <summary>The shape that measured best on every core in the last <see cref="Measure"/>: one reference, so a
    /// reader on another thread sees one measurement's shape and rate, never a torn mix of two.</summary>
    private static volatile Best? bestAll;

    private sealed record Best(Func<long, double> Run, double Flops);

    /// <summary>The all-core rate of the shape that measured best, measured again briefly (about 0.1 s): on a VM whose
    /// speed drifts from one minute to the next, a share of the peak is taken against a peak measured beside the
    /// work, not minutes before it.</summary>
    public static double AllAgain()
    {
        if (bestAll is not { } best) throw new InvalidOperationException("Measure the peak first.");
        var (run, flops) = best;
        return Rate(run, flops, Environment.ProcessorCount, 20_000_000);
    }

    /// <summary>Measured GFLOP/s on one core and on every core (the best shape of each), and every shape's figures;
    /// each run takes <paramref name="iters"/> iterations of its loop (50 million: about 0.2 s a run on Zen 4).</summary>
    public static (double One, double All, string Detail) Measure(long iters = 50_000_000)
    {
        int cores = Environment.ProcessorCount;
        double one = 0, all = 0;
        var detail = new System.Text.StringBuilder();
        foreach (var (name, run, flops) in Shapes())
        {
            run(1000);
            double o = Rate(run, flops, 1, iters), a = Rate(run, flops, cores, iters);
            detail.AppendLine($"  {name}: {o:F1} GFLOP/s on one core, {a:F1} on {cores}");
            if (a > all) bestAll = new Best(run, flops);
            (one, all) = (Math.Max(one, o), Math.Max(all, a));
        }
        return (one, all, detail.ToString());
    }
}
