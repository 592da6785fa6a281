using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Threading.Tasks;

namespace Functional.Kernels;

/// <summary>Sums of contiguous runs: out[i] = Σ src[i·inner .. (i+1)·inner). A single running sum waits four
/// cycles per element on the previous addition (about 1.2 µs for 1,024 elements here); four independent vector
/// accumulators take a tenth of that, and sum in a fixed order whatever the machine's vector width runs
/// (lanes of 8, combined pairwise at the end), so results do not depend on the hardware path. A run is read in
/// chunks of 32 elements, the last one padded with +0 (masked loads), so no element is added alone; within a run,
/// blocks of 32 chunks are added pairwise, so the rounding error grows like log n, not n.</summary>
internal static unsafe partial class Reduce
{
    /// <summary>Runs shorter than this are summed as one block: four accumulators, then their lanes.</summary>
    public const int OneBlock = 1024 + 1;

    public static void SumRuns(double[] src, int outer, int inner, double[] dst)
    {
        if ((long)outer * inner > src.Length || outer > dst.Length)
            throw new ArgumentException($"{outer} runs of {inner} do not fit {src.Length} inputs and {dst.Length} outputs.");
        // Inputs as large as L3 cannot all be in it: the short-run kernel asks for lines ahead (see Runs).
        bool ahead = (long)outer * inner * sizeof(double) >= Tuning.SumPrefetchBytes;
        fixed (double* s = src, d = dst)
        {
            // One long run (a loss's sum) is split by groups of blocks (SplitRun); large inputs with several runs are
            // split by runs over the cores: each run is still summed alone, in the same order, so the result does
            // not depend on the split.
            if (outer == 1 && inner >= SplitFrom)
                d[0] = SplitRun(new Stored(s), inner);
            else if ((long)outer * inner >= 1L << 18 && outer >= 2 && Fork.Cores > 1)
            {
                int chunk = (int)Math.Max(1L, (1L << 16) / Math.Max(1, inner));
                nint ps = (nint)s, pd = (nint)d;
                Fork.ForPieces(outer, chunk, (lo, hi) => Runs((double*)ps, inner, lo, hi, (double*)pd, ahead));
            }
            else
                Runs(s, inner, 0, outer, d, ahead);
        }
    }

    /// <summary>The sum of src[offset .. offset + n), in the order <see cref="SumRuns"/> sums each of its runs (so
    /// one row of a tensor summed alone has the same bits as that row summed with the others).</summary>
    public static double Sum(double[] src, int offset, int n)
    {
        if (offset < 0 || n < 0 || (long)offset + n > src.Length)
            throw new ArgumentException($"{n} elements from {offset} do not fit {src.Length}.");
        fixed (double* s = src) return SumOf(new Stored(s + offset), n);
    }

    /// <summary>Σ x[xOffset + i]·y[yOffset + i] for i &lt; n: each product rounded, then summed in the order
    /// <see cref="Sum"/> sums a stored run of them (the same bits), without storing them.</summary>
    public static double Dot(double[] x, int xOffset, double[] y, int yOffset, int n)
    {
        if (xOffset < 0 || yOffset < 0 || n < 0 || (long)xOffset + n > x.Length || (long)yOffset + n > y.Length)
            throw new ArgumentException($"{n} elements from {xOffset} and {yOffset} do not fit {x.Length} and {y.Length}.");
        fixed (double* px = x, py = y) return SumOf(new Products(px + xOffset, py + yOffset), n);
    }

    /// <summary>The sum of n elements made as they are read, on the calling thread, in the order <see cref="Sum"/>
    /// sums them stored.</summary>
    internal static double SumOnOneCore<T>(T elements, int n) where T : struct, IRunElements => Run(elements, n);

    /// <summary><see cref="SumOnOneCore{T}(T, int)"/> over the cores from <see cref="SplitFrom"/> elements (the same bits).</summary>
    internal static double SumOf<T>(T elements, int n) where T : struct, IRunElements =>
        n >= SplitFrom ? SplitRun(elements, n) : Run(elements, n);

    /// <summary>The same sum on the calling thread alone (tests compare the two bit for bit).</summary>
    internal static double SumOnOneCore(double[] src, int offset, int n)
    {
        if (offset < 0 || n < 0 || (long)offset + n > src.Length)
            throw new ArgumentException($"{n} elements from {offset} do not fit {src.Length}.");
        fixed (double* s = src) return Run(new Stored(s + offset), n);
    }

    /// <summary>Runs of at least this many elements (2 MB) are summed over the cores (<see cref="SplitRun"/>).</summary>
    public const int SplitFrom = 1 << 18;

