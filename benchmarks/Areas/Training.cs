using System.Globalization;
using BenchmarkDotNet.Attributes;
using TorchSharp;
using TT = TorchSharp.torch.Tensor;

namespace Functional.Benchmarks;

/// <summary>The README's Iris example: 200 full-batch Adam epochs of a 4 → 16 → 3 tanh perceptron on 120 rows, from
/// the same initial weights; ours through the facade, TorchSharp's with torch.optim.Adam and cross_entropy.</summary>
[Config(typeof(ShortConfig))]
public class IrisTraining
{
    private Tensor x = null!;
    private int[] y = null!;
    private Tensor[] start = null!;
    private TT tx = null!, ty = null!;

    [GlobalSetup]
    public void Setup()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Functional.sln"))) dir = dir.Parent;
        var rows = File.ReadAllLines(Path.Combine(dir!.FullName, "data", "iris.csv")).Skip(1).Select(l => l.Split(',')).Where((_, i) => i % 5 != 0).ToArray();
        string[] species = { "setosa", "versicolor", "virginica" };
        var raw = Tensor.FromArray(rows.SelectMany(r => r.Take(4).Select(v => double.Parse(v, CultureInfo.InvariantCulture))).ToArray(), rows.Length, 4);
        var c = raw - raw.Mean(new[] { 0 }, true);
        x = c / c.Square().Mean(new[] { 0 }, true).Sqrt();
        y = rows.Select(r => Array.IndexOf(species, r[4])).ToArray();
        start = new[] { Tensor.Normal(new[] { 4, 16 }, seed: 1, 0, 0.5), Tensor.Zeros(16), Tensor.Normal(new[] { 16, 3 }, seed: 2, 0, 0.5), Tensor.Zeros(3) };
        tx = torch.tensor(x.ToArray(), new long[] { rows.Length, 4 }, torch.ScalarType.Float64).DetachFromDisposeScope();
        ty = torch.tensor(y.Select(l => (long)l).ToArray()).DetachFromDisposeScope();
    }

    private static Tensor Logits(Tensor[] p, Tensor input) => (input.MatMul(p[0]) + p[1]).Tanh().MatMul(p[2]) + p[3];

    [Benchmark(Baseline = true)]
    public double TorchSharp()
    {
        using var scope = torch.NewDisposeScope();
        var ps = start.Select(p => new TorchSharp.Modules.Parameter(torch.tensor(p.ToArray(), p.Shape.Select(d => (long)d).ToArray(), torch.ScalarType.Float64))).ToList();
        var adam = torch.optim.Adam(ps, 0.05);
        for (int epoch = 0; epoch < 200; epoch++)
        {
            using var step = torch.NewDisposeScope();
            adam.zero_grad();
            var logits = torch.matmul(torch.tanh(torch.matmul(tx, ps[0]) + ps[1]), ps[2]) + ps[3];
            torch.nn.functional.cross_entropy(logits, ty).backward();
            adam.step();
        }
        return ps[3].data<double>()[0];
    }

    [Benchmark]
    public double Functional()
    {
        var ps = start;
        var adam = new Adam(0.05);
        var state = adam.Init(ps);
        for (int epoch = 0; epoch < 200; epoch++)
        {
            var grads = Autodiff.Grad(p => Loss.CrossEntropy(Logits(p, x), y), ps);
            (ps, state) = adam.Step(ps, grads, state);
        }
        return ps[3].ValueAt(0);
    }
}
