using System.Diagnostics;
using Core = Functional.Core;

namespace Functional.Benchmarks;

/// <summary>A stopwatch pass for development (`-- quick`); the published numbers come from BenchmarkDotNet.</summary>
public static class Quick
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

    /// <summary>Seconds per call: `warmups` calls, then as many as fit in about a second.</summary>
    internal static double PerCall(Action f, int warmups)
    {
        for (int i = 0; i < warmups; i++) f();
        var sw = Stopwatch.StartNew();
        long calls = 0;
        while (sw.Elapsed.TotalSeconds < 1) { f(); calls++; }
        return sw.Elapsed.TotalSeconds / calls;
    }

    public static void Small()
    {
        foreach (var n in new[] { 4, 16, 32 })
        {
            var a = Tensor.Random(1, n, n);
            var b = Tensor.Random(2, n, n);
            var ta = Workloads.Leaf(Core.TensorModule.random(1, new[] { n, n }), true);
            var tb = Workloads.Leaf(Core.TensorModule.random(2, new[] { n, n }), true);
            double ours = Time(() => Workloads.SmallGelu(a, b), 20000);
            double scoped = Time(() => Workloads.SmallGeluScoped(a, b), 20000);
            double theirs = Time(() => Workloads.TorchSmallGelu(ta, tb), 20000);
            Console.WriteLine($"sum(GELU(A·B)) n={n}: ours {ours * 1e6:F1} µs, in a scope {scoped * 1e6:F1} µs, TorchSharp {theirs * 1e6:F1} µs, ratios {theirs / ours:F2}x / {theirs / scoped:F2}x");
        }
        var x = Core.TensorModule.random(3, new[] { 10_000_000 });
        var tx = Workloads.Leaf(x, true);
        var g = Core.TensorModule.random(4, x.Shape);
        using var tg = Workloads.Leaf(g, false);
        var adj = Core.ValueModule.constant(g);
        // Plain calls with 80 MB results: alternating, five rounds of five, medians (one round swings with the VM).
        var (os, ts) = (new List<double>(), new List<double>());
        for (int round = 0; round < 5; round++)
        {
            os.Add(Time(() => Workloads.GeluForwardBackward(x, adj), 5));
            ts.Add(Time(() => Workloads.TorchGeluForwardBackward(tx, tg), 5));
        }
        double o = Median(os), t = Median(ts);
        Console.WriteLine($"GELU fwd+bwd 1e7, plain: ours {o * 1e3:F1} ms (rounds {string.Join(", ", os.Select(v => (v * 1e3).ToString("F1")))}), " +
                          $"TorchSharp {t * 1e3:F1} ms (rounds {string.Join(", ", ts.Select(v => (v * 1e3).ToString("F1")))}), ratio of medians {t / o:F2}x");
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

    /// <summary>Broadcast binary ops: X + b, X·b and X − row for X of ROWS×COLS (env), ours (plain and in a scope)
    /// and TorchSharp's.</summary>
    public static void BroadcastOps()
    {
        int Env(string name, int d) => Environment.GetEnvironmentVariable(name) is string s ? int.Parse(s) : d;
        int rows = Env("ROWS", 4096), cols = Env("COLS", 1024);
        var x = Core.TensorModule.random(1, new[] { rows, cols });
        var bias = Core.TensorModule.random(2, new[] { cols });
        var col = Core.TensorModule.random(3, new[] { rows, 1 });
        var tx = Workloads.Leaf(x, false);
        var tbias = Workloads.Leaf(bias, false);
        var tcol = Workloads.Leaf(col, false);
        double Ms(Action a) => PerCall(a, 3) * 1e3;
        for (int round = 0; round < 2; round++)
        {
            foreach (var (name, ours, theirs) in new (string, Func<Core.Tensor>, Action)[]
            {
                ("X + b", () => Core.TensorModule.add(x, bias), () => { using var r = tx + tbias; }),
                ("X * b", () => Core.TensorModule.mul(x, bias), () => { using var r = tx * tbias; }),
                ("X - col", () => Core.TensorModule.sub(x, col), () => { using var r = tx - tcol; }),
            })
            {
                double o = Ms(() => ours());
                double sc = Ms(() => { using var scope = Core.TensorModule.scope(); ours(); });
                double t = Ms(theirs);
                Console.WriteLine($"{name} ({rows}x{cols}): ours {o:F3} ms, in a scope {sc:F3} ms, TorchSharp {t:F3} ms, ratios {t / o:F2}x / {t / sc:F2}x");
            }
        }
    }

    /// <summary>Softmax and log-softmax over the last axis of 8×8×128×128 (attention scores), forward and backward,
    /// and exp over 10^6 elements: ours (plain and in a scope) and TorchSharp's.</summary>
    public static void SoftmaxOps()
    {
        // FUSED=0: the unfused passes (for comparison).
        if (Environment.GetEnvironmentVariable("FUSED") == "0") Functional.Kernels.Tuning.FusedSoftmax = false;
        // SHAPE (default 8,8,128,128): the tensor's shape, e.g. 64,16384 for rows of a vocabulary's logits.
        var shape = (Environment.GetEnvironmentVariable("SHAPE") ?? "8,8,128,128").Split(',').Select(int.Parse).ToArray();
        var x = Core.TensorModule.random(1, shape);
        var g = Core.TensorModule.random(2, shape);
        var tx = Workloads.Leaf(x, true);
        var tg = Workloads.Leaf(g, false);
        var adj = Core.ValueModule.constant(g);
        // Value and pullback of one op, ours and TorchSharp's (in a dispose scope, as every TorchSharp side here).
        object OursOf(Func<Core.Value, Core.Value> op) =>
            Core.Autodiff.vjp(Microsoft.FSharp.Core.FuncConvert.FromFunc(op), Core.ValueModule.constant(x)).Item2.Invoke(adj);
        void TheirsOf(Func<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor> op)
        {
            using var scope = TorchSharp.torch.NewDisposeScope();
            TorchSharp.torch.autograd.grad(new[] { op(tx) }, new[] { tx }, new[] { tg });
        }
        // AXIS (default −1): the axis both sides take softmax along.
        int axis = Environment.GetEnvironmentVariable("AXIS") is string ax ? int.Parse(ax) : -1;
        object Ours() => OursOf(v => Core.Softmax.softmax(axis, v));
        void Theirs() => TheirsOf(t => TorchSharp.torch.nn.functional.softmax(t, axis));
        object OursLog() => OursOf(v => Core.Softmax.logSoftmax(axis, v));
        void TheirsLog() => TheirsOf(t => TorchSharp.torch.nn.functional.log_softmax(t, axis));
        var e = Core.TensorModule.random(3, new[] { 1_000_000 });
        var te = Workloads.Leaf(e, false);
        for (int round = 0; round < 2; round++)
        {
            double o = PerCall(() => Ours(), 3) * 1e3, sc = PerCall(() => { using var s = Core.TensorModule.scope(); Ours(); }, 3) * 1e3, t = PerCall(Theirs, 3) * 1e3;
            Console.WriteLine($"softmax fwd+bwd {string.Join('x', shape)}: ours {o:F3} ms, in a scope {sc:F3} ms, TorchSharp {t:F3} ms, ratios {t / o:F2}x / {t / sc:F2}x");
            double lo = PerCall(() => OursLog(), 3) * 1e3, lsc = PerCall(() => { using var s = Core.TensorModule.scope(); OursLog(); }, 3) * 1e3, lt = PerCall(TheirsLog, 3) * 1e3;
            Console.WriteLine($"logSoftmax fwd+bwd {string.Join('x', shape)}: ours {lo:F3} ms, in a scope {lsc:F3} ms, TorchSharp {lt:F3} ms, ratios {lt / lo:F2}x / {lt / lsc:F2}x");
            double eo = PerCall(() => Core.TensorModule.map(Microsoft.FSharp.Core.FuncConvert.FromFunc<double, double>(Math.Exp), e), 3) * 1e3;
            double eu = PerCall(() => Core.Elementwise.exp(Core.ValueModule.constant(e)), 3) * 1e3;
            double es = PerCall(() => { using var s = Core.TensorModule.scope(); Core.Elementwise.exp(Core.ValueModule.constant(e)); }, 3) * 1e3;
            double et = PerCall(() => { using var r = te.exp(); }, 3) * 1e3;
            Console.WriteLine($"exp 1e6: ours {eu:F3} ms, in a scope {es:F3} ms (Tensor.map {eo:F3} ms), TorchSharp {et:F3} ms, ratios {et / eu:F2}x / {et / es:F2}x");
        }
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

    /// <summary>The perceptron training step of <see cref="MlpTrainingStep"/>.</summary>
    public static void MlpStep()
    {
        var b = new MlpTrainingStep();
        b.Setup();
        EndToEnd("MLP step 256x784->512->10", b.Functional, b.FunctionalScoped, b.TorchSharp);
    }

    /// <summary>The attention step of <see cref="AttentionForwardBackward"/>.</summary>
    public static void AttentionStep()
    {
        var b = new AttentionForwardBackward();
        b.Setup();
        EndToEnd("attention 8x8x128x64 fwd+bwd", b.Functional, b.FunctionalScoped, b.TorchSharp);
    }

    /// <summary>Runs `body` for `seconds` and prints its mean time (for perf record).</summary>
    public static void Loop(Action body, double seconds)
    {
        var sw = Stopwatch.StartNew();
        long n = 0;
        while (sw.Elapsed.TotalSeconds < seconds) { body(); n++; }
        Console.WriteLine($"{sw.Elapsed.TotalMilliseconds / n:F2} ms");
    }

    /// <summary>Elementwise log, tanh, sigmoid and sqrt over 10⁶ positive values (forward only), ours in a scope
    /// and TorchSharp's, alternating over two rounds (in ms).</summary>
    /// <summary>Sums: one run of 10⁶ (a whole-tensor sum), 1,000 runs of 1,000 (a last-axis sum), 10⁴ runs of 100;
    /// per call, and TorchSharp's for the same.</summary>
    public static void SumOps()
    {
        var x = Core.TensorModule.random(3, new[] { 1_000_000 });
        var tx = Workloads.Leaf(x, false);
        foreach (var (name, shape) in new[] { ("1 run of 10^6", new[] { 1_000_000 }), ("1000 runs of 1000", new[] { 1000, 1000 }), ("10^4 runs of 100", new[] { 10_000, 100 }) })
        {
            var t = Core.TensorModule.reshape(shape, x);
            var tt = tx.reshape(shape.Select(d => (long)d).ToArray());
            double o = PerCall(() => { using var s = Core.TensorModule.scope(); Core.TensorModule.sumAxes(new[] { shape.Length - 1 }, false, t); }, 3) * 1e3;
            double th = PerCall(() => { using var r = tt.sum(new long[] { shape.Length - 1 }); }, 3) * 1e3;
            Console.WriteLine($"sum, {name}: ours {o:F4} ms, TorchSharp {th:F4} ms");
        }
    }

    public static void UnaryOps()
    {
        var x = Core.TensorModule.create(new[] { 1_000_000 }, Core.TensorModule.random(3, new[] { 1_000_000 }).ToArray().Select(v => Math.Abs(v) * 5 + 1e-3).ToArray());
        var tx = Workloads.Leaf(x, false);
        var vx = Core.ValueModule.constant(x);
        for (int round = 0; round < 2; round++)
            foreach (var (name, ours, theirs) in new (string, Action, Action)[]
            {
                ("log", () => Core.Elementwise.log(vx), () => { using var r = tx.log(); }),
                ("map sqrt", () => Core.TensorModule.map(Microsoft.FSharp.Core.FuncConvert.FromFunc<double, double>(Math.Sqrt), x), () => { using var r = tx.sqrt(); }),
                ("tanh", () => Core.Elementwise.tanh(vx), () => { using var r = tx.tanh(); }),
                ("sigmoid", () => Core.Elementwise.sigmoid(vx), () => { using var r = tx.sigmoid(); }),
                ("sqrt", () => Core.Elementwise.sqrt(vx), () => { using var r = tx.sqrt(); }),
            })
            {
                double o = PerCall(() => { using var s = Core.TensorModule.scope(); ours(); }, 3) * 1e3, t = PerCall(theirs, 3) * 1e3;
                Console.WriteLine($"{name} 1e6: ours in a scope {o:F3} ms, TorchSharp {t:F3} ms, ratio {t / o:F2}x");
            }
    }

    /// <summary>GELU, exact and tanh form, σ, tanh, ReLU, leaky ReLU, log∘exp and powers, forward and backward over 10⁶ (env N) with a random adjoint, in a scope, against TorchSharp.</summary>
    public static void GeluForms()
    {
        int n = Environment.GetEnvironmentVariable("N") is string s ? int.Parse(s) : 1_000_000;
        var x = Core.TensorModule.random(3, new[] { n });
        var g = Core.TensorModule.random(4, new[] { n });
        var tx = Workloads.Leaf(x, true);
        using var tg = Workloads.Leaf(g, false);
        var adj = Core.ValueModule.constant(g);
        Core.Value FwdBwd(Func<Core.Value, Core.Value> f)
        {
            var r = Core.Autodiff.vjp(Microsoft.FSharp.Core.FuncConvert.FromFunc(f), Core.ValueModule.constant(x));
            return r.Item2.Invoke(adj);
        }
        void Torch(TorchSharp.Modules.GELU.Approximate a)
        {
            using var scope = TorchSharp.torch.NewDisposeScope();
            var y = TorchSharp.torch.nn.functional.gelu(tx, a);
            TorchSharp.torch.autograd.grad(new[] { y }, new[] { tx }, new[] { tg });
        }
        var x2 = Core.TensorModule.reshape(new[] { 1000, -1 }, x);
        var adj2 = Core.ValueModule.constant(Core.TensorModule.full(new[] { 1000 }, 1.0));
        Core.Value FwdBwdShaped(Func<Core.Value, Core.Value> f)
        {
            var r = Core.Autodiff.vjp(Microsoft.FSharp.Core.FuncConvert.FromFunc(f), Core.ValueModule.constant(x2));
            return r.Item2.Invoke(adj2);
        }
        var squarePullback = Core.Autodiff.vjp(Microsoft.FSharp.Core.FuncConvert.FromFunc<Core.Value, Core.Value>(v => Core.Arithmetic.mul(v, v)), Core.ValueModule.constant(x)).Item2;
        void TorchUnary(Func<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor> f)
        {
            using var scope = TorchSharp.torch.NewDisposeScope();
            var y = f(tx);
            TorchSharp.torch.autograd.grad(new[] { y }, new[] { tx }, new[] { tg });
        }
        for (int round = 0; round < 2; round++)
            foreach (var (name, ours, theirs) in new (string, Action, Action)[]
            {
                ("gelu exact fwd+bwd", () => FwdBwd(Core.Activation.gelu), () => Torch(TorchSharp.Modules.GELU.Approximate.none)),
                ("gelu tanh fwd+bwd", () => FwdBwd(Core.Activation.geluTanh), () => Torch(TorchSharp.Modules.GELU.Approximate.tanh)),
                ("gelu tanh forward", () => Core.Activation.geluTanh(Core.ValueModule.constant(x)), () => { using var r = TorchSharp.torch.nn.functional.gelu(tx, TorchSharp.Modules.GELU.Approximate.tanh); }),
                ("sigmoid fwd+bwd", () => FwdBwd(Core.Elementwise.sigmoid), () => TorchUnary(t => t.sigmoid())),
                ("tanh fwd+bwd", () => FwdBwd(Core.Elementwise.tanh), () => TorchUnary(t => t.tanh())),
                ("relu fwd+bwd", () => FwdBwd(Core.Activation.relu), () => TorchUnary(t => TorchSharp.torch.nn.functional.relu(t))),
                ("leaky relu fwd+bwd", () => FwdBwd(v => Core.Activation.leakyRelu(0.01, v)), () => TorchUnary(t => TorchSharp.torch.nn.functional.leaky_relu(t, 0.01))),
                ("log fwd+bwd", () => FwdBwd(v => Core.Elementwise.log(Core.Elementwise.exp(v))), () => TorchUnary(t => t.exp().log())),
                ("pow 2 fwd+bwd", () => FwdBwd(v => Core.Elementwise.pow(2.0, v)), () => TorchUnary(t => t.pow(2.0))),
                ("pow 3 fwd+bwd", () => FwdBwd(v => Core.Elementwise.pow(3.0, v)), () => TorchUnary(t => t.pow(3.0))),
                ("pow 1.5 fwd+bwd", () => FwdBwd(v => Core.Elementwise.pow(1.5, Core.Elementwise.exp(v))), () => TorchUnary(t => t.exp().pow(1.5))),
                ("exp fwd+bwd", () => FwdBwd(Core.Elementwise.exp), () => TorchUnary(t => t.exp())),
                ("sqrt∘exp fwd+bwd", () => FwdBwd(v => Core.Elementwise.sqrt(Core.Elementwise.exp(v))), () => TorchUnary(t => t.exp().sqrt())),
                ("x·x fwd+bwd", () => FwdBwd(v => Core.Arithmetic.mul(v, v)), () => TorchUnary(t => t * t)),
                ("x·x forward on a tape", () => Core.Autodiff.vjp(Microsoft.FSharp.Core.FuncConvert.FromFunc<Core.Value, Core.Value>(v => Core.Arithmetic.mul(v, v)), Core.ValueModule.constant(x)), () => { using var r = tx * tx; }),
                ("x·x pullback alone", () => squarePullback.Invoke(adj), () => { using var scope = TorchSharp.torch.NewDisposeScope(); var a = tg * tx; var b = tg * tx; a.add_(b); }),
                ("x·y forward", () => Core.TensorModule.mul(x, g), () => { using var r = tx * tg; }),
                ("x+y forward", () => Core.TensorModule.add(x, g), () => { using var r = tx + tg; }),
                ("mean fwd+bwd", () => Core.Autodiff.vjp(Microsoft.FSharp.Core.FuncConvert.FromFunc<Core.Value, Core.Value>(Core.Reduction.mean), Core.ValueModule.constant(x)).Item2.Invoke(Core.ValueModule.scalar(1.0)), () => { using var scope = TorchSharp.torch.NewDisposeScope(); var y = tx.mean(); TorchSharp.torch.autograd.grad(new[] { y }, new[] { tx }); }),
                ("sum of last axis fwd+bwd (1000×1000)", () => FwdBwdShaped(v => Core.Reduction.sumAxes(new[] { 1 }, false, v)), () => { using var scope = TorchSharp.torch.NewDisposeScope(); var y = tx.reshape(1000, -1).sum(new long[] { 1 }, false, null); TorchSharp.torch.autograd.grad(new[] { y }, new[] { tx }, new[] { TorchSharp.torch.ones(1000, dtype: TorchSharp.torch.ScalarType.Float64) }); }),
            })
            {
                double o = PerCall(() => { using var sc = Core.TensorModule.scope(); ours(); }, 3) * 1e3, t = PerCall(theirs, 3) * 1e3;
                Console.WriteLine($"{name} {n}: ours in a scope {o:F3} ms, TorchSharp {t:F3} ms, ratio {t / o:F2}x");
            }
    }

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
        double seconds = Environment.GetEnvironmentVariable("SECONDS") is string t ? double.Parse(t) : 5;
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
        double seconds = Environment.GetEnvironmentVariable("SECONDS") is string t ? double.Parse(t) : 5;
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
        double seconds = Environment.GetEnvironmentVariable("SECONDS") is string t ? double.Parse(t) : 5;
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
        double seconds = Environment.GetEnvironmentVariable("SECONDS") is string t ? double.Parse(t) : 5;
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


    /// <summary>RuleCheck on a 10⁴-element input (env N for the side): every element against central differences (the
    /// full Jacobian's cost, which grows with the input) and along random directions (the fast mode, which does not),
    /// alternating, three rounds each.</summary>
    public static void RuleCheckCost()
    {
        int n = Environment.GetEnvironmentVariable("N") is string s ? int.Parse(s) : 100;
        static Tensor Abs(Tensor x) => (x * x).Sqrt();
        static Tensor Slope(Tensor x) => 1 / ((1 + Abs(x)) * (1 + Abs(x)));
        var op = CustomOp.Create("softsign", xs => xs[0] / (1 + Abs(xs[0])), (xs, y, g, i) => g * Slope(xs[0]), (xs, y, i, t) => t * Slope(xs[0]));
        var x = Tensor.Random(5, n, n);
        var fast = new Functional.Testing.RuleCheckOptions();
        var full = new Functional.Testing.RuleCheckOptions { FullJacobianLimit = int.MaxValue };
        Functional.Testing.RuleCheck.Run(op, fast, x);
        for (int round = 0; round < 3; round++)
            foreach (var (name, options) in new[] { ("fast (random directions)", fast), ("full (every element)", full) })
            {
                var sw = Stopwatch.StartNew();
                var report = Functional.Testing.RuleCheck.Run(op, options, x);
                Console.WriteLine($"RuleCheck on {n * n} elements, {name}: {sw.Elapsed.TotalMilliseconds:F1} ms, passed {report.Passed}");
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

    /// <summary>One fresh process's warm-up (env ENGINE = functional or torch, N = 16): value and gradient of
    /// sum(GELU(A·B)) called 50,000 times; prints the first call and the means of calls 2–10, 11–1,000, 1,001–10,000
    /// and 40,001–50,000 (the steady state). Run it in several processes (benchmarks/warmup.sh) and quote medians.</summary>
    public static void Warmup()
    {
        using var jitLog = Environment.GetEnvironmentVariable("JITLOG") == "1" ? new JitLog() : null;
        string engine = Environment.GetEnvironmentVariable("ENGINE") ?? "functional";
        int n = Environment.GetEnvironmentVariable("N") is string s ? int.Parse(s) : 16;
        Func<double> call;
        if (engine == "torch")
        {
            var ta = Workloads.Leaf(Core.TensorModule.random(1, new[] { n, n }), true);
            var tb = Workloads.Leaf(Core.TensorModule.random(2, new[] { n, n }), true);
            call = () => Workloads.TorchSmallGelu(ta, tb);
        }
        else
        {
            var a = Tensor.Random(1, n, n);
            var b = Tensor.Random(2, n, n);
            call = () => Workloads.SmallGelu(a, b).Value.ToScalar();
        }
        var (from, to) = (new[] { 1, 2, 11, 1_001, 40_001 }, new[] { 1, 10, 1_000, 10_000, 50_000 });
        var means = new double[from.Length];
        var jit = new string[from.Length];
        var sw = new Stopwatch();
        double sink = 0;
        for (int k = 0, call1 = 1; k < from.Length; k++)
        {
            for (; call1 < from[k]; call1++) sink += call();
            if (jitLog is not null) Console.WriteLine($"== calls {from[k]}-{to[k]}");
            long methods = System.Runtime.JitInfo.GetCompiledMethodCount(), bytes = GC.GetAllocatedBytesForCurrentThread();
            var jitTime = System.Runtime.JitInfo.GetCompilationTime();
            int gcs = GC.CollectionCount(0);
            sw.Restart();
            for (; call1 <= to[k]; call1++) sink += call();
            means[k] = sw.Elapsed.TotalSeconds / (to[k] - from[k] + 1);
            jit[k] = $"{System.Runtime.JitInfo.GetCompiledMethodCount() - methods} jitted in {(System.Runtime.JitInfo.GetCompilationTime() - jitTime).TotalMilliseconds:F1} ms, " +
                     $"{GC.CollectionCount(0) - gcs} gen0 GCs, {(GC.GetAllocatedBytesForCurrentThread() - bytes) / (to[k] - from[k] + 1)} B/call";
        }
        if (Environment.GetEnvironmentVariable("DETAIL") == "1")
            for (int k = 0; k < from.Length; k++) Console.WriteLine($"  calls {from[k]}-{to[k]}: {jit[k]}");
        Console.WriteLine($"warmup {engine} n={n}: first {means[0] * 1e3:F2} ms; calls 2-10 {means[1] * 1e6:F1} us; " +
                          $"11-1000 {means[2] * 1e6:F1} us; 1001-10000 {means[3] * 1e6:F1} us; steady {means[4] * 1e6:F1} us ({(sink == 0 ? "" : ".")})");
    }

    /// <summary>The elementwise family, row sum, softmax and log-softmax, forward and backward on 10⁶ (1000×1000 for the
    /// row ops): ours plain, ours in a scope, TorchSharp in a dispose scope and TorchSharp without one (its tensors
    /// then wait for the GC's finalizers, as ours wait for the GC), alternating op by op, ROUNDS rounds (default 5);
    /// prints each round and the medians with the ratios TorchSharp / ours (above 1: ours faster). Ours in a scope and
    /// TorchSharp in a dispose scope are timed interleaved, in blocks of BLOCKMS (default 250 ms; PAIRED=0: one
    /// after the other).</summary>
    public static void ElementwiseFamily()
    {
        int rounds = Environment.GetEnvironmentVariable("ROUNDS") is string r ? int.Parse(r) : 5;
        var shape = new[] { 1000, 1000 };
        var x = Core.TensorModule.random(3, shape);
        var y = Core.TensorModule.random(5, shape);
        var pos = Core.TensorModule.map(Microsoft.FSharp.Core.FuncConvert.FromFunc<double, double>(v => 0.5 + Math.Abs(v)), x);
        var g = Core.TensorModule.random(4, shape);
        var tx = Workloads.Leaf(x, true);
        var ty = Workloads.Leaf(y, true);
        var tpos = Workloads.Leaf(pos, true);
        using var tg = Workloads.Leaf(g, false);
        var adj = Core.ValueModule.constant(g);
        var rowAdj = Core.ValueModule.constant(Core.TensorModule.random(6, new[] { 1000 }));
        using var trowAdj = Workloads.Leaf(rowAdj.Tensor, false);
        void Unary(Func<Core.Value, Core.Value> f, Core.Tensor at, Core.Value a) =>
            Core.Autodiff.vjp(Microsoft.FSharp.Core.FuncConvert.FromFunc(f), Core.ValueModule.constant(at)).Item2.Invoke(a);
        void Binary(Func<Core.Value, Core.Value, Core.Value> f) =>
            Core.Autodiff.vjpMany(Microsoft.FSharp.Core.FuncConvert.FromFunc<Core.Value[], Core.Value>(v => f(v[0], v[1])),
                new[] { Core.ValueModule.constant(x), Core.ValueModule.constant(y) }).Item2.Invoke(adj);
        // TorchSharp's value and gradients, in a dispose scope (Torch) or left to the GC (TorchPlain).
        void Torch(Func<TorchSharp.torch.Tensor> f, TorchSharp.torch.Tensor[] inputs, TorchSharp.torch.Tensor a)
        {
            using var scope = TorchSharp.torch.NewDisposeScope();
            TorchSharp.torch.autograd.grad(new[] { f() }, inputs, new[] { a });
        }
        void TorchPlain(Func<TorchSharp.torch.Tensor> f, TorchSharp.torch.Tensor[] inputs, TorchSharp.torch.Tensor a) =>
            TorchSharp.torch.autograd.grad(new[] { f() }, inputs, new[] { a });
        var xs = new[] { tx };
        var xy = new[] { tx, ty };
        var ops = new (string Name, Action Ours, Func<TorchSharp.torch.Tensor> Theirs, TorchSharp.torch.Tensor[] Inputs, TorchSharp.torch.Tensor Adj)[]
        {
            ("exp", () => Unary(Core.Elementwise.exp, x, adj), () => tx.exp(), xs, tg),
            ("log", () => Unary(Core.Elementwise.log, pos, adj), () => tpos.log(), new[] { tpos }, tg),
            ("tanh", () => Unary(Core.Elementwise.tanh, x, adj), () => tx.tanh(), xs, tg),
            ("sigmoid", () => Unary(Core.Elementwise.sigmoid, x, adj), () => tx.sigmoid(), xs, tg),
            ("relu", () => Unary(Core.Activation.relu, x, adj), () => TorchSharp.torch.nn.functional.relu(tx), xs, tg),
            ("leaky relu", () => Unary(v => Core.Activation.leakyRelu(0.01, v), x, adj), () => TorchSharp.torch.nn.functional.leaky_relu(tx, 0.01), xs, tg),
            ("x·y", () => Binary(Core.Arithmetic.mul), () => tx * ty, xy, tg),
            ("x+y", () => Binary(Core.Arithmetic.add), () => tx + ty, xy, tg),
            ("row sum", () => Unary(v => Core.Reduction.sumAxes(new[] { 1 }, false, v), x, rowAdj), () => tx.sum(new long[] { 1 }, false, null), xs, trowAdj),
            ("softmax", () => Unary(v => Core.Softmax.softmax(1, v), x, adj), () => tx.softmax(1), xs, tg),
            ("log-softmax", () => Unary(v => Core.Softmax.logSoftmax(1, v), x, adj), () => tx.log_softmax(1), xs, tg),
        };
        // OPS (names, comma-separated) keeps some of them; LOOP (seconds) runs the first one kept, ours in a scope,
        // for a profiler instead of timing.
        if (Environment.GetEnvironmentVariable("OPS") is string only)
            ops = ops.Where(o => only.Split(',').Contains(o.Name)).ToArray();
        if (Environment.GetEnvironmentVariable("LOOP") is string loop)
        {
            var body = ops[0].Ours;
            Loop(() => { using var sc = Core.TensorModule.scope(); body(); }, double.Parse(loop));
            return;
        }
        // Each measurement (ms per call) starts with the garbage of the one before collected and finalised:
        // TorchSharp's undisposed tensors free their memory on the finalizer thread, which would otherwise run
        // during the next measurement.
        static double Settled(Action f) { GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect(); return PerCall(f, 3) * 1e3; }
        // The like-for-like pair (ours in a scope, TorchSharp in a dispose scope; neither leaves garbage) is timed
        // interleaved for 2 s, so that both see the same stretch of the VM's noise (timed one second after the
        // other, a round's ratio moved by ±30 %). Blocks of 250 ms (BLOCKMS): each switch costs the side that
        // follows (its data evicted; perhaps also LibTorch's OpenMP threads still spinning on the cores, not
        // measured); with 20 ms blocks our softmax took 2.2 ms instead of 1.3.
        // PAIRED=0 times them apart.
        bool paired = Environment.GetEnvironmentVariable("PAIRED") != "0";
        double blockMs = Environment.GetEnvironmentVariable("BLOCKMS") is string bms ? double.Parse(bms) : 250;
        (double A, double B) Interleaved(Action a, Action b)
        {
            GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
            for (int i = 0; i < 3; i++) { a(); b(); }
            double ta = 0, tb = 0;
            long na = 0, nb = 0;
            var total = Stopwatch.StartNew();
            var sw = new Stopwatch();
            while (total.Elapsed.TotalSeconds < 2)
            {
                sw.Restart();
                do { a(); na++; } while (sw.Elapsed.TotalMilliseconds < blockMs);
                ta += sw.Elapsed.TotalSeconds;
                sw.Restart();
                do { b(); nb++; } while (sw.Elapsed.TotalMilliseconds < blockMs);
                tb += sw.Elapsed.TotalSeconds;
            }
            return (ta / na * 1e3, tb / nb * 1e3);
        }
        var times = ops.Select(_ => new List<(double Plain, double Scoped, double Torch, double TorchPlain)>()).ToArray();
        for (int round = 0; round < rounds; round++)
            for (int k = 0; k < ops.Length; k++)
            {
                var (name, ours, theirs, inputs, a) = ops[k];
                double plain = Settled(ours);
                Action oursScoped = () => { using var sc = Core.TensorModule.scope(); ours(); };
                Action torchScoped = () => Torch(theirs, inputs, a);
                var (scoped, torch) = paired ? Interleaved(oursScoped, torchScoped) : (Settled(oursScoped), Settled(torchScoped));
                double torchPlain = Settled(() => TorchPlain(theirs, inputs, a));
                times[k].Add((plain, scoped, torch, torchPlain));
                Console.WriteLine($"round {round + 1} {name}: plain {plain:F3} ms, scoped {scoped:F3} ms, TorchSharp {torch:F3} ms, TorchSharp without a dispose scope {torchPlain:F3} ms");
            }
        Console.WriteLine("| op, fwd+bwd, 10⁶ | TorchSharp, dispose scope | TorchSharp, none | ours, plain | ours, in a scope | TorchSharp / ours (plain; scoped) | both plain |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | --- | --- |");
        for (int k = 0; k < ops.Length; k++)
        {
            double p = Median(times[k].Select(t => t.Plain)), sc = Median(times[k].Select(t => t.Scoped));
            double t = Median(times[k].Select(t => t.Torch)), tp = Median(times[k].Select(t => t.TorchPlain));
            Console.WriteLine($"| {ops[k].Name} | {t:F3} ms | {tp:F3} ms | {p:F3} ms | {sc:F3} ms | {t / p:F2}×; {t / sc:F2}× | {tp / p:F2}× |");
        }
    }

    /// <summary>Prints each method the JIT compiles and at which tier (env JITLOG=1 in the warmup mode): which code
    /// a fresh process runs unoptimised.</summary>
    private sealed class JitLog : System.Diagnostics.Tracing.EventListener
    {
        protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime")
                EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x10);
        }

        protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
        {
            if (e.EventName != "MethodLoadVerbose_V2" && e.EventName != "MethodLoadVerbose_V1" && e.EventName != "MethodLoadVerbose") return;
            var names = e.PayloadNames!;
            string Get(string n) => names.IndexOf(n) is var k and >= 0 ? e.Payload![k]?.ToString() ?? "" : "";
            Console.WriteLine($"JIT {Get("MethodFlags")} {Get("MethodNamespace")}::{Get("MethodName")}");
        }
    }
}
