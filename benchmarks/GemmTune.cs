using Core = Functional.Core;
using Functional.Kernels;

namespace Functional.Benchmarks;

/// <summary>The packed product's cache blocks against each other on this machine: the forward n×n product in a
/// `TensorScope` under every blocking of a grid (env KCS, MCS, NCS; sizes NS; ROUNDS rounds, the blockings
/// alternating within each), medians. It prints this CPU as CPUID reads it, the blocking chosen for it, and where
/// that choice ranks: the figures to set `GemmBlocking.ForThisMachine` from. Any blocking gives the same bits.</summary>
public static class GemmTune
{
    private static int[] Ints(string name, string fallback) =>
        (Environment.GetEnvironmentVariable(name) ?? fallback).Split(',').Select(int.Parse).ToArray();

    public static void Run()
    {
        var sizes = Ints("NS", "1024");
        int rounds = Environment.GetEnvironmentVariable("ROUNDS") is string r ? int.Parse(r) : 3;
        var grid = (from kc in Ints("KCS", "128,192,256,384,512,768")
                    from mc in Ints("MCS", "64,128,192,256,384,512")
                    from nc in Ints("NCS", "1024,2048")
                    select new GemmBlocking(kc, mc, nc).Checked()).ToList();
        var chosen = Tuning.GemmBlocks;
        if (!grid.Contains(chosen)) grid.Add(chosen);
        if (!grid.Contains(GemmBlocking.Measured)) grid.Add(GemmBlocking.Measured);
        Console.WriteLine($"CPUID: {CpuInfo.Current}; chosen blocks: {chosen}");
        try
        {
            foreach (int n in sizes)
            {
                var a = Core.ValueModule.constant(Core.TensorModule.random(1, new[] { n, n }));
                var b = Core.ValueModule.constant(Core.TensorModule.random(2, new[] { n, n }));
                double flops = 2.0 * n * n * n;
                var times = grid.ToDictionary(g => g, _ => new List<double>());
                for (int round = 0; round < rounds; round++)
                    foreach (var g in grid)
                    {
                        Tuning.GemmBlocks = g;
                        times[g].Add(Quick.PerCall(() => { using var s = Core.TensorModule.scope(); Core.Linear.matmul(a, b); }, 2));
                    }
                var ranked = grid.Select(g => (Blocks: g, Seconds: Quick.Median(times[g]))).OrderBy(t => t.Seconds).ToList();
                double best = ranked[0].Seconds;
                Console.WriteLine($"n = {n}, forward in a scope, medians of {rounds} rounds:");
                Console.WriteLine("| rank | KC | MC | NC | time | GFLOP/s | against the fastest |");
                Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
                for (int i = 0; i < ranked.Count; i++)
                {
                    var (g, t) = ranked[i];
                    bool mark = g == chosen || g == GemmBlocking.Measured || i == ranked.Count - 1;
                    if (i >= 10 && !mark) continue;
                    string note = g == chosen ? " (chosen)" : g == GemmBlocking.Measured ? " (measured default)" : i == ranked.Count - 1 ? " (slowest)" : "";
                    Console.WriteLine($"| {i + 1}{note} | {g.KC} | {g.MC} | {g.NC} | {t * 1e3:F2} ms | {flops / t / 1e9:F1} | {t / best:F3}× |");
                }
            }
        }
        finally { Tuning.GemmBlocks = chosen; }
    }
}
