using BenchmarkDotNet.Attributes;
using TorchSharp;
using Core = Functional.Core;

namespace Functional.Benchmarks;

/// <summary>Batched einsum bij,bjk->bik (b = 32, n = 128), forward + backward.</summary>
[Config(typeof(ShortConfig))]
public class BatchedEinsum
{
    private Core.Value[] xs = null!;
    private Core.Value g = null!;
    private torch.Tensor ta = null!, tb = null!, tg = null!;

    [GlobalSetup]
    public void Setup()
    {
        var a = Core.TensorModule.random(1, new[] { 32, 128, 128 });
        var b = Core.TensorModule.random(2, new[] { 32, 128, 128 });
        var gt = Core.TensorModule.random(3, new[] { 32, 128, 128 });
        xs = new[] { Core.ValueModule.constant(a), Core.ValueModule.constant(b) };
        g = Core.ValueModule.constant(gt);
        ta = Workloads.Leaf(a, true);
        tb = Workloads.Leaf(b, true);
        tg = Workloads.Leaf(gt, false);
    }

    [Benchmark(Baseline = true)]
    public void TorchSharp()
    {
        using var scope = torch.NewDisposeScope();
        var c = torch.einsum("bij,bjk->bik", ta, tb);
        torch.autograd.grad(new[] { c }, new[] { ta, tb }, new[] { tg });
    }

    [Benchmark]
    public object Functional()
    {
        var r = Core.Autodiff.vjpMany(Microsoft.FSharp.Core.FuncConvert.FromFunc<Core.Value[], Core.Value>(v => Core.Linear.einsum("bij,bjk->bik", v)), xs);
        return r.Item2.Invoke(g);
    }

    /// <summary>The same inside a TensorScope, as TorchSharp's runs inside a dispose scope: results reuse memory.</summary>
    [Benchmark]
    public double FunctionalScoped()
    {
        using var scope = Core.TensorModule.scope();
        var r = Core.Autodiff.vjpMany(Microsoft.FSharp.Core.FuncConvert.FromFunc<Core.Value[], Core.Value>(v => Core.Linear.einsum("bij,bjk->bik", v)), xs);
        var grads = r.Item2.Invoke(g);
        return grads[0].Tensor.Numel + grads[1].Tensor.Numel;
    }
}

/// <summary>Batched einsum bij,bjk->bik (b = 32, n = 128), summed, value and gradients: TorchSharp's autograd; ours; our
/// traced forward and derived gradient programs executed op by op by libtorch (TorchSharpEngine.Run, which traces by
/// running the function in Functional first, so its time includes ours).</summary>
[Config(typeof(ShortConfig))]
public class DerivedProgramOnTorchSharp
{
    private Tensor a = null!, b = null!;
    private torch.Tensor ta = null!, tb = null!;
    private static readonly Func<Tensor[], Tensor> F = xs => Einsum.Contract("bij,bjk->bik", xs).Sum();

    [GlobalSetup]
    public void Setup()
    {
        a = Tensor.Random(1, 32, 128, 128);
        b = Tensor.Random(2, 32, 128, 128);
        ta = Workloads.Leaf(Core.TensorModule.random(1, new[] { 32, 128, 128 }), true);
        tb = Workloads.Leaf(Core.TensorModule.random(2, new[] { 32, 128, 128 }), true);
    }

    [Benchmark(Baseline = true)]
    public void TorchSharp()
    {
        using var scope = torch.NewDisposeScope();
        var c = torch.einsum("bij,bjk->bik", ta, tb).sum();
        torch.autograd.grad(new[] { c }, new[] { ta, tb });
    }

    [Benchmark] public object Functional() => Autodiff.ValueAndGrad(F, a, b);

    [Benchmark] public object OursOnTorchSharp() => global::Functional.CrossCheck.TorchSharpEngine.Run(F, "cpu", a, b);
}

/// <summary>Einsum with three and four operands: planned (ours) against left to right (TorchSharp).</summary>
[Config(typeof(ShortConfig))]
public class EinsumPlans
{
    [Params("ij,jk,k->i (2000)", "ab,cd,bd,ac-> (64)")] public string Case = "";
    private string eq = "";
    private Core.Tensor[] ops = null!;
    private torch.Tensor[] tops = null!;

    [GlobalSetup]
    public void Setup()
    {
        (eq, ops) = Workloads.PlanCase(Case);
        tops = ops.Select(o => Workloads.Leaf(o, false)).ToArray();
        var plan = Einsum.Plan(eq, ops.Select(o => o.Shape).ToArray());
        Console.WriteLine($"// plan for {eq} ({plan.Method}, {plan.Flops:N0} flops): {string.Join(" then ", plan.Steps.Select(s => s.Contraction))}");
    }

    [Benchmark(Baseline = true)] public void TorchSharp() { using var r = torch.einsum(eq, tops); }
    [Benchmark] public object Functional() => Core.Einsum.contract(eq, ops);
}

/// <summary>The same equations forward and backward (random output adjoint): ours through Linear.einsum,
/// whose backward pass reuses the forward's planned intermediates; ours with every operand's gradient as its own
/// derived contraction (Einsum.gradients, no reuse); TorchSharp's einsum with autograd.</summary>
[Config(typeof(ShortConfig))]
public class EinsumPlansGradient
{
    [Params("ij,jk,k->i (2000)", "ab,cd,bd,ac-> (64)")] public string Case = "";
    private string eq = "";
    private Core.Tensor[] ops = null!;
    private Core.Value[] values = null!;
    private Core.Tensor g = null!;
    private Core.Value adjoint = null!;
    private torch.Tensor[] tops = null!;
    private torch.Tensor tg = null!;

    [GlobalSetup]
    public void Setup()
    {
        (eq, ops) = Workloads.PlanCase(Case);
        values = ops.Select(Core.ValueModule.constant).ToArray();
        g = Core.TensorModule.random(9, Core.Einsum.bind(eq, ops.Select(o => o.ShapeArray).ToArray()).OutputShape);
        adjoint = Core.ValueModule.constant(g);
        tops = ops.Select(o => Workloads.Leaf(o, true)).ToArray();
        tg = Workloads.Leaf(g, false);
    }

    [Benchmark(Baseline = true)]
    public void TorchSharp()
    {
        using var scope = torch.NewDisposeScope();
        var r = torch.einsum(eq, tops);
        torch.autograd.grad(new[] { r }, tops, new[] { tg });
    }

    [Benchmark]
    public object Functional()
    {
        var r = Core.Autodiff.vjpMany(Microsoft.FSharp.Core.FuncConvert.FromFunc<Core.Value[], Core.Value>(v => Core.Linear.einsum(eq, v)), values);
        return r.Item2.Invoke(adjoint);
    }

    [Benchmark]
    public object FunctionalPerOperand()
    {
        var value = Core.Einsum.contract(eq, ops);
        return Core.Einsum.gradients(eq, ops, g);
    }
}
