using BenchmarkDotNet.Running;

namespace Functional.Benchmarks;

public static class Program
{
    /// <summary>Stopwatch modes (`dotnet run -c Release --project benchmarks -- MODE`): quick comparisons with
    /// TorchSharp while developing, and loops to run under a profiler. Published figures come from BenchmarkDotNet
    /// (any other arguments); docs/PERFORMANCE.md records what each subsystem measures and why.</summary>
    private static readonly Dictionary<string, (string What, Action Run)> Modes = new()
    {
        ["torch"] = ("TorchSharp's own matmul GFLOP/s", Quick.Torch),
        ["peak"] = ("this machine's FMA peak, one core and all", () =>
        {
            var (one, all, detail) = Functional.Kernels.Peak.Measure();
            Console.Write(detail);
            Console.WriteLine($"FMA peak: {one:F1} GFLOP/s on one core, {all:F1} GFLOP/s on {Environment.ProcessorCount} cores");
        }),
        ["small"] = ("sum(GELU(A·B)) value and gradient at small sizes, ours and TorchSharp's", Quick.Small),
        ["gemm"] = ("the GEMM table: forward and fwd+bwd at n = 256…2048 (env NS, ROUNDS), ours plain and scoped and TorchSharp's, against this machine's peak", GemmTable.Run),
        ["gemmtune"] = ("the packed product's cache blocks against each other: n×n forward in a scope over a grid (env NS, KCS, MCS, NCS, ROUNDS)", GemmTune.Run),
        ["matmulfb"] = ("matmul forward and backward (env N, REPS), alternating", Quick.MatMulFb),
        ["einsum"] = ("one einsum forward (env EQ, SHAPES)", Quick.EinsumOne),
        ["broadcast"] = ("broadcast binary ops (env ROWS, COLS)", Quick.BroadcastOps),
        ["softmax"] = ("softmax and log-softmax forward and backward (env SHAPE, AXIS, FUSED)", Quick.SoftmaxOps),
        ["mlp"] = ("a perceptron training step", Quick.MlpStep),
        ["attention"] = ("an attention forward and backward step", Quick.AttentionStep),
        ["unary"] = ("elementwise log, tanh, σ, √ over 10⁶", Quick.UnaryOps),
        ["sum"] = ("sums of runs: 1 of 10⁶, 1,000 of 1,000, 10⁴ of 100, ours and TorchSharp's", Quick.SumOps),
        ["geluforms"] = ("GELU forms, σ, tanh, ReLU, leaky ReLU, ln∘exp and powers, forward and backward", Quick.GeluForms),
        ["bmmscoped"] = ("profiler loop: batched einsum forward and backward in a scope", () => { var b = new BatchedEinsum(); b.Setup(); Quick.Loop(() => b.FunctionalScoped(), 4); }),
        ["attentionloop"] = ("profiler loop: attention step in a scope", () => { var b = new AttentionForwardBackward(); b.Setup(); Quick.Loop(() => b.FunctionalScoped(), 6); }),
        ["smallloop"] = ("profiler loop: sum(GELU(A·B)) value and gradient (env N, SECONDS, SCOPED)", Quick.SmallLoop),
        ["pullbackloop"] = ("profiler loop: one tape's pullback (env N, SECONDS)", Quick.PullbackLoop),
        ["geluloop"] = ("profiler loop: GELU forward and backward over 10⁷ (env SECONDS)", Quick.GeluLoop),
        ["contractloop"] = ("profiler loop: one compiled n×n contraction (env N, SECONDS)", Quick.ContractLoop),
        ["rulecheck"] = ("RuleCheck's cost on 10⁴ elements: the fast mode against every element (env N)", Quick.RuleCheckCost),
        ["engine"] = ("bij,bjk->bik fwd+bwd: ours against our derived programs executed by libtorch (TorchSharpEngine)", Quick.EngineOnTorch),
        ["models"] = ("the ops models are made of (normalisations, losses, optimizer steps, gather, linear algebra, attention, an MLP block) fwd+bwd against TorchSharp (env ROUNDS, ONLY)", Quick.ModelOps),
        ["cliffs"] = ("a scan for cliffs: many ops over odd shapes against TorchSharp, ratios under 0.8 flagged (env MS, ONLY)", Quick.Cliffs),
        ["elementwise"] = ("the elementwise family, row sum, softmax, log-softmax, then GELU, its tanh form, SiLU, softplus, ELU fwd+bwd on 10⁶: plain, scoped, TorchSharp (env ROUNDS, OPS, LOOP, PAIRED, BLOCKMS)", Quick.ElementwiseFamily),
        ["stores"] = ("the store switches decided on this CPU: results around or through the caches, alternating (env ROUNDS)", Quick.Stores),
        ["warmup"] = ("one fresh process's first calls of sum(GELU(A·B)) value and gradient (env ENGINE, N)", Quick.Warmup),
        ["machine"] = ("the machine report: CPU, lanes, GEMM tile and blocks, precompiled code, runtime settings (as `functional machine`)", () => Console.WriteLine(Functional.Machine.Describe())),
        ["softmaxloop"] = ("profiler loop: softmax forward and backward in a scope (env SHAPE, AXIS, LOG)", Quick.SoftmaxLoop),
    };

    public static void Main(string[] args)
    {
        if (args.Length > 0 && Modes.TryGetValue(args[0], out var mode))
        {
            // A figure holds only on the kind of CPU it was measured on: every stopwatch run names it first.
            Console.WriteLine(CpuName());
            mode.Run();
            return;
        }
        if (args.Length > 0 && args[0] == "modes")
        {
            foreach (var (name, (what, _)) in Modes) Console.WriteLine($"{name,-14} {what}");
            return;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }

    /// <summary>The CPU's name, family and model (CPUID, as the machine report gives them), its cores and vector width.</summary>
    private static string CpuName()
    {
        var vectors = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "AVX-512" : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "AVX2" : "no 256-bit vectors";
        var cpu = Functional.Kernels.CpuInfo.Current;
        return $"CPU: {Functional.Kernels.CpuInfo.Name}, family {cpu.Family} model {cpu.Model}, {Environment.ProcessorCount} cores, {vectors}";
    }
}
