using BenchmarkDotNet.Attributes;
using TorchSharp;
using Core = Functional.Core;

namespace Functional.Benchmarks;

/// <summary>The machine's float64 FMA peak, measured in the same run (GFLOP/s = 2·8·12·iterations / time).</summary>
[Config(typeof(ShortConfig))]
public class PeakFma
{
    public const long Iterations = 10_000_000;

    [Benchmark(Description = "one core: 12 Vector512 FMA chains × 1e7")]
    public double OneCore() => Peak.Chains(Iterations);

    [Benchmark(Description = "all cores: the same on each")]
    public void AllCores() => Parallel.For(0, Environment.ProcessorCount, _ => Peak.Chains(Iterations));
}

/// <summary>matmul forward + backward (C = A·B; ∇A = G·Bᵀ, ∇B = Aᵀ·G): 3·2n³ flops.</summary>
[Config(typeof(ShortConfig))]
public class MatMulForwardBackward
{
    [Params(1024, 2048)] public int N;
    private Core.Tensor a = null!, b = null!, g = null!;
    private torch.Tensor ta = null!, tb = null!, tg = null!;

    [GlobalSetup]
    public void Setup()
    {
        a = Core.TensorModule.random(1, new[] { N, N });
        b = Core.TensorModule.random(2, new[] { N, N });
        g = Core.TensorModule.random(3, new[] { N, N });
        ta = Workloads.Leaf(a, true);
        tb = Workloads.Leaf(b, true);
        tg = Workloads.Leaf(g, false);
    }

    [Benchmark(Baseline = true)] public void TorchSharp() => Workloads.TorchMatMulForwardBackward(ta, tb, tg);
    [Benchmark] public object Functional() => Workloads.MatMulForwardBackward(a, b, g);

    /// <summary>The same inside a TensorScope (TorchSharp's runs inside a dispose scope): results reuse memory.</summary>
    [Benchmark]
    public int FunctionalScoped()
    {
        using var scope = Core.TensorModule.scope();
        return Workloads.MatMulForwardBackward(a, b, g).Length;
    }
}

/// <summary>matmul forward, time against size (the chart in benchmarks/README.md).</summary>
[Config(typeof(ShortConfig))]
public class MatMulScaling
{
    [Params(16, 64, 256, 1024, 2048)] public int N;
    private Core.Tensor[] ops = null!;
    private torch.Tensor ta = null!, tb = null!;

    [GlobalSetup]
    public void Setup()
    {
        ops = new[] { Core.TensorModule.random(1, new[] { N, N }), Core.TensorModule.random(2, new[] { N, N }) };
        ta = Workloads.Leaf(ops[0], false);
        tb = Workloads.Leaf(ops[1], false);
    }

    [Benchmark(Baseline = true)] public void TorchSharp() { using var c = torch.mm(ta, tb); }
    [Benchmark] public object Functional() => Core.Einsum.contract("ij,jk->ik", ops);

    /// <summary>The same in a TensorScope: the result's memory is reused, as TorchSharp's is.</summary>
    [Benchmark]
    public int FunctionalScoped()
    {
        using var scope = Core.TensorModule.scope();
        return Core.Einsum.contract("ij,jk->ik", ops).Numel;
    }
}

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

/// <summary>Value and gradient of sum(GELU(A·B)) for small matrices, through the C# facade.</summary>
[Config(typeof(ShortConfig))]
public class SmallGelu
{
    [Params(4, 16, 32)] public int N;
    private Tensor a = null!, b = null!;
    private torch.Tensor ta = null!, tb = null!;

    [GlobalSetup]
    public void Setup()
    {
        a = Tensor.Random(1, N, N);
        b = Tensor.Random(2, N, N);
        ta = Workloads.Leaf(Core.TensorModule.random(1, new[] { N, N }), true);
        tb = Workloads.Leaf(Core.TensorModule.random(2, new[] { N, N }), true);
    }

    [Benchmark(Baseline = true)] public double TorchSharp() => Workloads.TorchSmallGelu(ta, tb);
    [Benchmark] public object Functional() => Workloads.SmallGelu(a, b);
    [Benchmark] public double FunctionalScoped() => Workloads.SmallGeluScoped(a, b);
}

/// <summary>A training step of a two-layer perceptron (256×784 → 512 → 10, GELU, log-softmax cross-entropy): the loss
/// and its gradients in both weights and biases, through the C# facade. Not in the issue's list: an end-to-end check
/// that the pieces add up.</summary>
[Config(typeof(ShortConfig))]
public class MlpTrainingStep
{
    private Tensor x = null!, y = null!;
    private Tensor[] ps = null!;
    private torch.Tensor tx = null!, ty = null!;
    private torch.Tensor[] tps = null!;