    /// <summary>Blocks per task of <see cref="SplitRun"/>: 2^6 blocks of 1,024 elements (512 KB).</summary>
    private const int SplitLevel = 6;

    /// <summary><see cref="Run"/> of one long run over the cores, with the same bits. The pairwise sum of the blocks
    /// is a binary counter whose level k holds whole aligned groups of 2^k blocks, so each whole group of
    /// 2^SplitLevel blocks is summed by a task of its own (its sum is what the one-core counter holds at that
    /// level), the blocks after the last whole group by another (its own counter: the levels below), and then the
    /// groups' sums go through the counter from that level up and join the rest's in the counter's order, lowest
    /// level first. (One core summed 10⁶ elements in 142–166 µs, TorchSharp on two in 80–95.)</summary>
    private static double SplitRun<T>(T e, int n) where T : struct, IRunElements
    {
        const int per = 1024 << SplitLevel;
        int groups = n / per;
        if (groups < 2 || Fork.Cores < 2) return Run(e, n);
        // Each task's 8-lane sum as two halves (lanes 0–3, 4–7): lane-wise the same additions on either width.
        var sums = new Vector256<double>[2 * (groups + 1)];
        Fork.For(groups + 1, t =>
        {
            int start = t * per;
            int length = t < groups ? per : n - groups * per;
            Vector256<double> lo, hi;
            if (Vector512.IsHardwareAccelerated)
            {
                var v = Blocks(e, start, length);
                (lo, hi) = (v.GetLower(), v.GetUpper());
            }
            else (lo, hi) = Blocks256(e, start, length);
            sums[2 * t] = lo;
            sums[2 * t + 1] = hi;
        });
        return JoinGroups(n, sums, groups, per);
    }

    /// <summary>The groups' sums through the counter (levels from SplitLevel up), added to the rest's sum lowest level
    /// first, then the lanes.</summary>
    [SkipLocalsInit]
    private static double JoinGroups(int n, Vector256<double>[] sums, int groups, int per)
    {
        var lows = stackalloc Vector256<double>[32];
        var highs = stackalloc Vector256<double>[32];
        int count = 0;
        for (int g = 0; g < groups; g++) Push(lows, highs, ref count, sums[2 * g], sums[2 * g + 1]);
        // The rest's own counter already added its levels, lowest first; it had blocks if it had an element.
        var (accLo, accHi) = (sums[2 * groups], sums[2 * groups + 1]);
        bool any = n - groups * per > 0;
        for (int k = 0; (count >> k) != 0; k++)
            if (((count >> k) & 1) != 0)
            {
                (accLo, accHi) = any ? (lows[k] + accLo, highs[k] + accHi) : (lows[k], highs[k]);
                any = true;
            }
        return Lanes(accLo, accHi);
    }

    /// <summary>Runs i0..i1−1. Short runs go eight at a time (each summed exactly as <see cref="Run"/> sums it): one run
    /// of 64 elements is mostly its final lane reduction, which eight runs share.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Runs(double* s, int inner, int i0, int i1, double* d, bool ahead)
    {
        int i = i0;
        // Up to one block (1,024 elements) a run is summed by Run without pairing blocks, as Eight sums it.
        if (Avx512F.IsSupported && inner >= 32 && inner <= 512)
        {
            // From memory the eight runs' loads alone kept too few lines in flight (35 GB/s where a streaming sum
            // reads 70); asking for the lines of the eight runs two steps ahead reads at 68–84. From the caches the
            // asking costs 10–20 %, so only inputs as large as L3 ask.
            for (; i + 8 <= i1; i += 8)
            {
                if (ahead && i + 24 <= i1)
                {
                    double* next = s + (long)(i + 16) * inner;
                    for (int l = 0; l < 8 * inner; l += 8) Sse.Prefetch0(next + l);
                }
                Eight(s + (long)i * inner, inner, d + i);
            }
        }
        if (inner < OneBlock)
            for (; i + 4 <= i1; i += 4) FourRuns(s + (long)i * inner, inner, d + i);
        for (; i < i1; i++) d[i] = Run(new Stored(s + (long)i * inner), inner);
    }

    /// <summary>Four runs of n (one block at most) side by side, each summed exactly as <see cref="OneBlockSum"/>
    /// sums it; the four runs' chains overlap.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FourRuns(double* p, int n, double* d)
    {
        double* p1 = p + n, p2 = p1 + n, p3 = p2 + n;
        d[0] = Chunks(new Stored(p), n); d[1] = Chunks(new Stored(p1), n); d[2] = Chunks(new Stored(p2), n); d[3] = Chunks(new Stored(p3), n);
    }

