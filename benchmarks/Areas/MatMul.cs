using BenchmarkDotNet.Attributes;
using TorchSharp;
using Core = Functional.Core;

namespace Functional.Benchmarks;

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
