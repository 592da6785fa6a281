using System.Diagnostics;
using Core = Functional.Core;

namespace Functional.Benchmarks;

/// <summary>Stopwatch modes for whole steps: small value-and-gradient calls, a training step, attention, and the
/// rule checker's cost.</summary>
public static partial class Quick
{
    public static void Small()
    {
        foreach (var n in new[] { 4, 16, 32 })
        {
            var a = Tensor.Random(1, n, n);
            var b = Tensor.Random(2, n, n);
            var ta = Workloads.Leaf(Core.TensorModule.random(1, new[] { n, n }), true);
            var tb = Workloads.Leaf(Core.TensorModule.random(2, new[] { n, n }), true);
            double ours = Time(() => Workloads.SmallGeluRead(a, b), 20000);
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
}
