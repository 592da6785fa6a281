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

    // The kernels' own parallel loop, whose workers wait spinning: the thread pool's would add their wake-up to the
    // time (Parallel.For measured about 4 % below the peak the barrier-started threads of `Peak.Measure` reach).
    [Benchmark(Description = "all cores: the same on each")]
    public void AllCores() => Functional.Kernels.Fork.For(Environment.ProcessorCount, _ => Functional.Kernels.Peak.Chains(Iterations));
}
