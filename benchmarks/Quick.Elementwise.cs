using System.Diagnostics;
using Core = Functional.Core;

namespace Functional.Benchmarks;

/// <summary>Stopwatch modes for the elementwise ops, broadcasts, sums and softmax, ours against TorchSharp.</summary>
public static partial class Quick
{
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

    /// <summary>The store switches a CPU needs decided (docs/PERFORMANCE.md, large results around the caches): fwd+bwd on
    /// 10⁶ in a scope of x + y with its result written around the caches and through them (Tuning.StreamSums), and of
    /// x·y and ReLU with large results around the caches and through them (Tuning.NonTemporalBytes); the two settings
    /// alternate in one process, ROUNDS rounds (default 15) of 40 calls. Prints medians, ranges and the ratio
    /// (through / around: above 1, around the caches is faster) beside this CPU's defaults.</summary>
    public static void Stores()
    {
        int rounds = Environment.GetEnvironmentVariable("ROUNDS") is string r ? int.Parse(r) : 15;
        var shape = new[] { 1000, 1000 };
        var inputs = new[] { Core.ValueModule.constant(Core.TensorModule.random(3, shape)), Core.ValueModule.constant(Core.TensorModule.random(5, shape)) };
        var adj = Core.ValueModule.constant(Core.TensorModule.random(4, shape));
        Action Of(Func<Core.Value[], Core.Value> f) => () =>
        {
            using var scope = Core.TensorModule.scope();
            Core.Autodiff.vjpMany(Microsoft.FSharp.Core.FuncConvert.FromFunc(f), inputs).Item2.Invoke(adj);
        };
        // Plain calls (no scope): their results are recycled arrays, not in the caches.
        Action Plain(Func<Core.Value[], Core.Value> f) => () =>
            Core.Autodiff.vjpMany(Microsoft.FSharp.Core.FuncConvert.FromFunc(f), inputs).Item2.Invoke(adj);
        long ntBytes = Functional.Kernels.Tuning.NonTemporalBytes;
        bool streamSums = Functional.Kernels.Tuning.StreamSums;
        bool streamPlain = Functional.Kernels.Tuning.StreamPlainResults;
        Console.WriteLine($"defaults: NonTemporalBytes {ntBytes}, StreamSums {streamSums}, StreamPlainResults {streamPlain}");
        var cases = new (string Name, Action Body, Action<bool> Set)[]
        {
            ("x+y (StreamSums)", Of(v => Core.Arithmetic.add(v[0], v[1])), around => Functional.Kernels.Tuning.StreamSums = around),
            ("x·y (NonTemporalBytes)", Of(v => Core.Arithmetic.mul(v[0], v[1])), around => Functional.Kernels.Tuning.NonTemporalBytes = around ? ntBytes : long.MaxValue),
            ("relu (NonTemporalBytes)", Of(v => Core.Activation.relu(v[0])), around => Functional.Kernels.Tuning.NonTemporalBytes = around ? ntBytes : long.MaxValue),
            ("x+y plain (StreamPlainResults)", Plain(v => Core.Arithmetic.add(v[0], v[1])), around => Functional.Kernels.Tuning.StreamPlainResults = around),
            ("σ plain (StreamPlainResults)", Plain(v => Core.Elementwise.sigmoid(v[0])), around => Functional.Kernels.Tuning.StreamPlainResults = around),
        };
        try
        {
            foreach (var (name, body, set) in cases)
            {
                var times = new Dictionary<bool, List<double>> { [true] = new(), [false] = new() };
                for (int round = 0; round < rounds; round++)
                    foreach (bool around in new[] { true, false })
                    {
                        set(around);
                        for (int i = 0; i < 5; i++) body();
                        var sw = Stopwatch.StartNew();
                        for (int i = 0; i < 40; i++) body();
                        times[around].Add(sw.Elapsed.TotalMilliseconds / 40);
                    }
                // Back to this machine's defaults before the next case.
                Functional.Kernels.Tuning.NonTemporalBytes = ntBytes;
                Functional.Kernels.Tuning.StreamSums = streamSums;
                Functional.Kernels.Tuning.StreamPlainResults = streamPlain;
                static (double Median, double Low, double High) Summary(List<double> l) { l.Sort(); return (l[l.Count / 2], l[0], l[^1]); }
                var (a, al, ah) = Summary(times[true]);
                var (t, tl, th) = Summary(times[false]);
                Console.WriteLine($"{name}: around the caches {a:F3} ms ({al:F3}-{ah:F3}), through them {t:F3} ms ({tl:F3}-{th:F3}), through / around {t / a:F2}");
            }
        }
        finally
        {
            Functional.Kernels.Tuning.NonTemporalBytes = ntBytes;
            Functional.Kernels.Tuning.StreamSums = streamSums;
            Functional.Kernels.Tuning.StreamPlainResults = streamPlain;
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

    /// <summary>GELU, exact and tanh form, σ, tanh, ReLU, leaky ReLU, log∘exp, powers (integer ones over x of both signs, and one above 8), sin, cos, eˣ − 1, sinh, cosh, ln(1 + x), tan, atan, asin, acos, erf and erfc, forward and backward over 10⁶ (env N) with a random adjoint, in a scope, against TorchSharp.</summary>
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
                ("abs fwd+bwd", () => FwdBwd(v => Core.Piecewise.abs(Core.KinkConvention.Midpoint, v)), () => TorchUnary(t => t.abs())),
                ("clamp fwd+bwd", () => FwdBwd(v => Core.Piecewise.clamp(Core.KinkConvention.LeftDerivative, -1.0, 1.0, v)), () => TorchUnary(t => t.clamp(-1.0, 1.0))),
                ("elu fwd+bwd", () => FwdBwd(v => Core.Piecewise.elu(1.0, Core.KinkConvention.LeftDerivative, v)), () => TorchUnary(t => TorchSharp.torch.nn.functional.elu(t, 1.0, false))),
                ("silu fwd+bwd", () => FwdBwd(Core.Activation.silu), () => TorchUnary(t => TorchSharp.torch.nn.functional.silu(t))),
                ("softplus fwd+bwd", () => FwdBwd(Core.Activation.softplus), () => TorchUnary(t => TorchSharp.torch.nn.functional.softplus(t))),
                ("log fwd+bwd", () => FwdBwd(v => Core.Elementwise.log(Core.Elementwise.exp(v))), () => TorchUnary(t => t.exp().log())),
                ("pow 2 fwd+bwd", () => FwdBwd(v => Core.Elementwise.pow(2.0, v)), () => TorchUnary(t => t.pow(2.0))),
                ("pow 3 fwd+bwd", () => FwdBwd(v => Core.Elementwise.pow(3.0, v)), () => TorchUnary(t => t.pow(3.0))),
                ("pow 1.5 fwd+bwd", () => FwdBwd(v => Core.Elementwise.pow(1.5, Core.Elementwise.exp(v))), () => TorchUnary(t => t.exp().pow(1.5))),
                ("pow 4 fwd+bwd, x of both signs", () => FwdBwd(v => Core.Elementwise.pow(4.0, v)), () => TorchUnary(t => t.pow(4.0))),
                ("pow −3 fwd+bwd, x of both signs", () => FwdBwd(v => Core.Elementwise.pow(-3.0, v)), () => TorchUnary(t => t.pow(-3.0))),
                ("pow 10 fwd+bwd, x of both signs", () => FwdBwd(v => Core.Elementwise.pow(10.0, v)), () => TorchUnary(t => t.pow(10.0))),
                ("pow 12.5 fwd+bwd", () => FwdBwd(v => Core.Elementwise.pow(12.5, Core.Elementwise.exp(v))), () => TorchUnary(t => t.exp().pow(12.5))),
                ("sin fwd+bwd", () => FwdBwd(Core.Elementwise.sin), () => TorchUnary(t => t.sin())),
                ("cos fwd+bwd", () => FwdBwd(Core.Elementwise.cos), () => TorchUnary(t => t.cos())),
                ("e^x − 1 fwd+bwd", () => FwdBwd(Core.Elementwise.expm1), () => TorchUnary(t => t.expm1())),
                ("sinh fwd+bwd", () => FwdBwd(Core.Elementwise.sinh), () => TorchUnary(t => t.sinh())),
                ("cosh fwd+bwd", () => FwdBwd(Core.Elementwise.cosh), () => TorchUnary(t => t.cosh())),
                ("ln(1 + eˣ) fwd+bwd (log1p∘exp)", () => FwdBwd(v => Core.Elementwise.log1p(Core.Elementwise.exp(v))), () => TorchUnary(t => t.exp().log1p())),
                ("tan fwd+bwd", () => FwdBwd(Core.Elementwise.tan), () => TorchUnary(t => t.tan())),
                ("atan fwd+bwd", () => FwdBwd(Core.Elementwise.atan), () => TorchUnary(t => t.atan())),
                ("asin∘tanh fwd+bwd", () => FwdBwd(v => Core.Elementwise.asin(Core.Elementwise.tanh(v))), () => TorchUnary(t => t.tanh().asin())),
                ("erf fwd+bwd", () => FwdBwd(Core.Elementwise.erf), () => TorchUnary(t => t.erf())),
                ("erfc fwd+bwd", () => FwdBwd(Core.Elementwise.erfc), () => TorchUnary(t => t.erfc())),
                ("acos∘tanh fwd+bwd", () => FwdBwd(v => Core.Elementwise.acos(Core.Elementwise.tanh(v))), () => TorchUnary(t => t.tanh().acos())),
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

    /// <summary>The elementwise family, row sum, softmax and log-softmax, forward and backward on 10⁶ (1000×1000 for the
    /// row ops): ours plain, ours in a scope, TorchSharp in a dispose scope and TorchSharp without one (its tensors
    /// then wait for the GC's finalizers, as ours wait for the GC), alternating op by op, ROUNDS rounds (default 5);
    /// prints each round and the medians with the ratios TorchSharp / ours (above 1: ours faster). Ours plain, ours in a
    /// scope and TorchSharp in a dispose scope are timed interleaved, in blocks of BLOCKMS (default 250 ms; PAIRED=0: one
    /// after the other).</summary>
    public static void ElementwiseFamily()
    {
        int rounds = Environment.GetEnvironmentVariable("ROUNDS") is string r ? int.Parse(r) : 5;
        Console.WriteLine($"TorchSharp threads: {TorchSharp.torch.get_num_threads()}, ours: {Environment.ProcessorCount}");
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
            ("gelu", () => Unary(Core.Activation.gelu, x, adj), () => TorchSharp.torch.nn.functional.gelu(tx), xs, tg),
            ("gelu tanh", () => Unary(Core.Activation.geluTanh, x, adj), () => TorchSharp.torch.nn.functional.gelu(tx, TorchSharp.Modules.GELU.Approximate.tanh), xs, tg),
            ("silu", () => Unary(Core.Activation.silu, x, adj), () => TorchSharp.torch.nn.functional.silu(tx), xs, tg),
            ("softplus", () => Unary(Core.Activation.softplus, x, adj), () => TorchSharp.torch.nn.functional.softplus(tx), xs, tg),
            ("elu", () => Unary(v => Core.Piecewise.elu(1.0, Core.KinkConvention.LeftDerivative, v), x, adj), () => TorchSharp.torch.nn.functional.elu(tx, 1.0, false), xs, tg),
        };
        // OPS (names, comma-separated) keeps some of them; LOOP (seconds) runs the first one kept, ours in a scope
        // (plain with PLAIN=1), for a profiler instead of timing.
        if (Environment.GetEnvironmentVariable("OPS") is string only)
            ops = ops.Where(o => only.Split(',').Contains(o.Name)).ToArray();
        if (Environment.GetEnvironmentVariable("LOOP") is string loop)
        {
            var body = ops[0].Ours;
            double seconds = double.Parse(loop, System.Globalization.CultureInfo.InvariantCulture);
            if (Environment.GetEnvironmentVariable("PLAIN") == "1") Loop(body, seconds);
            else Loop(() => { using var sc = Core.TensorModule.scope(); body(); }, seconds);
            return;
        }
        // Each measurement (ms per call) starts with the garbage of the one before collected and finalised.
        static double Settled(Action f) => Quick.Settled(f, 3) * 1e3;
        // Ours plain, ours in a scope and TorchSharp in a dispose scope are timed interleaved for 3 s, so that all
        // three see the same stretch of the VM's noise (timed one second after the other, a round's ratio moved by
        // ±30 %), and plain against scoped is a ratio of one run as well as against TorchSharp. Blocks of 250 ms
        // (BLOCKMS): each switch costs the side that follows (its data evicted; perhaps also LibTorch's OpenMP threads
        // still spinning on the cores, not measured); with 20 ms blocks our softmax took 2.2 ms instead of 1.3.
        // Between blocks, untimed, our workers' spin runs out (Quiet), so that it does not take a core from
        // TorchSharp's block. Ours plain leaves its results to the keepers, which the library's own collections
        // recycle during its block; TorchSharp without a dispose scope leaves its tensors to the GC's finalizers, so
        // it is timed apart (Settled). PAIRED=0 times every side apart.
        bool paired = Environment.GetEnvironmentVariable("PAIRED") != "0";
        double blockMs = Environment.GetEnvironmentVariable("BLOCKMS") is string bms ? double.Parse(bms, System.Globalization.CultureInfo.InvariantCulture) : 250;
        double[] Interleaved(params Action[] sides)
        {
            GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
            for (int i = 0; i < 3; i++) foreach (var side in sides) side();
            var took = new double[sides.Length];
            var calls = new long[sides.Length];
            var total = Stopwatch.StartNew();
            var sw = new Stopwatch();
            while (total.Elapsed.TotalSeconds < sides.Length)
                for (int k = 0; k < sides.Length; k++)
                {
                    sw.Restart();
                    do { sides[k](); calls[k]++; } while (sw.Elapsed.TotalMilliseconds < blockMs);
                    took[k] += sw.Elapsed.TotalSeconds;
                    Quick.Quiet();
                }
            return took.Select((t, k) => t / calls[k] * 1e3).ToArray();
        }
        var times = ops.Select(_ => new List<(double Plain, double Scoped, double Torch, double TorchPlain)>()).ToArray();
        for (int round = 0; round < rounds; round++)
            for (int k = 0; k < ops.Length; k++)
            {
                var (name, ours, theirs, inputs, a) = ops[k];
                Action oursScoped = () => { using var sc = Core.TensorModule.scope(); ours(); };
                Action torchScoped = () => Torch(theirs, inputs, a);
                var (plain, scoped, torch) = paired
                    ? Interleaved(ours, oursScoped, torchScoped) switch { var t => (t[0], t[1], t[2]) }
                    : (Settled(ours), Settled(oursScoped), Settled(torchScoped));
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
}
