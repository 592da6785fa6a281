using System;

namespace Functional.Kernels;

/// <summary>
/// Every switch between equivalent code paths, in one place. Each path gives the documented results (the tests
/// compare them, most bit for bit); the defaults are the fastest measured (docs/PERFORMANCE.md). Tests and
/// benchmarks set them; nothing reads the environment.
/// </summary>
internal static class Tuning
{
    /// <summary>Products up to 160×160 (A·Bᵀ up to 256×256; 96×96 with the 6×8 tile) with k ≤ 512 read their
    /// operands in place instead of packing them (bit-identical either way).</summary>
    public static bool GemmInPlace = true;

    /// <summary>A long k on a small output is split into chunks summed in a fixed order (the same bits on
    /// every run and any core count).</summary>
    public static bool GemmSplitK = true;

    /// <summary>The packed product's cache blocks, chosen for this CPU (any blocks give the same bits).</summary>
    public static GemmBlocking GemmBlocks = GemmBlocking.ForThisMachine();

    /// <summary>The simple kernel takes four rows at a time (bit-identical to one row at a time).</summary>
    public static bool SimpleGemmGroupRows = true;

    /// <summary>The simple kernel shares a product of a few rows over a large B out by columns, the rows taken
    /// together (bit-identical to a task per row; off: a task per row).</summary>
    public static bool SimpleGemmColumns = true;

    /// <summary>Milliseconds the kernels' worker threads spin for the next parallel loop before they sleep
    /// (<see cref="Fork"/>); 0: every loop goes to the thread pool instead (the same results). The one switch
    /// users set too, through <c>Limits.setWorkerSpinMilliseconds</c>.</summary>
    public static double SpinMs = 20;

    /// <summary>Kernels that spend nanoseconds per element (the exponential's family, the logarithm, GELU, powers,
    /// softmax rows and their VJPs) run on every core from this many elements on, in chunks shorter than the usual
    /// 16,384 elements if need be (<see cref="Fork.PerTask"/>); int.MaxValue: chunks of 16,384 only. Each element
    /// or row is one task's, so the same bits.</summary>
    public static int SplitCostlyFrom = 3072;

    /// <summary>Lane kernels run eight lanes where AVX-512 runs; off, the four-lane formulas (the same bits).</summary>
    public static bool EightLanes = true;

    /// <summary>Softmax and log-softmax run fused per row or per block of a middle axis; off, as separate passes
    /// (bit-identical).</summary>
    public static bool FusedSoftmax = true;

    /// <summary>Results of the element-wise operators (Tensor.add and sub where <see cref="StreamSums"/>, mul, div,
    /// neg, scale, √) and of the four-lane
    /// loops (Lanes.map and Lanes.zip: ReLU, leaky ReLU and the one-pass VJPs) of at least this many bytes are
    /// written with non-temporal stores, around the caches: an eighth of this CPU's L3, at most 4 MB (4 MB when
    /// CPUID does not tell). Written through the cache, such a result first reads every line it writes and evicts
    /// the operands that the backward pass reads again (the same bits either way). The cap: a VM on a many-core
    /// Intel Xeon (family 6 model 207) is told the whole socket's L3, 260 MB, of which its two cores get a small
    /// share; there 8 MB results through the caches left plain x·y fwd+bwd on 10⁶ at 0.69× TorchSharp, around
    /// them 1.23×.</summary>
    public static long NonTemporalBytes = NonTemporalBytesFor(CpuInfo.Current.L3Bytes);

    /// <summary>The <see cref="NonTemporalBytes"/> rule for an L3 of <paramref name="l3Bytes"/> (0: unknown).</summary>
    public static long NonTemporalBytesFor(long l3Bytes) => l3Bytes > 0 ? Math.Min(l3Bytes / 8, 4L << 20) : 4L << 20;

    /// <summary>Whether large results of Tensor.add and sub in a scope go around the caches too
    /// (<see cref="NonTemporalBytes"/>). Their VJPs read no operand, so what decides is where the result is read
    /// next, and that depends on the CPU (<see cref="StreamSumsFor"/>).</summary>
    public static bool StreamSums = StreamSumsFor(CpuInfo.Current);

    /// <summary>The <see cref="StreamSums"/> rule: around the caches on Intel CPUs, through them on the others. On an
    /// Intel Xeon (family 6 model 207) x + y fwd+bwd on 10⁶ in a scope ran 1.15–1.22× faster around them (the
    /// benchmarks' <c>stores</c> mode, five runs). On AMD Zen 5 (family 26) it ran 1.09–1.4× faster through them; on
    /// AMD Zen 4, with each parallel task on the same core from call to call, 1.26–1.51× faster through them in the
    /// VM's slow stretches and 0.88–0.99× as fast in its fast ones, round by round (docs/PERFORMANCE.md).</summary>
    public static bool StreamSumsFor(CpuInfo cpu) => cpu.IsIntel;

    /// <summary>Large results made outside every scope (plain results, whose arrays come fresh from the GC or
    /// recycled after a collection, so not from the caches) are written around the caches by every kernel that can
    /// (<see cref="NonTemporalBytes"/>), whatever the switches above say for results in a scope (the same bits).</summary>
    public static bool StreamPlainResults = true;

    /// <summary>Kernels that write a result in runs (softmax's and log-softmax's rows and their VJPs, a middle axis's
    /// segments) take non-temporal stores for a plain result only for runs of at least this many elements: a run's
    /// ends that are off the vectors' alignment go through cached stores, and a line shared between the two kinds
    /// costs more than the stores save unless the run is long. Plain softmax over 2^20 elements on AMD Zen 4,
    /// streamed against cached: rows of 9 3.96× slower, 257 1.46×, 513 1.15×, 640 0.88×, 768 0.87×, 1,000
    /// 0.85–0.93×; log-softmax fwd+bwd rows of 513 1.17×, 640 1.01×, 1,000 0.87×.</summary>
    public static int StreamRunsFrom = 768;

    /// <summary>Sums of short runs over inputs of at least this many bytes (which cannot all sit in L3) ask for their
    /// lines ahead of the loads (from memory 1.2–1.6× faster; from the caches 10–20 % slower): this CPU's L3 (32 MB
    /// when CPUID does not tell). The same bits either way.</summary>
    public static long SumPrefetchBytes = CpuInfo.Current.L3Bytes > 0 ? CpuInfo.Current.L3Bytes : 32L << 20;

    /// <summary>Results of fewer elements than this, made outside a scope's pool, are allocated zeroed: from 2 KB on,
    /// <c>GC.AllocateUninitializedArray</c> leaves the inline allocation for a call into the runtime, while small
    /// zeroed arrays come from memory the GC has cleared already (sum(GELU(A·B)) value and gradients 12 % faster at
    /// 16×16, 5 % at 32×32). 0: every result uninitialised (the same bits; a kernel writes every element).</summary>
    public static int ZeroedBelow = 2048;

    /// <summary>Arrays returned to a scope's pool are filled with NaN (tests: a kernel that reads an output before
    /// writing it shows up as a wrong answer).</summary>
    public static bool PoisonPooledArrays = false;
}
