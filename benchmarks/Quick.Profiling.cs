using System.Diagnostics;
using Core = Functional.Core;

namespace Functional.Benchmarks;

/// <summary>Ours only, one workload in a loop, for a profiler (perf record).</summary>
public static partial class Quick
{
    /// <summary>Ours only, softmax forward and backward in a scope along AXIS (default 1) of 8×8×128×128, for perf.</summary>
    public static void SoftmaxLoop()
    {
        int axis = Environment.GetEnvironmentVariable("AXIS") is string ax ? int.Parse(ax) : 1;
        // SHAPE (default 8,8,128,128): e.g. 1000,1000 with AXIS=1 for the elementwise mode's rows.
        var shape = (Environment.GetEnvironmentVariable("SHAPE") ?? "8,8,128,128").Split(',').Select(int.Parse).ToArray();
        var x = Core.ValueModule.constant(Core.TensorModule.random(1, shape));
        var g = Core.ValueModule.constant(Core.TensorModule.random(2, shape));
        // LOG=1: log-softmax instead.
        bool log = Environment.GetEnvironmentVariable("LOG") == "1";
        Loop(() =>
        {
            using var scope = Core.TensorModule.scope();
            Core.Autodiff.vjp(Microsoft.FSharp.Core.FuncConvert.FromFunc<Core.Value, Core.Value>(v => log ? Core.Softmax.logSoftmax(axis, v) : Core.Softmax.softmax(axis, v)), x).Item2.Invoke(g);
        }, 6);
    }

    /// <summary>Ours only, sum(GELU(A·B)) value and gradient, for a profiler (env N, SECONDS).</summary>
    public static void SmallLoop()
    {
        int n = Environment.GetEnvironmentVariable("N") is string s ? int.Parse(s) : 32;
        double seconds = Environment.GetEnvironmentVariable("SECONDS") is string t ? double.Parse(t, System.Globalization.CultureInfo.InvariantCulture) : 5;
        var a = Tensor.Random(1, n, n);
        var b = Tensor.Random(2, n, n);
        var sw = Stopwatch.StartNew();
        long calls = 0;
        long alloc = GC.GetTotalAllocatedBytes(true);
        bool scoped = Environment.GetEnvironmentVariable("SCOPED") == "1";
        while (sw.Elapsed.TotalSeconds < seconds) { if (scoped) Workloads.SmallGeluScoped(a, b); else Workloads.SmallGelu(a, b); calls++; }
        Console.WriteLine($"n={n}: {sw.Elapsed.TotalSeconds / calls * 1e6:F2} µs per call, {(GC.GetTotalAllocatedBytes(true) - alloc) / calls} B per call, {calls / Math.Max(1, GC.CollectionCount(0))} calls per gen0 GC, GC pauses {GC.GetTotalPauseDuration().TotalMilliseconds * 1e3 / calls:F2} µs per call");
    }

    /// <summary>Ours only, the pullback of sum(GELU(A·B)) on one tape, again and again (env N, SECONDS), for a profiler.</summary>
    public static void PullbackLoop()
    {
        int n = Environment.GetEnvironmentVariable("N") is string s ? int.Parse(s) : 32;
        double seconds = Environment.GetEnvironmentVariable("SECONDS") is string t ? double.Parse(t, System.Globalization.CultureInfo.InvariantCulture) : 5;
        var va = Core.ValueModule.constant(Core.TensorModule.random(1, new[] { n, n }));
        var vb = Core.ValueModule.constant(Core.TensorModule.random(2, new[] { n, n }));
        var f = Microsoft.FSharp.Core.FuncConvert.FromFunc<Core.Value[], Core.Value>(xs => Core.Reduction.sum(Core.Activation.gelu(Core.Linear.matmul(xs[0], xs[1]))));
        var taped = Core.Autodiff.vjpMany(f, new[] { va, vb });
        var one = Core.ValueModule.constant(Core.TensorModule.scalar(1.0));
        var sw = Stopwatch.StartNew();
        long calls = 0;
        while (sw.Elapsed.TotalSeconds < seconds) { taped.Item2.Invoke(one); calls++; }
        Console.WriteLine($"n={n}: {sw.Elapsed.TotalSeconds / calls * 1e6:F2} µs per pullback");
    }

    /// <summary>Ours only, GELU forward and backward over 10⁷ (env SECONDS), for a profiler.</summary>
    public static void GeluLoop()
    {
        double seconds = Environment.GetEnvironmentVariable("SECONDS") is string t ? double.Parse(t, System.Globalization.CultureInfo.InvariantCulture) : 5;
        int len = Environment.GetEnvironmentVariable("LEN") is string l ? int.Parse(l) : 10_000_000;
        var x = Core.TensorModule.random(3, new[] { len });
        var adj = Core.ValueModule.constant(Core.TensorModule.random(4, x.Shape));
        var sw = Stopwatch.StartNew();
        long calls = 0;
        while (sw.Elapsed.TotalSeconds < seconds) { Workloads.GeluForwardBackward(x, adj); calls++; }
        Console.WriteLine($"GELU {len} fwd+bwd: {sw.Elapsed.TotalSeconds / calls * 1e3:F3} ms per call over {calls} calls");
    }

    /// <summary>Ours only, one n×n matmul through the compiled contraction, for a profiler (env N, SECONDS).</summary>
    public static void ContractLoop()
    {
        int n = Environment.GetEnvironmentVariable("N") is string s ? int.Parse(s) : 16;
        double seconds = Environment.GetEnvironmentVariable("SECONDS") is string t ? double.Parse(t, System.Globalization.CultureInfo.InvariantCulture) : 5;
        // BATCH > 0 profiles the batched product bij,bjk->bik instead of ij,jk->ik.
        int batch = Environment.GetEnvironmentVariable("BATCH") is string bs ? int.Parse(bs) : 0;
        int[] shape = batch > 0 ? new[] { batch, n, n } : new[] { n, n };
        var ops = new[] { Core.TensorModule.random(1, shape), Core.TensorModule.random(2, shape) };
        var c = Core.Einsum.bind(batch > 0 ? "bij,bjk->bik" : "ij,jk->ik", new[] { ops[0].Shape, ops[1].Shape }).Contraction;
        var sw = Stopwatch.StartNew();
        long calls = 0;
        while (sw.Elapsed.TotalSeconds < seconds) { Core.Engine.contract(c, ops); calls++; }
        Console.WriteLine($"n={n}: {sw.Elapsed.TotalSeconds / calls * 1e6:F3} µs per contraction, gen2 {GC.CollectionCount(2)}, GC pause {GC.GetTotalPauseDuration().TotalMilliseconds:F0} ms");
    }
}