    /// <summary>Eight runs of n: each run's four accumulators over its 32-element chunks, one run after the other (its
    /// lines in order: four runs read interleaved went at 31–36 GB/s from memory, run by run at 37–44, on Zen 5),
    /// then every run's lanes as Lanes adds them, for the eight at once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Eight(double* p, int n, double* d)
    {
        var z0 = LanePairs(Steps(new Stored(p), n), Steps(new Stored(p + n), n), Steps(new Stored(p + 2 * n), n), Steps(new Stored(p + 3 * n), n));
        var z1 = LanePairs(Steps(new Stored(p + 4 * n), n), Steps(new Stored(p + 5 * n), n), Steps(new Stored(p + 6 * n), n), Steps(new Stored(p + 7 * n), n));
        // Runs 0, 4, 1, 5, 2, 6, 3, 7: x[0] + x[1] of each, then in order of the runs.
        Vector512.Store(Avx512F.PermuteVar8x64(Avx512F.UnpackLow(z0, z1) + Avx512F.UnpackHigh(z0, z1), RunOrder), d);
    }

    private static readonly Vector512<long> RunOrder = Vector512.Create(0L, 2, 4, 6, 1, 3, 5, 7);

    /// <summary>(a0 + a1) + (a2 + a3) of one run's four accumulators over its 32-element chunks, the last padded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> Steps<T>(T e, int n) where T : struct, IRunElements
    {
        Vector512<double> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i + 32 <= n; i += 32)
        {
            a0 += e.Load8(i); a1 += e.Load8(i + 8); a2 += e.Load8(i + 16); a3 += e.Load8(i + 24);
        }
        if (i < n)
        {
            int r = n - i;
            a0 += e.Partial8(i, r); a1 += e.Partial8(i + 8, r - 8); a2 += e.Partial8(i + 16, r - 16); a3 += e.Partial8(i + 24, r - 24);
        }
        return (a0 + a1) + (a2 + a3);
    }

    /// <summary>The count (any int) elements at p that exist among the next 8, +0 in the other lanes, reading
    /// nothing past them (a masked load; the runtime's software vectors build it element by element). The lane
    /// numbers are a constant in the code: as a static field every use called the runtime for the class's statics.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<double> Partial8(double* p, int count)
    {
        if (count >= 8) return Vector512.Load(p);
        if (count <= 0) return Vector512<double>.Zero;
        if (Avx512F.IsSupported)
            return Avx512F.MaskLoad(p, Vector512.LessThan(Vector512.Create(0L, 1, 2, 3, 4, 5, 6, 7), Vector512.Create((long)count)).AsDouble(), Vector512<double>.Zero);
        return Vector512.Create(Partial4(p, count), Partial4(p + 4, count - 4));
    }

    /// <summary><see cref="Partial8"/> for 4 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<double> Partial4(double* p, int count)
    {
        if (count >= 4) return Vector256.Load(p);
        if (count <= 0) return Vector256<double>.Zero;
        if (Avx.IsSupported)
            return Avx.MaskLoad(p, Vector256.LessThan(Vector256.Create(0L, 1, 2, 3), Vector256.Create((long)count)).AsDouble());
        return Vector256.Create(p[0], count > 1 ? p[1] : 0.0, count > 2 ? p[2] : 0.0, 0.0);
    }

    /// <summary>For four runs' lane vectors v: x = [(v0 + v4) + (v2 + v6), (v1 + v5) + (v3 + v7)] of each, as two lanes
    /// per run in order of the runs (the halves added first, then the quarters, as Lanes adds them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> LanePairs(Vector512<double> v0, Vector512<double> v1, Vector512<double> v2, Vector512<double> v3)
    {
        var h01 = Avx512F.Shuffle4x128(v0, v1, 0b01_00_01_00) + Avx512F.Shuffle4x128(v0, v1, 0b11_10_11_10);
        var h23 = Avx512F.Shuffle4x128(v2, v3, 0b01_00_01_00) + Avx512F.Shuffle4x128(v2, v3, 0b11_10_11_10);
        return Avx512F.Shuffle4x128(h01, h23, 0b10_00_10_00) + Avx512F.Shuffle4x128(h01, h23, 0b11_01_11_01);
    }

    /// <summary>Sum of one run, in a fixed order whose rounding error grows like log n: chunks of 32 elements, the
    /// last padded with +0; blocks of 32 chunks, in which lane l of accumulator q adds the elements at 32·t + 8·q + l;
    /// the blocks' 8-lane partial sums added pairwise (a binary counter over the blocks); then the lanes pairwise.
    /// The same bits on every vector width: the Vector256 path holds each 8-lane sum as two halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double Run<T>(T e, int n) where T : struct, IRunElements
    {
        if (n >= OneBlock) return Blocked(e, n);
        return OneBlockSum(e, n);
    }

    /// <summary>The elements a run sums: stored ones, or products made as they are read (a dot product, softmax's VJP).</summary>
    internal interface IRunElements
    {
        Vector512<double> Load8(int i);
        Vector256<double> Load4(int i);
        Vector512<double> Partial8(int i, int count);
        Vector256<double> Partial4(int i, int count);
    }

    internal readonly struct Stored(double* p) : IRunElements
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<double> Load8(int i) => Vector512.Load(p + i);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<double> Load4(int i) => Vector256.Load(p + i);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<double> Partial8(int i, int count) => Reduce.Partial8(p + i, count);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<double> Partial4(int i, int count) => Reduce.Partial4(p + i, count);
    }

    /// <summary>g[i]·y[i], each product rounded before it is added: the bits of summing a stored row of them.</summary>
    internal readonly struct Products(double* g, double* y) : IRunElements
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<double> Load8(int i) => Vector512.Load(g + i) * Vector512.Load(y + i);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<double> Load4(int i) => Vector256.Load(g + i) * Vector256.Load(y + i);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<double> Partial8(int i, int count) => Reduce.Partial8(g + i, count) * Reduce.Partial8(y + i, count);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<double> Partial4(int i, int count) => Reduce.Partial4(g + i, count) * Reduce.Partial4(y + i, count);
    }

    /// <summary>A run of one block at most in <see cref="Run"/>'s order, as Blocked adds a block: the four
    /// accumulators of 32-element chunks (the last padded with +0), then their lanes pairwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static double OneBlockSum<T>(T e, int n) where T : struct, IRunElements => Chunks(e, n);

    /// <summary><see cref="OneBlockSum"/>, inlined where several runs go side by side; +0 for an empty run.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Chunks<T>(T e, int n) where T : struct, IRunElements
    {
        if (n <= 0) return 0.0;
        if (Vector512.IsHardwareAccelerated) return Lanes(Steps(e, n));
        int i = 0;
        // The same partial sums as above, each Vector512 accumulator held as two Vector256 halves.
        Vector256<double> c0 = default, c1 = default, c2 = default, c3 = default;
        Vector256<double> d0 = default, d1 = default, d2 = default, d3 = default;
        for (; i + 32 <= n; i += 32)
        {
            c0 += e.Load4(i); d0 += e.Load4(i + 4);
            c1 += e.Load4(i + 8); d1 += e.Load4(i + 12);
            c2 += e.Load4(i + 16); d2 += e.Load4(i + 20);
            c3 += e.Load4(i + 24); d3 += e.Load4(i + 28);
        }
        if (i < n)
        {
            int r = n - i;
            c0 += e.Partial4(i, r); d0 += e.Partial4(i + 4, r - 4);
            c1 += e.Partial4(i + 8, r - 8); d1 += e.Partial4(i + 12, r - 12);
            c2 += e.Partial4(i + 16, r - 16); d2 += e.Partial4(i + 20, r - 20);
            c3 += e.Partial4(i + 24, r - 24); d3 += e.Partial4(i + 28, r - 28);
        }
        return Lanes((c0 + c1) + (c2 + c3), (d0 + d1) + (d2 + d3));
    }

    /// <summary><see cref="Run"/> for a run of more than one block: the blocks pairwise, then lanes.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static double Blocked<T>(T e, int n) where T : struct, IRunElements
    {
        if (Vector512.IsHardwareAccelerated) return Lanes(Blocks(e, 0, n));
        var (lo, hi) = Blocks256(e, 0, n);
        return Lanes(lo, hi);
    }

    /// <summary>Lane-wise, the pairwise sum of the blocks of 32 chunks of 32 elements of the run's n elements from
    /// <paramref name="start"/> (the last block may have fewer chunks, the last chunk fewer elements: +0 in their
    /// place).</summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector512<double> Blocks<T>(T e, int start, int n) where T : struct, IRunElements
    {
        // levels[k] holds the sum of 2^k consecutive blocks while bit k of count is set.
        var levels = stackalloc Vector512<double>[32];
        int count = 0, i = start;
        n += start;
        while (i < n)
        {
            Vector512<double> a0 = default, a1 = default, a2 = default, a3 = default;
            int chunks = Math.Min(32, (n - i) / 32);
            for (int c = 0; c < chunks; c++, i += 32)
            {
                a0 += e.Load8(i);
                a1 += e.Load8(i + 8);
                a2 += e.Load8(i + 16);
                a3 += e.Load8(i + 24);
            }
            // The last chunk, short of 32, in the block it falls in.
            if (chunks < 32 && i < n)
            {
                int r = n - i;
                a0 += e.Partial8(i, r); a1 += e.Partial8(i + 8, r - 8); a2 += e.Partial8(i + 16, r - 16); a3 += e.Partial8(i + 24, r - 24);
                i = n;
            }
            var v = (a0 + a1) + (a2 + a3);
            int k = 0;
            for (; ((count >> k) & 1) != 0; k++) v = levels[k] + v;
            levels[k] = v;
            count++;
        }
        Vector512<double> acc = default;
        bool any = false;
        for (int k = 0; (count >> k) != 0; k++)
            if (((count >> k) & 1) != 0) { acc = any ? levels[k] + acc : levels[k]; any = true; }
        return acc;
    }

    /// <summary><see cref="Blocks"/> with each 8-lane sum held as two Vector256 halves (lanes 0–3, 4–7): the same
    /// additions in the same order.</summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (Vector256<double> Lo, Vector256<double> Hi) Blocks256<T>(T e, int start, int n) where T : struct, IRunElements
    {
        var lows = stackalloc Vector256<double>[32];
        var highs = stackalloc Vector256<double>[32];
        int count = 0, i = start;
        n += start;
        while (i < n)
        {
            Vector256<double> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector256<double> b0 = default, b1 = default, b2 = default, b3 = default;
            int chunks = Math.Min(32, (n - i) / 32);
            for (int c = 0; c < chunks; c++, i += 32)
            {
                a0 += e.Load4(i); b0 += e.Load4(i + 4);
                a1 += e.Load4(i + 8); b1 += e.Load4(i + 12);
                a2 += e.Load4(i + 16); b2 += e.Load4(i + 20);
                a3 += e.Load4(i + 24); b3 += e.Load4(i + 28);
            }
            if (chunks < 32 && i < n)
            {
                int r = n - i;
                a0 += e.Partial4(i, r); b0 += e.Partial4(i + 4, r - 4);
                a1 += e.Partial4(i + 8, r - 8); b1 += e.Partial4(i + 12, r - 12);
                a2 += e.Partial4(i + 16, r - 16); b2 += e.Partial4(i + 20, r - 20);
                a3 += e.Partial4(i + 24, r - 24); b3 += e.Partial4(i + 28, r - 28);
                i = n;
            }
            Push(lows, highs, ref count, (a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3));
        }
        return Levels(lows, highs, count);
    }

    /// <summary>One block's 8-lane sum (as two halves) into the binary counter of <see cref="Blocks256"/>: while bit k
    /// of count is set, levels[k] holds the sum of 2^k consecutive blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Push(Vector256<double>* lows, Vector256<double>* highs, ref int count, Vector256<double> lo, Vector256<double> hi)
    {
        int k = 0;
        for (; ((count >> k) & 1) != 0; k++) { lo = lows[k] + lo; hi = highs[k] + hi; }
        lows[k] = lo;
        highs[k] = hi;
        count++;
    }

    /// <summary>The counter's levels added, lowest first: the pairwise sum of every block pushed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<double> Lo, Vector256<double> Hi) Levels(Vector256<double>* lows, Vector256<double>* highs, int count)
    {
        Vector256<double> accLo = default, accHi = default;
        bool any = false;
        for (int k = 0; (count >> k) != 0; k++)
            if (((count >> k) & 1) != 0)
            {
                (accLo, accHi) = any ? (lows[k] + accLo, highs[k] + accHi) : (lows[k], highs[k]);
                any = true;
            }
        return (accLo, accHi);
    }

    /// <summary>Lanes 0..7 added pairwise: ((0+4)+(2+6)) + ((1+5)+(3+7)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double Lanes(Vector512<double> v) =>
        Lanes(v.GetLower(), v.GetUpper());

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double Lanes(Vector256<double> lo, Vector256<double> hi)
    {
        var s = lo + hi; // lanes 0+4, 1+5, 2+6, 3+7
        var u = s.GetLower() + s.GetUpper(); // (0+4)+(2+6), (1+5)+(3+7)
        return u.ToScalar() + u.GetElement(1);
    }
}
