using BenchmarkDotNet.Attributes;
using TorchSharp;
using Core = Functional.Core;

namespace Functional.Benchmarks;

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
    [Benchmark] public double Functional() => Workloads.SmallGeluRead(a, b);
    [Benchmark] public double FunctionalScoped() => Workloads.SmallGeluScoped(a, b);
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