    [GlobalSetup]
    public void Setup()
    {
        const int batch = 256, inputs = 784, hidden = 512, outputs = 10;
        x = Tensor.Random(1, batch, inputs);
        var labels = new double[batch * outputs];
        for (int i = 0; i < batch; i++) labels[i * outputs + (i * 7) % outputs] = 1.0;
        y = Tensor.FromArray(labels, batch, outputs);
        ps = new[] { Tensor.Random(2, inputs, hidden) * 0.05, Tensor.Random(3, hidden), Tensor.Random(4, hidden, outputs) * 0.05, Tensor.Random(5, outputs) };
        tx = Workloads.Leaf(Core.TensorModule.create(new[] { batch, inputs }, x.ToArray()), false);
        ty = Workloads.Leaf(Core.TensorModule.create(new[] { batch, outputs }, labels), false);
        tps = ps.Select(p => Workloads.Leaf(Core.TensorModule.create(p.Shape.ToArray(), p.ToArray()), true)).ToArray();
    }

    [Benchmark(Baseline = true)] public double TorchSharp() => Workloads.TorchMlp(tx, ty, tps);
    [Benchmark] public object Functional() => Workloads.Mlp(x, y, ps);

    [Benchmark]
    public double FunctionalScoped()
    {
        using var scope = Tensor.NewScope();
        var r = Workloads.Mlp(x, y, ps);
        return r.Value.ToScalar() + r.Gradients[0][0, 0];
    }
}

/// <summary>Scaled dot-product attention (b = 8, h = 8, s = 128, d = 64) forward and backward to Q, K and V, through the
/// C# facade: two einsums around a softmax. Not in the issue's list: an end-to-end check.</summary>
[Config(typeof(ShortConfig))]
public class AttentionForwardBackward
{
    private Tensor g = null!;
    private Tensor[] qkv = null!;
    private torch.Tensor tg = null!;
    private torch.Tensor[] tqkv = null!;

    [GlobalSetup]
    public void Setup()
    {
        int[] shape = { 8, 8, 128, 64 };
        g = Tensor.Random(4, shape);
        qkv = new[] { Tensor.Random(1, shape), Tensor.Random(2, shape), Tensor.Random(3, shape) };
        tg = Workloads.Leaf(Core.TensorModule.create(shape, g.ToArray()), false);
        tqkv = qkv.Select(x => Workloads.Leaf(Core.TensorModule.create(shape, x.ToArray()), true)).ToArray();
    }

    [Benchmark(Baseline = true)] public double TorchSharp() => Workloads.TorchAttention(tg, tqkv);
    [Benchmark] public object Functional() => Workloads.Attention(g, qkv);

    [Benchmark]
    public double FunctionalScoped()
    {
        using var scope = Tensor.NewScope();
        var r = Workloads.Attention(g, qkv);
        return r.Value.ToScalar() + r.Gradients[0][0, 0, 0, 0];
    }
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

/// <summary>Exact GELU forward + backward over 10⁷ float64. The adjoint is a random tensor (the same values
/// on both sides), so no shortcut for an all-ones adjoint applies.</summary>
[Config(typeof(ShortConfig))]
public class GeluLarge
{
    private Core.Tensor x = null!;
    private Core.Value adjoint = null!;
    private torch.Tensor tx = null!, tadjoint = null!;

    [GlobalSetup]
    public void Setup()
    {
        x = Core.TensorModule.random(3, new[] { 10_000_000 });
        var g = Core.TensorModule.random(4, new[] { 10_000_000 });
        adjoint = Core.ValueModule.constant(g);
        tx = Workloads.Leaf(x, true);
        tadjoint = Workloads.Leaf(g, false);
    }

    [Benchmark(Baseline = true)] public void TorchSharp() => Workloads.TorchGeluForwardBackward(tx, tadjoint);
    [Benchmark] public object Functional() => Workloads.GeluForwardBackward(x, adjoint);

    /// <summary>The same inside a TensorScope (TorchSharp's runs inside a dispose scope): results reuse memory.</summary>
    [Benchmark]
    public int FunctionalScoped()
    {
        using var scope = Core.TensorModule.scope();
        return Workloads.GeluForwardBackward(x, adjoint).Tensor.Numel;
    }
}
