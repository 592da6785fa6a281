using BenchmarkDotNet.Attributes;
using Microsoft.FSharp.Core;
using TorchSharp;
using Core = Functional.Core;

namespace Functional.Benchmarks;

/// <summary>Slicing, gathering and joining 10⁶ elements, forward and backward (a random adjoint): ours through the
/// core's pullbacks (narrow ↔ pad, indexSelect ↔ indexAdd, concat ↔ narrow), TorchSharp's with autograd.</summary>
[Config(typeof(ShortConfig))]
public class SliceGatherConcat
{
    [Params("slice", "gather", "concat")] public string Op = "";
    private Core.Value[] xs = null!;
    private Core.Value g = null!;
    private torch.Tensor[] txs = null!;
    private torch.Tensor tg = null!, tIndex = null!;
    private int[] index = null!;
    private FSharpFunc<Core.Value[], Core.Value> f = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new System.Random(7);
        index = Enumerable.Range(0, 1000).Select(_ => rng.Next(1000)).ToArray();
        tIndex = torch.tensor(index.Select(i => (long)i).ToArray()).DetachFromDisposeScope();
        var inputs = Op == "concat"
            ? new[] { Core.TensorModule.random(1, new[] { 500, 1000 }), Core.TensorModule.random(2, new[] { 500, 1000 }) }
            : new[] { Core.TensorModule.random(1, new[] { 1000, 1000 }) };
        int[] outShape = Op == "slice" ? new[] { 1000, 800 } : new[] { 1000, 1000 };
        xs = inputs.Select(Core.ValueModule.constant).ToArray();
        txs = inputs.Select(t => Workloads.Leaf(t, true)).ToArray();
        var gt = Core.TensorModule.random(3, outShape);
        g = Core.ValueModule.constant(gt);
        tg = Workloads.Leaf(gt, false);
        f = FuncConvert.FromFunc<Core.Value[], Core.Value>(v => Op switch
        {
            "slice" => Core.Indexing.narrow(1, 100, 800, v[0]),
            "gather" => Core.Indexing.indexSelect(0, index, v[0]),
            _ => Core.Indexing.concat(0, v),
        });
    }

    [Benchmark(Baseline = true)]
    public void TorchSharp()
    {
        using var scope = torch.NewDisposeScope();
        var y = Op switch
        {
            "slice" => txs[0].narrow(1, 100, 800),
            "gather" => txs[0].index_select(0, tIndex),
            _ => torch.cat(txs, 0),
        };
        torch.autograd.grad(new[] { y }, txs, new[] { tg });
    }

    [Benchmark]
    public object Functional()
    {
        var r = Core.Autodiff.vjpMany(f, xs);
        return r.Item2.Invoke(g);
    }

    [Benchmark]
    public int FunctionalScoped()
    {
        using var scope = Core.TensorModule.scope();
        var r = Core.Autodiff.vjpMany(f, xs);
        return r.Item2.Invoke(g).Length;
    }
}
