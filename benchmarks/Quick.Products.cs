using System.Diagnostics;
using Core = Functional.Core;

namespace Functional.Benchmarks;

/// <summary>Stopwatch modes for products: matmul and einsum, ours against TorchSharp.</summary>
public static partial class Quick
{
    public static void Torch()
    {
        foreach (var n in new[] { 1024, 2048 })
        {
            using var a = TorchSharp.torch.randn(n, n, dtype: TorchSharp.torch.ScalarType.Float64);
            using var b = TorchSharp.torch.randn(n, n, dtype: TorchSharp.torch.ScalarType.Float64);
            for (int i = 0; i < 3; i++) TorchSharp.torch.mm(a, b).Dispose();
            int reps = Math.Max(3, (int)(8e9 / ((double)n * n * n)));
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < reps; i++) TorchSharp.torch.mm(a, b).Dispose();
            double t = sw.Elapsed.TotalSeconds / reps;
            Console.WriteLine($"torch mm n={n}: {t * 1e3:F3} ms, {2.0 * n * n * n / t / 1e9:F1} GFLOP/s (threads {TorchSharp.torch.get_num_threads()})");
        }
    }

    /// <summary>matmul forward + backward (env N, REPS), ours then TorchSharp, alternating, stopwatch.</summary>
    public static void MatMulFb()
    {
        int n = Environment.GetEnvironmentVariable("N") is string s ? int.Parse(s) : 1024;
        int reps = Environment.GetEnvironmentVariable("REPS") is string r ? int.Parse(r) : 10;
        var a = Core.TensorModule.random(1, new[] { n, n });
        var b = Core.TensorModule.random(2, new[] { n, n });
        var g = Core.TensorModule.random(3, new[] { n, n });
        var ta = Workloads.Leaf(a, true); var tb = Workloads.Leaf(b, true); var tg = Workloads.Leaf(g, false);
        for (int i = 0; i < 3; i++) { Workloads.MatMulForwardBackward(a, b, g); Workloads.TorchMatMulForwardBackward(ta, tb, tg); }
        double flops = 6.0 * n * n * n;
        for (int round = 0; round < 3; round++)
        {
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < reps; i++) Workloads.MatMulForwardBackward(a, b, g);
            double ours = sw.Elapsed.TotalSeconds / reps;
            sw.Restart();
            for (int i = 0; i < reps; i++) { using var scope = Core.TensorModule.scope(); Workloads.MatMulForwardBackward(a, b, g); }
            double scoped = sw.Elapsed.TotalSeconds / reps;
            sw.Restart();
            for (int i = 0; i < reps; i++) Workloads.TorchMatMulForwardBackward(ta, tb, tg);
            double theirs = sw.Elapsed.TotalSeconds / reps;
            Console.WriteLine($"n={n}: ours {ours * 1e3:F1} ms ({flops / ours / 1e9:F1} GFLOP/s), in a scope {scoped * 1e3:F1} ms ({flops / scoped / 1e9:F1}), TorchSharp {theirs * 1e3:F1} ms ({flops / theirs / 1e9:F1}), ratios {theirs / ours:F2}x / {theirs / scoped:F2}x");
        }
    }

    /// <summary>One einsum forward, ours and TorchSharp's (env EQ, SHAPES as "8x128x8x64,8x128x8x64"; OURS_ONLY=1
    /// skips TorchSharp, PLAIN_ONLY=1 the scoped run).</summary>
    public static void EinsumOne()
    {
        var eq = Environment.GetEnvironmentVariable("EQ") ?? "bqhd,bkhd->bhqk";
        // KSPLIT=0: no product split along k (for comparison).
        if (Environment.GetEnvironmentVariable("KSPLIT") == "0") Functional.Kernels.Tuning.GemmSplitK = false;
        var shapes = (Environment.GetEnvironmentVariable("SHAPES") ?? "8x128x8x64,8x128x8x64").Split(',').Select(t => t.Split('x').Select(int.Parse).ToArray()).ToArray();
        var ops = shapes.Select((sh, i) => Core.TensorModule.random(i + 1, sh)).ToArray();
        var tops = ops.Select(o => Workloads.Leaf(o, false)).ToArray();
        double Time(Action a) => PerCall(a, 5) * 1e3;
        for (int round = 0; round < 2; round++)
        {
            double ours = Time(() => Core.Einsum.contract(eq, ops));
            double scoped = Environment.GetEnvironmentVariable("PLAIN_ONLY") == "1" ? double.NaN : Time(() => { using var scope = Core.TensorModule.scope(); Core.Einsum.contract(eq, ops); });
            double theirs = Environment.GetEnvironmentVariable("OURS_ONLY") == "1" ? double.NaN : Time(() => { using var r = TorchSharp.torch.einsum(eq, tops); });
            Console.WriteLine($"{eq}: ours {ours:F3} ms, in a scope {scoped:F3} ms, TorchSharp {theirs:F3} ms, ratios {theirs / ours:F2}x / {theirs / scoped:F2}x (GCs so far: gen0 {GC.CollectionCount(0)}, gen2 {GC.CollectionCount(2)})");
        }
    }

    /// <summary>bij,bjk->bik (b = 32, n = 128) forward and backward: our engine against our derived programs executed
    /// by libtorch on the CPU (TorchSharpEngine), alternating, three rounds.</summary>
    public static void EngineOnTorch()
    {
        var a = Tensor.Random(1, 32, 128, 128);
        var b = Tensor.Random(2, 32, 128, 128);
        Func<Tensor[], Tensor> f = xs => Einsum.Contract("bij,bjk->bik", xs).Sum();
        for (int round = 0; round < 3; round++)
        {
            double ours = PerCall(() => Autodiff.ValueAndGrad(f, a, b), 3) * 1e3;
            double engine = PerCall(() => Functional.CrossCheck.TorchSharpEngine.Run(f, "cpu", a, b), 3) * 1e3;
            Console.WriteLine($"bij,bjk->bik fwd+bwd: ours {ours:F2} ms, our programs on TorchSharp {engine:F2} ms");
        }
    }
}
