using Core = Functional.Core;

namespace Functional.Benchmarks;

/// <summary>The GEMM table of the performance issue's Must-show, in one process: this machine's FMA peak, then for
/// each n the forward product and the forward and backward pass (∇A = G·Bᵀ, ∇B = Aᵀ·G), ours plain and in a
/// `TensorScope` and TorchSharp's (`mm`, autograd, in a dispose scope), alternating over ROUNDS rounds, each
/// measurement after the garbage of the one before is collected; medians, GFLOP/s and the share of the all-core
/// peak, each round's against the peak measured again at the end of that round (the median of those shares: this VM's
/// speed drifts by up to 2× over minutes, so a peak measured once at the start made the shares swing).</summary>
public static class GemmTable
{
    public static void Run()
    {
        var sizes = (Environment.GetEnvironmentVariable("NS") ?? "256,512,1024,2048").Split(',').Select(int.Parse).ToArray();
        int rounds = Environment.GetEnvironmentVariable("ROUNDS") is string r ? int.Parse(r) : 3;
        Console.WriteLine($"CPUID: {Functional.Kernels.CpuInfo.Current}; GEMM blocks: {Functional.Kernels.Tuning.GemmBlocks}; TorchSharp threads: {TorchSharp.torch.get_num_threads()}, ours: {Environment.ProcessorCount}");
        var (one, all, detail) = Functional.Kernels.Peak.Measure();
        Console.Write(detail);
        Console.WriteLine($"peak: {one:F1} GFLOP/s on one core, {all:F1} on {Environment.ProcessorCount}");
        var rows = new List<string>();
        foreach (int n in sizes)
        {
            var a = Core.TensorModule.random(1, new[] { n, n });
            var b = Core.TensorModule.random(2, new[] { n, n });
            var g = Core.TensorModule.random(3, new[] { n, n });
            var (ca, cb) = (Core.ValueModule.constant(a), Core.ValueModule.constant(b));
            var ta = Workloads.Leaf(a, true);
            var tb = Workloads.Leaf(b, true);
            var tg = Workloads.Leaf(g, false);
            // The forward pass alone multiplies leaves without gradients, as ours multiplies constants: no autograd node.
            var (fa, fb) = (Workloads.Leaf(a, false), Workloads.Leaf(b, false));
            void Forward() => Core.Linear.matmul(ca, cb);
            void TorchForward() { using var s = TorchSharp.torch.NewDisposeScope(); TorchSharp.torch.mm(fa, fb); }
            void Both() => Workloads.MatMulForwardBackward(a, b, g);
            void TorchBoth() => Workloads.TorchMatMulForwardBackward(ta, tb, tg);
            foreach (var (pass, flops, ours, theirs) in new (string, double, Action, Action)[]
                     { ("forward", 2.0 * n * n * n, Forward, TorchForward), ("fwd+bwd", 6.0 * n * n * n, Both, TorchBoth) })
            {
                var times = new List<(double Plain, double Scoped, double Torch, double Peak)>();
                for (int round = 0; round < rounds; round++)
                {
                    // Odd rounds time TorchSharp first: neither side always follows the other.
                    double torch = round % 2 == 1 ? Quick.Settled(theirs, 2) : 0;
                    double plain = Quick.Settled(ours, 2);
                    double scoped = Quick.Settled(() => { using var s = Core.TensorModule.scope(); ours(); }, 2);
                    if (round % 2 == 0) torch = Quick.Settled(theirs, 2);
                    double peak = Functional.Kernels.Peak.AllAgain();
                    times.Add((plain, scoped, torch, peak));
                    Console.WriteLine($"round {round + 1} n={n} {pass}: plain {plain * 1e3:F2} ms, scoped {scoped * 1e3:F2} ms, TorchSharp {torch * 1e3:F2} ms, peak {peak:F1} GFLOP/s");
                }
                double p = Quick.Median(times.Select(t => t.Plain)), sc = Quick.Median(times.Select(t => t.Scoped)), t = Quick.Median(times.Select(t => t.Torch));
                string Rate(double seconds, Func<(double Plain, double Scoped, double Torch, double Peak), double> side) =>
                    $"{seconds * 1e3:F2} ms ({flops / seconds / 1e9:F1} GFLOP/s, {Quick.Median(times.Select(x => flops / side(x) / 1e9 / x.Peak)) * 100:F0} %)";
                var peaks = times.Select(x => x.Peak).ToArray();
                rows.Add($"| {n} | {pass} | {Rate(t, x => x.Torch)} | {Rate(p, x => x.Plain)} | {Rate(sc, x => x.Scoped)} | {t / p:F2}×; {t / sc:F2}× | {peaks.Min():F0}–{peaks.Max():F0} |");
            }
        }
        Console.WriteLine($"| n | pass | TorchSharp | ours, plain | ours, in a scope | TorchSharp / ours (plain; scoped) | peak beside it, GFLOP/s |");
        Console.WriteLine("| ---: | --- | ---: | ---: | ---: | --- | --- |");
        foreach (var row in rows) Console.WriteLine(row);
    }
}
