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
        for (int i = 0; i < Math.Max(3, reps / 10); i++) f();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < reps; i++) f();
        return sw.Elapsed.TotalSeconds / reps;
    }

    /// <summary>Seconds per call: `warmups` calls, then as many as fit in about a second.</summary>
    static double PerCall(Action f, int warmups)
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
        double o = Time(() => Workloads.GeluForwardBackward(x, adj), 5);
        double t = Time(() => Workloads.TorchGeluForwardBackward(tx, tg), 5);
        Console.WriteLine($"GELU fwd+bwd 1e7: ours {o * 1e3:F1} ms, TorchSharp {t * 1e3:F1} ms, ratio {t / o:F2}x");
    }

    /// <summary>ab,cd,bd,ac-> (n = 64) forward and backward, in pieces (env N, EQ).</summary>
    public static void PlansGradient()
    {
        int n = Environment.GetEnvironmentVariable("N") is string s ? int.Parse(s) : 64;
        var eq = Environment.GetEnvironmentVariable("EQ") ?? "ab,cd,bd,ac->";
        var terms = eq.Split("->")[0].Split(',');
        var ops = terms.Select((t, i) => Core.TensorModule.random(i, Enumerable.Repeat(n, t.Length).ToArray())).ToArray();
        var values = ops.Select(Core.ValueModule.constant).ToArray();
        var g = Core.TensorModule.random(9, Core.Einsum.bind(eq, ops.Select(o => o.ShapeArray).ToArray()).OutputShape);
        var adjoint = Core.ValueModule.constant(g);
        var f = Microsoft.FSharp.Core.FuncConvert.FromFunc<Core.Value[], Core.Value>(v => Core.Linear.einsum(eq, v));
        double Time(Action a) => PerCall(a, 200) * 1e6;
        var taped = Core.Autodiff.vjpMany(f, values);
        Console.WriteLine($"forward (constants)        {Time(() => Core.Einsum.contract(eq, ops)):F1} µs");
        Console.WriteLine($"forward with tape          {Time(() => Core.Autodiff.vjpMany(f, values)):F1} µs");
        Console.WriteLine($"pullback (one tape)        {Time(() => taped.Item2.Invoke(adjoint)):F1} µs");
        Console.WriteLine($"Einsum.gradients           {Time(() => Core.Einsum.gradients(eq, ops, g)):F1} µs");
        var c = Core.Einsum.bind(eq, ops.Select(o => o.ShapeArray).ToArray()).Contraction;
        var (prepared, steps) = Core.Engine.decompose(c);
        foreach (var (l, r, st) in steps) Console.WriteLine($"  step {l},{r}: {Core.ContractionModule.show(st)}");
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
        if (Environment.GetEnvironmentVariable("KSPLIT") == "0") Functional.Kernels.PackedGemm.KSplitEnabled = false;
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
        if (Environment.GetEnvironmentVariable("FUSED") == "0") Core.Softmax.fusedRows = false;
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

    /// <summary>TensorPrimitives' vector log, tanh and exp against Math's, in ulps, over a wide sample.</summary>
    public static void PrimitivesUlps()
    {
        var rnd = new Random(5);
        var xs = Enumerable.Range(0, 2_000_000).Select(i => i % 2 == 0 ? Math.Exp(rnd.NextDouble() * 1400 - 700) : (rnd.NextDouble() - 0.5) * 40).ToArray();
        long Ulps(double a, double b) => double.IsNaN(a) && double.IsNaN(b) ? 0 : Math.Abs(BitConverter.DoubleToInt64Bits(a) - BitConverter.DoubleToInt64Bits(b));
        void Check(string name, Action<ReadOnlySpan<double>, Span<double>> vec, Func<double, double> scalar, Func<double, bool> domain)
        {
            var input = xs.Where(domain).ToArray();
            var outp = new double[input.Length];
            vec(input, outp);
            long worst = 0; double at = 0; long differ = 0;
            for (int i = 0; i < input.Length; i++)
            {
                long u = Ulps(outp[i], scalar(input[i]));
                if (u > 0) differ++;
                if (u > worst) { worst = u; at = input[i]; }
            }
            var sw = Stopwatch.StartNew(); int reps = 0;
            while (sw.ElapsedMilliseconds < 500) { vec(input, outp); reps++; }
            double ns = sw.Elapsed.TotalMilliseconds * 1e6 / reps / input.Length;
            var sw2 = Stopwatch.StartNew(); int reps2 = 0;
            while (sw2.ElapsedMilliseconds < 500) { for (int i = 0; i < input.Length; i++) outp[i] = scalar(input[i]); reps2++; }
            double ns2 = sw2.Elapsed.TotalMilliseconds * 1e6 / reps2 / input.Length;
            Console.WriteLine($"{name}: worst {worst} ulp from Math's (at {at:R}), {differ} of {input.Length} differ; {ns:F2} ns vs {ns2:F2} ns per element");
        }
        Check("log", (a, b) => System.Numerics.Tensors.TensorPrimitives.Log(a, b), Math.Log, v => v > 0);
        Check("tanh", (a, b) => System.Numerics.Tensors.TensorPrimitives.Tanh(a, b), Math.Tanh, v => Math.Abs(v) < 30);
        Check("exp", (a, b) => System.Numerics.Tensors.TensorPrimitives.Exp(a, b), Math.Exp, v => Math.Abs(v) < 700);
        Check("sqrt", (a, b) => System.Numerics.Tensors.TensorPrimitives.Sqrt(a, b), Math.Sqrt, v => v > 0);
        Check("sigmoid", (a, b) => System.Numerics.Tensors.TensorPrimitives.Sigmoid(a, b), v => 1 / (1 + Math.Exp(-v)), v => Math.Abs(v) < 30);
    }

    /// <summary>Seconds per call: the best of 200 batches of 20 calls.</summary>
    private static double BestOf200(Action run)
    {
        double best = double.MaxValue;
        for (int rep = 0; rep < 200; rep++)
        {
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < 20; i++) run();
            best = Math.Min(best, sw.Elapsed.TotalSeconds / 20);
        }
        return best;
    }

    /// <summary>The vector kernels on 4,096 in-cache elements (best of 200 batches): GELU with GELU', GELU, g·GELU', exp.</summary>
    public static void GeluKernel()
    {
        var x = Core.TensorModule.random(1, new[] { 4096 }).ToArray().Select(v => 3 * v).ToArray();
        var g = Core.TensorModule.random(2, new[] { 4096 }).ToArray();
        for (int round = 0; round < 2; round++)
            foreach (var (name, run) in new (string, Action)[]
            {
                ("GELU and GELU'", () => Core.SpecialVector.geluWithDerivative(x)),
                ("GELU", () => Core.SpecialVector.gelu(x)),
                ("g·GELU'", () => Core.SpecialVector.scaledDerivative(x, g)),
                ("softmaxRows", () => Core.SoftmaxVector.softmaxRows(x, 128)),
                ("logSoftmaxRows", () => Core.SoftmaxVector.logSoftmaxRows(x, 128)),
                ("logSoftmaxVjpRows", () => Core.SoftmaxVector.logSoftmaxVjpRows(x, g, 128)),
                ("exp", () => Core.SpecialVector.exp(x)),
                ("GELU tanh and its derivative", () => Core.GeluTanhVector.withDerivative(x)),
                ("GELU tanh", () => Core.GeluTanhVector.value(x)),
                ("g·GELU tanh'", () => Core.GeluTanhVector.scaled(x, g)),
            })
            {
                double best = BestOf200(run);
                Console.WriteLine($"{name}: {best * 1e6:F2} µs per 4096 ({best * 1e9 / 4096:F2} ns per element)");
            }
    }

    /// <summary>Ours only, softmax forward and backward in a scope along AXIS (default 1) of 8×8×128×128, for perf.</summary>
    public static void SoftmaxLoop()
    {
        int axis = Environment.GetEnvironmentVariable("AXIS") is string ax ? int.Parse(ax) : 1;
        var x = Core.ValueModule.constant(Core.TensorModule.random(1, new[] { 8, 8, 128, 128 }));
        var g = Core.ValueModule.constant(Core.TensorModule.random(2, new[] { 8, 8, 128, 128 }));
        // LOG=1: log-softmax instead.
        bool log = Environment.GetEnvironmentVariable("LOG") == "1";
        Loop(() =>
        {
            using var scope = Core.TensorModule.scope();
            Core.Autodiff.vjp(Microsoft.FSharp.Core.FuncConvert.FromFunc<Core.Value, Core.Value>(v => log ? Core.Softmax.logSoftmax(axis, v) : Core.Softmax.softmax(axis, v)), x).Item2.Invoke(g);
        }, 6);
    }

    /// <summary>The vector kernels on 4,096 in-cache elements into reused outputs (best of 200 batches of 20 calls):
    /// the kernels alone, without the fresh memory that <see cref="GeluKernel"/>'s outputs bring.</summary>
    public static void GeluReused()
    {
        var x = Core.TensorModule.random(1, new[] { 4096 }).ToArray().Select(v => 3 * v).ToArray();
        var g = Core.TensorModule.random(2, new[] { 4096 }).ToArray();
        double[] a = new double[4096], b = new double[4096];
        for (int round = 0; round < 2; round++)
            foreach (var (name, run) in new (string, Action)[]
            {
                ("GELU and GELU'", () => Core.SpecialVector.bothInto(x, a, b)),
                ("GELU", () => Core.SpecialVector.geluInto(x, a)),
                ("g·GELU'", () => Core.SpecialVector.scaledInto(x, g, a)),
            })
            {
                double best = BestOf200(run);
                Console.Write($"{name}: {best * 1e9 / 4096:F2} ns  ");
                if (name == "g·GELU'") Console.WriteLine();
            }
    }

    /// <summary>The four middle-axis softmax kernels alone along axis 1 of 8×8×128×128, in a scope (pooled results), ms per call.</summary>
    public static void MiddleKernels()
    {
        // INNER (default 16384): the positions after the axis; ROW (default 128): the rows' length for the row kernels.
        int inner = Environment.GetEnvironmentVariable("INNER") is string si ? int.Parse(si) : 16384;
        int row = Environment.GetEnvironmentVariable("ROW") is string sr ? int.Parse(sr) : 128;
        var x = Core.TensorModule.random(1, new[] { 8, 8, inner }).ToArray();
        var g = Core.TensorModule.random(2, new[] { 8, 8, inner }).ToArray();
        for (int round = 0; round < 3; round++)
            foreach (var (name, run) in new (string, Action)[]
            {
                ("softmax", () => Core.SoftmaxVector.softmaxMiddle(x, 8, 8, inner)),
                ("logSoftmax", () => Core.SoftmaxVector.logSoftmaxMiddle(x, 8, 8, inner)),
                ("softmaxVjp", () => Core.SoftmaxVector.softmaxVjpMiddle(x, g, 8, 8, inner)),
                ("logSoftmaxVjp", () => Core.SoftmaxVector.logSoftmaxVjpMiddle(x, g, 8, 8, inner)),
                ("softmaxRows", () => Core.SoftmaxVector.softmaxRows(x, row)),
                ("logSoftmaxRows", () => Core.SoftmaxVector.logSoftmaxRows(x, row)),
                ("logSoftmaxVjpRows", () => Core.SoftmaxVector.logSoftmaxVjpRows(x, g, row)),
                ("exp", () => Core.SpecialVector.exp(x)),
                ("GELU tanh and its derivative", () => Core.GeluTanhVector.withDerivative(x)),
                ("GELU tanh", () => Core.GeluTanhVector.value(x)),
                ("g·GELU tanh'", () => Core.GeluTanhVector.scaled(x, g)),
            })
                if (Environment.GetEnvironmentVariable("ONLY") is not string only || only == name)
                    Console.Write($"{name} {PerCall(() => { using var s = Core.TensorModule.scope(); run(); }, 2) * 1e3:F3} ms  " + (name == "exp" ? "\n" : ""));
    }

    /// <summary>A transpose into a reused array (env N): the copy alone, no allocation.</summary>
    public static void PermuteOne()
    {
        int n = Environment.GetEnvironmentVariable("N") is string s ? int.Parse(s) : 1024;
        var src = Core.TensorModule.random(1, new[] { n, n }).ToArray();
        var dst = new double[n * n];
        void Run() => Functional.Kernels.Permute.Copy(src, 0, new[] { 1, n }, dst, 0, new[] { n, 1 }, new[] { n, n });
        Console.WriteLine($"transpose {n}x{n} into a reused array: {PerCall(Run, 5) * 1e3:F3} ms");
        Console.WriteLine($"Tensor.transpose (fresh result): {PerCall(() => Core.TensorModule.transpose(Core.TensorModule.create(new[] { n, n }, src)), 5) * 1e3:F3} ms");
    }

    public static void Bmm()
    {
        var b = new BatchedEinsum();
        b.Setup();
        for (int i = 0; i < 50; i++) b.Functional();
        int g0 = GC.CollectionCount(0), g2 = GC.CollectionCount(2);
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 100; i++) b.Functional();
        Console.WriteLine($"bmm fwd+bwd: {sw.Elapsed.TotalMilliseconds / 100:F2} ms, gen0 {GC.CollectionCount(0) - g0}, gen2 {GC.CollectionCount(2) - g2}, GC pause {GC.GetTotalPauseDuration().TotalMilliseconds:F0} ms total");
        for (int i = 0; i < 50; i++) b.FunctionalScoped();
        sw.Restart();
        for (int i = 0; i < 100; i++) b.FunctionalScoped();
        Console.WriteLine($"bmm fwd+bwd in a TensorScope: {sw.Elapsed.TotalMilliseconds / 100:F2} ms");
        for (int i = 0; i < 50; i++) b.TorchSharp();
        sw.Restart();
        for (int i = 0; i < 100; i++) b.TorchSharp();
        Console.WriteLine($"bmm fwd+bwd TorchSharp: {sw.Elapsed.TotalMilliseconds / 100:F2} ms");
        var a = Core.TensorModule.random(1, new[] { 32, 128, 128 });
        var c = Core.TensorModule.random(2, new[] { 32, 128, 128 });
        for (int i = 0; i < 50; i++) Core.Einsum.contract("bij,bjk->bik", new[] { a, c });
        sw.Restart();
        for (int i = 0; i < 100; i++) Core.Einsum.contract("bij,bjk->bik", new[] { a, c });
        Console.WriteLine($"bmm forward: {sw.Elapsed.TotalMilliseconds / 100:F2} ms");
    }

    /// <summary>Whether two cores slow each other: one whole product per thread on separate data, then one alone.</summary>
    public static void Scaling()
    {
        int n = Environment.GetEnvironmentVariable("N") is string s ? int.Parse(s) : 1024;
        var data = Enumerable.Range(0, 2).Select(i => (Core.TensorModule.random(1 + i, new[] { n, n }).ToArray(), Core.TensorModule.random(3 + i, new[] { n, n }).ToArray())).ToArray();
        for (int i = 0; i < 5; i++) Core.Gemm.batchedWithParts(1, data[0].Item1, data[0].Item2, 1, n, n, n);
        double flops = 2.0 * n * n * n;
        var sw = Stopwatch.StartNew();
        for (int r = 0; r < 3; r++) Core.Gemm.batchedWithParts(1, data[0].Item1, data[0].Item2, 1, n, n, n);
        Console.WriteLine($"one thread alone: {flops * 3 / sw.Elapsed.TotalSeconds / 1e9:F1} GFLOP/s");
        sw.Restart();
        Parallel.For(0, 2, t => { for (int r = 0; r < 3; r++) Core.Gemm.batchedWithParts(1, data[t].Item1, data[t].Item2, 1, n, n, n); });
        Console.WriteLine($"two threads, separate data: {2 * flops * 3 / sw.Elapsed.TotalSeconds / 1e9:F1} GFLOP/s");
        sw.Restart();
        Parallel.For(0, 2, t => { for (int r = 0; r < 3; r++) Core.Gemm.batchedWithParts(1, data[0].Item1, data[0].Item2, 1, n, n, n); });
        Console.WriteLine($"two threads, same inputs: {2 * flops * 3 / sw.Elapsed.TotalSeconds / 1e9:F1} GFLOP/s");
        sw.Restart();
        for (int r = 0; r < 3; r++) Core.Gemm.batchedWithParts(2, data[0].Item1, data[0].Item2, 1, n, n, n);
        Console.WriteLine($"one product split in two: {flops * 3 / sw.Elapsed.TotalSeconds / 1e9:F1} GFLOP/s");
    }

    /// <summary>One product shape on one thread: GFLOP/s of the packed path (env M, K, N, BATCH).</summary>
    public static void Shape()
    {
        int Env(string name, int d) => Environment.GetEnvironmentVariable(name) is string s ? int.Parse(s) : d;
        int m = Env("M", 128), k = Env("K", 128), n = Env("N", 128), batch = Env("BATCH", 1), parts = Env("PARTS", 1);
        var a = Core.TensorModule.random(1, new[] { batch * m * k }).ToArray();
        var b = Core.TensorModule.random(2, new[] { batch * k * n }).ToArray();
        double flops = 2.0 * batch * m * k * n;
        int reps = Env("REPS", Math.Max(5, (int)(2e9 / flops)));
        var c = new double[batch * m * n];
        bool reuse = Environment.GetEnvironmentVariable("REUSE") == "1";
        if (Environment.GetEnvironmentVariable("ROWS1") == "1") Functional.Kernels.SimpleGemm.GroupRows = false;
        Action run = Environment.GetEnvironmentVariable("SIMPLE") == "1"
            ? (reuse ? () => Functional.Kernels.SimpleGemm.Multiply(a, b, c, batch, m, k, n) : () => Core.Gemm.batchedSimple(a, b, batch, m, k, n))
            : !reuse
            ? () => Core.Gemm.batchedWithParts(parts, a, b, batch, m, k, n)
            : () => Functional.Kernels.PackedGemm.Multiply(Environment.GetEnvironmentVariable("TRANSA") == "1", Environment.GetEnvironmentVariable("TRANSB") == "1", parts, a, b, c, batch, m, k, n);
        for (int i = 0; i < reps; i++) run();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < reps; i++) run();
        double t = sw.Elapsed.TotalSeconds / reps;
        Console.WriteLine($"{batch}x{m}x{k}x{n} parts {parts}: {t * 1e6:F1} µs, {flops / t / 1e9:F1} GFLOP/s");
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

    /// <summary>The pieces of sum(GELU(A·B)) value-and-gradient, each warmed up for a second (env N).</summary>
    public static void Pieces()
    {
        int n = Environment.GetEnvironmentVariable("N") is string s ? int.Parse(s) : 16;
        var a = Core.TensorModule.random(1, new[] { n, n });
        var b = Core.TensorModule.random(2, new[] { n, n });
        var va = Core.ValueModule.constant(a);
        var vb = Core.ValueModule.constant(b);
        var c = Core.Einsum.contract("ij,jk->ik", new[] { a, b });
        var vc = Core.ValueModule.constant(c);
        var fa = Tensor.Random(1, n, n);
        var fb = Tensor.Random(2, n, n);
        void Measure(string name, Action f)
        {
            var w = Stopwatch.StartNew();
            while (w.Elapsed.TotalSeconds < 1) f();
            long calls = 0;
            long bytes = GC.GetAllocatedBytesForCurrentThread();
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed.TotalSeconds < 1) { f(); calls++; }
            Console.WriteLine($"{name,-34} {sw.Elapsed.TotalSeconds / calls * 1e6:F2} µs, {(GC.GetAllocatedBytesForCurrentThread() - bytes) / calls} B");
        }
        var ad = a.ToArray(); var bd = b.ToArray(); var cd = new double[n * n];
        Measure("kernel into a reused C", () => Functional.Kernels.PackedGemm.Multiply(false, false, 1, ad, bd, cd, 1, n, n, n));
        Measure("Gemm.batched (fresh C)", () => Core.Gemm.batched(ad, bd, 1, n, n, n));
        var bound = Core.Einsum.bind("ij,jk->ik", new[] { a.Shape, b.Shape }).Contraction;
        Measure("Engine.contract (bound)", () => Core.Engine.contract(bound, new[] { a, b }));
        Measure("Einsum.contract", () => Core.Einsum.contract("ij,jk->ik", new[] { a, b }));
        Measure("Linear.matmul (constants)", () => Core.Linear.matmul(va, vb));
        Measure("SpecialVector.geluWithDerivative", () => Core.SpecialVector.geluWithDerivative(c.ToArray()));
        Measure("Activation.gelu (constant)", () => Core.Activation.gelu(vc));
        Measure("Reduction.sum (constant)", () => Core.Reduction.sum(vc));
        Measure("forward only (constants)", () => Core.Reduction.sum(Core.Activation.gelu(Core.Linear.matmul(va, vb))));
        var fsum = Microsoft.FSharp.Core.FuncConvert.FromFunc<Core.Value[], Core.Value>(xs => Core.Reduction.sum(Core.Activation.gelu(Core.Linear.matmul(xs[0], xs[1]))));
        Measure("vjpMany forward (tape)", () => Core.Autodiff.vjpMany(fsum, new[] { va, vb }));
        var one = Core.ValueModule.constant(Core.TensorModule.scalar(1.0));
        var taped = Core.Autodiff.vjpMany(fsum, new[] { va, vb });
        Measure("pullback (one tape, reused)", () => taped.Item2.Invoke(one));
        Measure("valueAndGradMany (F#)", () => Core.Autodiff.valueAndGradMany(
            Microsoft.FSharp.Core.FuncConvert.FromFunc<Core.Value[], Core.Value>(xs => Core.Reduction.sum(Core.Activation.gelu(Core.Linear.matmul(xs[0], xs[1])))), new[] { va, vb }));
        Measure("Autodiff.ValueAndGrad (C# facade)", () => Workloads.SmallGelu(fa, fb));
        // The pullback's pieces.
        var g = Core.TensorModule.random(3, new[] { n, n });
        var cc = Core.Einsum.bind("ij,jk->ik", new[] { a.Shape, b.Shape }).Contraction;
        var g0 = Core.ContractionModule.gradient(cc, 0);
        var g1 = Core.ContractionModule.gradient(cc, 1);
        Measure("grad A contraction (G·Bᵀ)", () => Core.Engine.contract(g0, new[] { g, b }));
        Measure("grad B contraction (Aᵀ·G)", () => Core.Engine.contract(g1, new[] { g, a }));
        Measure("broadcast scalar to n×n", () => Core.Arithmetic.broadcastTo(new[] { n, n }, Core.Layout.reshape(new[] { 1, 1 }, one)));
        Measure("Tensor.mul n×n", () => Core.TensorModule.mul(g, c));
    }


    public static void Run()
    {
        // Warm up first: the JIT tiers the kernels up only after they have run a while.
        var w = new[] { Core.TensorModule.random(1, new[] { 512, 512 }), Core.TensorModule.random(2, new[] { 512, 512 }) };
        for (int i = 0; i < 40; i++) Core.Einsum.contract("ij,jk->ik", w);
        foreach (var (m, k, n) in new[] { (1024, 256, 1024), (128, 256, 1024), (128, 256, 16), (8, 256, 16), (1024, 1024, 1024), (2048, 2048, 2048) })
        {
            var a = Core.TensorModule.random(1, new[] { m, k });
            var b = Core.TensorModule.random(2, new[] { k, n });
            var ops = new[] { a, b };
            for (int i = 0; i < 3; i++) Core.Einsum.contract("ij,jk->ik", ops);
            int reps = Math.Max(3, (int)(4e9 / ((double)m * n * k)));
            int g0 = GC.CollectionCount(0), g2 = GC.CollectionCount(2);
            long alloc = GC.GetTotalAllocatedBytes(true);
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < reps; i++) Core.Einsum.contract("ij,jk->ik", ops);
            double t = sw.Elapsed.TotalSeconds / reps;
            Console.WriteLine($"matmul {m}x{k}x{n}: {t * 1e3:F3} ms, {2.0 * m * n * k / t / 1e9:F1} GFLOP/s; per call {(GC.GetTotalAllocatedBytes(true) - alloc) / reps} B allocated, gen0 {GC.CollectionCount(0) - g0}, gen2 {GC.CollectionCount(2) - g2} over {reps} calls");
        }
    }
}
