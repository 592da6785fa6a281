using TorchSharp;
using Core = Functional.Core;

namespace Functional.Benchmarks;

public static partial class Quick
{
    /// <summary>The ops models are made of, as a user calls them, against TorchSharp: normalisations, losses, optimizer
    /// steps, indexing, linear algebra and two model blocks, fwd+bwd in a scope (optimizer steps plain, as a training
    /// loop calls them). ROUNDS rounds (default 5) alternating, medians; ONLY (names' starts, `;`-separated; a
    /// name ending in `$` whole) keeps some.
    /// A markdown row per case with the ratio TorchSharp / ours. With LOOP (seconds) only ours of the kept cases runs,
    /// each in a loop that long, for a profiler.</summary>
    public static void ModelOps()
    {
        int rounds = int.Parse(Environment.GetEnvironmentVariable("ROUNDS") ?? "5");
        string only = Environment.GetEnvironmentVariable("ONLY") ?? "";
        double loop = double.Parse(Environment.GetEnvironmentVariable("LOOP") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        var cases = new List<(string Name, Func<Action> Ours, Func<Action> Theirs)>();
        torch.Tensor T(Tensor t, bool grad = true) => Workloads.Leaf(Core.TensorModule.create(t.Shape.ToArray(), t.ToArray()), grad);
        var x = Tensor.Random(1, 1000, 1000);
        var y = Tensor.Random(2, 1000, 1000);
        var binary = Tensor.FromArray(y.ToArray().Select(v => v > 0 ? 1.0 : 0.0).ToArray(), 1000, 1000);
        torch.Tensor tx = T(x), ty = T(y, false), tbinary = T(binary, false);
        void Grad(string name, Func<Tensor, Tensor> ours, Func<torch.Tensor, torch.Tensor> theirs) =>
            cases.Add((name, () => () => { using var s = Tensor.NewScope(); Autodiff.Grad(ours, x); },
                () => () => { using var s = torch.NewDisposeScope(); torch.autograd.grad(new[] { theirs(tx) }, new[] { tx }); }));
        Grad("layer norm 1000×1000", v => (v.LayerNorm(1e-5) * y).Sum(), t => (torch.nn.functional.layer_norm(t, new long[] { 1000 }) * ty).sum());
        Grad("MSE 1000×1000", v => Loss.Mse(v, y), t => torch.nn.functional.mse_loss(t, ty));
        Grad("L1 1000×1000", v => Loss.L1(v, y), t => torch.nn.functional.l1_loss(t, ty));
        Grad("Huber 1000×1000", v => Loss.Huber(v, y, 1.0), t => torch.nn.functional.huber_loss(t, ty, delta: 1.0));
        Grad("BCE with logits 1000×1000", v => Loss.BinaryCrossEntropyWithLogits(v, binary), t => torch.nn.functional.binary_cross_entropy_with_logits(t, tbinary));
        Grad("softmax along axis 0, 1000×1000", v => (v.Softmax(0) * y).Sum(), t => (t.softmax(0) * ty).sum());
        // The index: 500 rows, entry k of row i the row (3k + i) mod 1000.
        var index = Enumerable.Range(0, 500 * 1000).Select(e => (3 * (e % 1000) + e / 1000) % 1000).ToArray();
        var positions = Tensor.FromArray(index.Select(i => (double)i).ToArray(), 500, 1000);
        var tpositions = torch.tensor(index.Select(i => (long)i).ToArray(), new long[] { 500, 1000 });
        Grad("gather 500,000 of 1000×1000", v => v.Gather(0, positions).Square().Sum(), t => t.gather(0, tpositions).square().sum());
        var logits = Tensor.Random(3, 4096, 1000);
        var rng = new Random(4);
        var labels = Enumerable.Range(0, 4096).Select(_ => rng.Next(1000)).ToArray();
        torch.Tensor tlogits = T(logits), tlabels = torch.tensor(labels.Select(l => (long)l).ToArray());
        cases.Add(("cross-entropy 4096×1000", () => () => { using var s = Tensor.NewScope(); Autodiff.Grad(v => Loss.CrossEntropy(v, labels), logits); },
            () => () => { using var s = torch.NewDisposeScope(); torch.autograd.grad(new[] { torch.nn.functional.cross_entropy(tlogits, tlabels) }, new[] { tlogits }); }));
        Step("Adam step 10⁶, plain", new Adam(1e-3), p => torch.optim.Adam(p, 1e-3));
        Step("SGD momentum step 10⁶, plain", new Sgd(1e-3, 0.9, false, 0), p => torch.optim.SGD(p, 1e-3, momentum: 0.9));
        cases.Add(("clip by norm 10⁶, plain", () => () => Gradients.ClipByNorm(new[] { y }, 1.0),
            () =>
            {
                var p = new TorchSharp.Modules.Parameter(T(x, false));
                (p * ty).sum().backward();
                return () => torch.nn.utils.clip_grad_norm_(new[] { p }, 1.0);
            }));
        var m = Tensor.Random(5, 512, 512);
        var spd = m.MatMul(m.Transpose(1, 0)) + 512 * Tensor.Eye(512);
        var rhs = Tensor.Random(6, 512, 64);
        torch.Tensor tspd = T(spd), trhs = T(rhs);
        cases.Add(("det 512", () => () => { using var s = Tensor.NewScope(); Linalg.Det(spd); }, () => () => { using var s = torch.NewDisposeScope(); torch.linalg.det(tspd); }));
        var general = Tensor.Random(13, 512, 512);
        torch.Tensor tgeneral = T(general);
        cases.Add(("det 512, general (rows swapped)", () => () => { using var s = Tensor.NewScope(); Linalg.Det(general); }, () => () => { using var s = torch.NewDisposeScope(); torch.linalg.det(tgeneral); }));
        cases.Add(("inverse 512", () => () => { using var s = Tensor.NewScope(); Linalg.Inverse(spd); }, () => () => { using var s = torch.NewDisposeScope(); torch.linalg.inv(tspd); }));
        cases.Add(("solve 512 by 512×64, forward", () => () => { using var s = Tensor.NewScope(); Linalg.Solve(spd, rhs); }, () => () => { using var s = torch.NewDisposeScope(); torch.linalg.solve(tspd, trhs); }));
        cases.Add(("solve 512 by 512×64", () => () => { using var s = Tensor.NewScope(); Autodiff.Grad(v => Linalg.Solve(v[0], v[1]).Sum(), spd, rhs); },
            () => () => { using var s = torch.NewDisposeScope(); torch.autograd.grad(new[] { torch.linalg.solve(tspd, trhs).sum() }, new[] { tspd, trhs }); }));
        cases.Add(("Cholesky 512, forward", () => () => { using var s = Tensor.NewScope(); Linalg.Cholesky(spd); }, () => () => { using var s = torch.NewDisposeScope(); torch.linalg.cholesky(tspd); }));
        cases.Add(("Cholesky 512", () => () => { using var s = Tensor.NewScope(); Autodiff.Grad(v => Linalg.Cholesky(v).Sum(), spd); },
            () => () => { using var s = torch.NewDisposeScope(); torch.autograd.grad(new[] { torch.linalg.cholesky(tspd).sum() }, new[] { tspd }); }));
        var lower = Linalg.Cholesky(spd);
        var tlower = T(lower);
        cases.Add(("solveTriangular 512 by 512×64", () => () => { using var s = Tensor.NewScope(); Autodiff.Grad(v => Linalg.SolveTriangular(v[0], v[1], false).Sum(), lower, rhs); },
            () => () => { using var s = torch.NewDisposeScope(); torch.autograd.grad(new[] { torch.linalg.solve_triangular(tlower, trhs, upper: false).sum() }, new[] { tlower, trhs }); }));
        // A Hessian-vector product: forward over reverse for ours, reverse over reverse for TorchSharp.
        var direction = Tensor.Random(14, 512, 512);
        var tdirection = T(direction, false);
        cases.Add(("Cholesky 512, Hessian-vector product", () => () => { using var s = Tensor.NewScope(); Autodiff.HessianVectorProduct(v => Linalg.Cholesky(v).Square().Sum(), spd, direction); },
            () => () =>
            {
                using var s = torch.NewDisposeScope();
                var g = torch.autograd.grad(new[] { torch.linalg.cholesky(tspd).square().sum() }, new[] { tspd }, retain_graph: true, create_graph: true)[0];
                torch.autograd.grad(new[] { (g * tdirection).sum() }, new[] { tspd });
            }));
        var qkv = new[] { Tensor.Random(7, 8, 8, 128, 64), Tensor.Random(8, 8, 8, 128, 64), Tensor.Random(9, 8, 8, 128, 64) };
        var tqkv = qkv.Select(t => T(t)).ToArray();
        double scale = 1.0 / Math.Sqrt(64);
        cases.Add(("attention 8×8×128×64", () => () => { using var s = Tensor.NewScope(); Autodiff.Grad(a => Einsum.Contract("bhqk,bhkd->bhqd", (Einsum.Contract("bhqd,bhkd->bhqk", a[0], a[1]) * scale).Softmax(3), a[2]).Square().Sum(), qkv); },
            () => () => { using var s = torch.NewDisposeScope(); var o = torch.einsum("bhqk,bhkd->bhqd", (torch.einsum("bhqd,bhkd->bhqk", tqkv[0], tqkv[1]) * scale).softmax(3), tqkv[2]); torch.autograd.grad(new[] { o.square().sum() }, tqkv); }));
        var mlp = new[] { Tensor.Random(10, 256, 512), Tensor.Random(11, 512, 2048) * 0.05, Tensor.Random(12, 2048, 512) * 0.05 };
        var tmlp = mlp.Select(t => T(t)).ToArray();
        cases.Add(("layer norm, MLP 512→2048→512 with GELU, residual; 256 rows", () => () => { using var s = Tensor.NewScope(); Autodiff.Grad(a => (a[0] + a[0].LayerNorm(1e-5).MatMul(a[1]).Gelu().MatMul(a[2])).Square().Mean(), mlp); },
            () => () => { using var s = torch.NewDisposeScope(); var h = torch.nn.functional.layer_norm(tmlp[0], new long[] { 512 }); torch.autograd.grad(new[] { (tmlp[0] + torch.nn.functional.gelu(h.matmul(tmlp[1])).matmul(tmlp[2])).square().mean() }, tmlp); }));

        Console.WriteLine("| case | ours ms | TorchSharp ms | TorchSharp / ours |");
        Console.WriteLine("| --- | --- | --- | --- |");
        foreach (var (name, makeOurs, makeTheirs) in cases)
        {
            if (only.Length > 0 && !only.Split(';').Any(o => o.EndsWith('$') ? name.Equals(o[..^1], StringComparison.OrdinalIgnoreCase) : name.StartsWith(o, StringComparison.OrdinalIgnoreCase))) continue;
            if (loop > 0) { Console.Write($"{name}: "); Loop(makeOurs(), loop); continue; }
            Action ours = makeOurs(), theirs = makeTheirs();
            var a = new List<double>(); var b = new List<double>();
            for (int r = 0; r < rounds; r++) { a.Add(PerCall(ours, 3) * 1e3); b.Add(PerCall(theirs, 3) * 1e3); }
            Console.WriteLine($"| {name} | {Median(a):F3} | {Median(b):F3} | {Median(b) / Median(a):F2}× |");
        }

        void Step(string name, IOptimizer optimizer, Func<IList<TorchSharp.Modules.Parameter>, torch.optim.Optimizer> make) =>
            cases.Add((name,
                () =>
                {
                    var ps = new[] { x };
                    var gs = new[] { y };
                    var state = optimizer.Init(ps);
                    return () => { var r = optimizer.Step(ps, gs, state); ps = r.Parameters; state = r.State; };
                },
                () =>
                {
                    var p = new TorchSharp.Modules.Parameter(T(x, false));
                    var opt = make(new[] { p });
                    // One backward leaves p.grad set; each step then reads it.
                    (p * ty).sum().backward();
                    return () => { using (torch.no_grad()) opt.step(); };
                }));
    }
}
