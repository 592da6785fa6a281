using BenchmarkDotNet.Attributes;
using Microsoft.FSharp.Core;
using TorchSharp;
using Core = Functional.Core;

namespace Functional.Benchmarks;

/// <summary>Slicing, gathering and joining 10⁶ elements, forward and backward (a random adjoint): ours through the
/// core's pullbacks (narrow ↔ pad, indexSelect ↔ indexAdd, concat ↔ narrow), TorchSharp's with autograd. Then
/// pieces taken from one tensor, whose adjoints meet again: a 1000×1000 matrix split into column halves and joined
/// back (`halves`), the 300 rows of a 300×300 matrix taken one at a time and summed (`rows`), a 10000×256 table
/// looked up twice by 512 indices (`lookups`).</summary>
[Config(typeof(ShortConfig))]
public class SliceGatherConcat
{
    [Params("slice", "gather", "concat", "halves", "rows", "lookups")] public string Op = "";
    private Core.Value[] xs = null!;
    private Core.Value g = null!;
    private torch.Tensor[] txs = null!;
    private torch.Tensor tg = null!, tIndex = null!, tLookup = null!;
    private Func<torch.Tensor> torchF = null!;
    private int[] index = null!;
    private FSharpFunc<Core.Value[], Core.Value> f = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new System.Random(7);
        index = Enumerable.Range(0, 1000).Select(_ => rng.Next(1000)).ToArray();
        tIndex = torch.tensor(index.Select(i => (long)i).ToArray()).DetachFromDisposeScope();
        var inputs = Op switch
        {
            "concat" => new[] { Core.TensorModule.random(1, new[] { 500, 1000 }), Core.TensorModule.random(2, new[] { 500, 1000 }) },
            "rows" => new[] { Core.TensorModule.random(1, new[] { 300, 300 }) },
            "lookups" => new[] { Core.TensorModule.random(1, new[] { 10000, 256 }) },
            _ => new[] { Core.TensorModule.random(1, new[] { 1000, 1000 }) },
        };
        int[] outShape = Op switch { "slice" => new[] { 1000, 800 }, "rows" => Array.Empty<int>(), "lookups" => new[] { 512, 256 }, _ => new[] { 1000, 1000 } };
        var tokens = Enumerable.Range(0, 512).Select(_ => rng.Next(10000)).ToArray();
        var tTokens = torch.tensor(tokens.Select(i => (long)i).ToArray()).DetachFromDisposeScope();
        xs = inputs.Select(Core.ValueModule.constant).ToArray();
        txs = inputs.Select(t => Workloads.Leaf(t, true)).ToArray();
        var gt = Core.TensorModule.random(3, outShape);
        g = Core.ValueModule.constant(gt);
        tg = Workloads.Leaf(gt, false);
        f = FuncConvert.FromFunc<Core.Value[], Core.Value>(v => Op switch
        {
            "slice" => Core.Indexing.narrow(1, 100, 800, v[0]),
            "gather" => Core.Indexing.indexSelect(0, index, v[0]),
            "halves" => Core.Indexing.concat(1, new[] { Core.Indexing.narrow(1, 0, 500, v[0]), Core.Indexing.narrow(1, 500, 500, v[0]) }),
            "rows" => Enumerable.Range(0, 300).Select(i => Core.Reduction.sum(Core.Layout.select(i, v[0]))).Aggregate(Core.Arithmetic.add),
            "lookups" => Core.Arithmetic.add(Core.Indexing.indexSelect(0, index.Take(512).Select(i => i * 10).ToArray(), v[0]), Core.Indexing.indexSelect(0, tokens, v[0])),
            _ => Core.Indexing.concat(0, v),
        });
        torchF = Op switch
        {
            "slice" => () => txs[0].narrow(1, 100, 800),
            "gather" => () => txs[0].index_select(0, tIndex),
            "halves" => () => torch.cat(new[] { txs[0].narrow(1, 0, 500), txs[0].narrow(1, 500, 500) }, 1),
            "rows" => () => Enumerable.Range(0, 300).Select(i => txs[0][i].sum()).Aggregate((a, b) => a + b),
            "lookups" => () => txs[0].index_select(0, tLookup) + txs[0].index_select(0, tTokens),
            _ => () => torch.cat(txs, 0),
        };
        tLookup = torch.tensor(index.Take(512).Select(i => (long)i * 10).ToArray()).DetachFromDisposeScope();
    }

    [Benchmark(Baseline = true)]
    public void TorchSharp()
    {
        using var scope = torch.NewDisposeScope();
        torch.autograd.grad(new[] { torchF() }, txs, new[] { tg });
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
