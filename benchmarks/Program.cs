using BenchmarkDotNet.Running;

namespace Functional.Benchmarks;

public static class Program
{
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "quick") { Quick.Run(); return; }
        if (args.Length > 0 && args[0] == "torch") { Quick.Torch(); return; }
        if (args.Length > 0 && args[0] == "small") { Quick.Small(); return; }
        if (args.Length > 0 && args[0] == "scaling") { Quick.Scaling(); return; }
        if (args.Length > 0 && args[0] == "shape") { Quick.Shape(); return; }
        if (args.Length > 0 && args[0] == "smallloop") { Quick.SmallLoop(); return; }
        if (args.Length > 0 && args[0] == "geluloop") { Quick.GeluLoop(); return; }
        if (args.Length > 0 && args[0] == "pullbackloop") { Quick.PullbackLoop(); return; }
        if (args.Length > 0 && args[0] == "pieces") { Quick.Pieces(); return; }
        if (args.Length > 0 && args[0] == "contractloop") { Quick.ContractLoop(); return; }
        if (args.Length > 0 && args[0] == "bmm") { Quick.Bmm(); return; }
        if (args.Length > 0 && args[0] == "bmmscoped") { var b = new BatchedEinsum(); b.Setup(); Quick.Loop(() => b.FunctionalScoped(), 4); return; }
        if (args.Length > 0 && args[0] == "plansgrad") { Quick.PlansGradient(); return; }
        if (args.Length > 0 && args[0] == "matmulfb") { Quick.MatMulFb(); return; }
        if (args.Length > 0 && args[0] == "einsum") { Quick.EinsumOne(); return; }
        if (args.Length > 0 && args[0] == "permute") { Quick.PermuteOne(); return; }
        if (args.Length > 0 && args[0] == "broadcast") { Quick.BroadcastOps(); return; }
        if (args.Length > 0 && args[0] == "softmax") { Quick.SoftmaxOps(); return; }
        if (args.Length > 0 && args[0] == "mlp") { Quick.MlpStep(); return; }
        if (args.Length > 0 && args[0] == "attention") { Quick.AttentionStep(); return; }
        if (args.Length > 0 && args[0] == "tpulps") { Quick.PrimitivesUlps(); return; }
        if (args.Length > 0 && args[0] == "geluforms") { Quick.GeluForms(); return; }
        if (args.Length > 0 && args[0] == "unary") { Quick.UnaryOps(); return; }
        if (args.Length > 0 && args[0] == "gelureused") { Quick.GeluReused(); return; }
        if (args.Length > 0 && args[0] == "middlek") { Quick.MiddleKernels(); return; }
        if (args.Length > 0 && args[0] == "softmaxloop") { Quick.SoftmaxLoop(); return; }
        if (args.Length > 0 && args[0] == "attentionloop") { var b = new AttentionForwardBackward(); b.Setup(); Quick.Loop(() => b.FunctionalScoped(), 6); return; }
        if (args.Length > 0 && args[0] == "gelukernel") { Quick.GeluKernel(); return; }
        if (args.Length > 0 && args[0] == "peak") { var (one, all) = Peak.Measure(); Console.WriteLine($"FMA peak: {one:F1} GFLOP/s on one core, {all:F1} GFLOP/s on {Environment.ProcessorCount} cores"); return; }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
