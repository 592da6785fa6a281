using System.Diagnostics;
using Core = Functional.Core;
using TorchSharp;

namespace Functional.Benchmarks;

public static partial class Quick
{
    /// <summary>A scan for cliffs: broadcasting operators, row and column sums, transposes and softmax over matrices of
    /// 1 to 4,099 columns (2^20 and 2^14 elements), exp and whole sums from 100 to 10⁶ elements, matrix products of odd
    /// shapes and permutations, ours in a scope and plain against TorchSharp in a dispose scope, three alternating
    /// rounds of MS ms (default 60) after 30 warm-up calls of each; a markdown row per case, ratios under 0.8 flagged
    /// `<<<`. ONLY (names' starts, `;`-separated) keeps some cases.</summary>
    public static void Cliffs()
    {
        double ms = double.Parse(Environment.GetEnvironmentVariable("MS") ?? "60", System.Globalization.CultureInfo.InvariantCulture);
        string only = Environment.GetEnvironmentVariable("ONLY") ?? "";
        var cases = new List<(string, Action, Action)>();
        int seed = 1;
        Core.Tensor R(params int[] s) => Core.TensorModule.random(seed++, s);
        torch.Tensor T(Core.Tensor t) => Workloads.Leaf(t, false);
        foreach (int total in new[] { 1 << 20, 1 << 14 })
        foreach (int c in new[] { 1, 2, 3, 5, 8, 9, 17, 33, 100, 127, 1000, 4099 })
        {
            int r = Math.Max(1, total / c);
            var x = R(r, c); var b = R(c); var col = R(r, 1);
            var tx = T(x); var tb = T(b); var tcol = T(col);
            string sh = $"{r}x{c}";
            cases.Add(($"X+b {sh}", () => Core.TensorModule.add(x, b), () => { using var s = torch.NewDisposeScope(); tx.add(tb); }));
            cases.Add(($"X*col {sh}", () => Core.TensorModule.mul(x, col), () => { using var s = torch.NewDisposeScope(); tx.mul(tcol); }));
            cases.Add(($"rowsum {sh}", () => Core.TensorModule.sumAxes(new[] { 1 }, false, x), () => { using var s = torch.NewDisposeScope(); tx.sum(new long[] { 1 }); }));
            cases.Add(($"colsum {sh}", () => Core.TensorModule.sumAxes(new[] { 0 }, false, x), () => { using var s = torch.NewDisposeScope(); tx.sum(new long[] { 0 }); }));
            cases.Add(($"transpose {sh}", () => Core.TensorModule.transpose(x), () => { using var s = torch.NewDisposeScope(); tx.t().contiguous(); }));
            if (c >= 2) cases.Add(($"softmax {sh}", () => Core.Softmax.softmax(1, Core.ValueModule.constant(x)), () => { using var s = torch.NewDisposeScope(); tx.softmax(1); }));
        }
        foreach (int n in new[] { 100, 1000, 10000, 100000, 1000000 })
        {
            var x = R(n); var tx = T(x);
            cases.Add(($"exp {n}", () => Core.Elementwise.exp(Core.ValueModule.constant(x)), () => { using var s = torch.NewDisposeScope(); tx.exp(); }));
            cases.Add(($"sum {n}", () => Core.TensorModule.sum(x), () => { using var s = torch.NewDisposeScope(); tx.sum(); }));
        }
        foreach (var (m, k, n) in new[] { (1, 1, 1), (3, 5, 7), (17, 33, 65), (100, 3, 100), (3, 1000, 3), (1000, 3, 1000), (127, 129, 131), (300, 300, 300), (2, 2048, 2048), (2048, 2048, 2), (513, 257, 129), (64, 10000, 64), (10000, 64, 10) })
        {
            var a = R(m, k); var bb = R(k, n); var ta = T(a); var tbb = T(bb);
            var va = Core.ValueModule.constant(a); var vb = Core.ValueModule.constant(bb);
            cases.Add(($"matmul {m}x{k}x{n}", () => Core.Linear.matmul(va, vb), () => { using var s = torch.NewDisposeScope(); torch.mm(ta, tbb); }));
        }
        foreach (var (shape, perm) in new[] { (new[] { 64, 128, 96 }, new[] { 2, 0, 1 }), (new[] { 64, 128, 96 }, new[] { 1, 0, 2 }), (new[] { 8, 16, 32, 64 }, new[] { 0, 2, 1, 3 }), (new[] { 8, 16, 32, 64 }, new[] { 3, 2, 1, 0 }), (new[] { 1000, 3, 3 }, new[] { 2, 1, 0 }) })
        {
            var x = R(shape); var tx = T(x);
            var lp = perm.Select(p => (long)p).ToArray();
            cases.Add(($"permute {string.Join('x', shape)} [{string.Join(',', perm)}]", () => Core.TensorModule.permute(perm, x), () => { using var s = torch.NewDisposeScope(); tx.permute(lp).contiguous(); }));
        }
        double Time(Action f) { Quiet(); f(); var sw = Stopwatch.StartNew(); long n = 0; while (sw.Elapsed.TotalMilliseconds < ms) { f(); n++; } return sw.Elapsed.TotalMilliseconds * 1e3 / n; }
        foreach (var (name, ours, theirs) in cases)
            if (only.Length == 0 || only.Split(';').Any(o => name.StartsWith(o)))
                for (int i = 0; i < 30; i++) { using (Core.TensorModule.scope()) ours(); theirs(); }
        Console.WriteLine("| case | ours scoped µs | ours plain µs | TorchSharp µs | ratio scoped | ratio plain |");
        foreach (var (name, ours, theirs) in cases)
        {
            if (only.Length > 0 && !only.Split(';').Any(o => name.StartsWith(o))) continue;
            var sc = new List<double>(); var pl = new List<double>(); var th = new List<double>();
            for (int round = 0; round < 3; round++)
            {
                sc.Add(Time(() => { using var s = Core.TensorModule.scope(); ours(); }));
                th.Add(Time(theirs));
                pl.Add(Time(ours));
            }
            sc.Sort(); pl.Sort(); th.Sort();
            double rs = th[1] / sc[1], rp = th[1] / pl[1];
            string flag = rs < 0.8 || rp < 0.8 ? " <<<" : "";
            Console.WriteLine($"| {name} | {sc[1]:F1} | {pl[1]:F1} | {th[1]:F1} | {rs:F2} | {rp:F2} |{flag}");
        }
    }
}
