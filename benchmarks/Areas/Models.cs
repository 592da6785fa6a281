using BenchmarkDotNet.Attributes;
using TorchSharp;
using Core = Functional.Core;

namespace Functional.Benchmarks;

/// <summary>A training step of a two-layer perceptron (256×784 → 512 → 10, GELU, log-softmax cross-entropy): the loss
/// and its gradients in both weights and biases, through the C# facade. Not in the list: an end-to-end check
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
        return r.Value.ToScalar() + r.Gradients[0].ValueAt(0, 0);
    }
}

/// <summary>Scaled dot-product attention (b = 8, h = 8, s = 128, d = 64) forward and backward to Q, K and V, through the
/// C# facade: two einsums around a softmax. Not in the list: an end-to-end check.</summary>
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
        return r.Value.ToScalar() + r.Gradients[0].ValueAt(0, 0, 0, 0);
    }
}
