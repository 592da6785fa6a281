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
    public double OneCore() => Functional.Kernels.Peak.Chains(Iterations);

    [Benchmark(Description = "all cores: the same on each")]
    public void AllCores() => Parallel.For(0, Environment.ProcessorCount, _ => Functional.Kernels.Peak.Chains(Iterations));
}
