using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;

namespace Functional.Kernels;

/// <summary>Sums over a middle axis: dst[o, t] = Σ_m src[o, m, t] for src outer×mid×inner, rows added as vectors
/// across t (no transposing copy to bring the summed axis innermost). Each position is summed in one fixed order,
/// the same on every vector width and any split over the cores: blocks of <see cref="MiddleBlock"/> consecutive
/// rows in order from +0, then the blocks' sums pairwise through a binary counter (<see cref="PushRows"/>,
/// <see cref="TotalRows"/>), so the rounding error grows like log mid, not mid. Up to one block that is the plain
/// in-order sum. Fused passes that sum along a middle axis (softmax's) keep the same order with
/// <see cref="AfterRow"/>.</summary>
internal static unsafe partial class Reduce
{
    /// <summary>Rows summed in order before a block's sum goes onto the counter: as many as each lane of
    /// <see cref="Run"/>'s accumulators adds in order within its blocks.</summary>
    public const int MiddleBlock = 32;

    /// <summary>The counter levels a sum over mid rows uses (0 when mid is one block: no counter).</summary>
    public static int MiddleLevels(int mid)
    {
        int blocks = (int)(((long)mid + MiddleBlock - 1) / MiddleBlock);
        return blocks <= 1 ? 0 : 32 - BitOperations.LeadingZeroCount((uint)blocks);
    }

    public static void SumMiddle(double[] src, int outer, int mid, int inner, double[] dst)
    {
        if (outer < 0 || mid < 0 || inner < 0 || (long)outer * mid * inner > src.Length || (long)outer * inner > dst.Length)
            throw new ArgumentException($"{outer}×{mid}×{inner} inputs and {outer}×{inner} outputs do not fit arrays of {src.Length} and {dst.Length}.");
        // Blocks of 512 columns, narrower (down to 32) while that leaves fewer than two tasks a core: otherwise a sum
        // over leading axes into a short last axis (`bij->j`, 64 columns) is one task on one core. Columns are
        // independent, so any split gives the same bits.
        int block = 512;
        while (block > 32 && (long)outer * ((inner + block - 1) / block) < 2L * Environment.ProcessorCount) block /= 2;
        int blocks = (inner + block - 1) / block;
        fixed (double* s = src, d = dst)
        {
            nint ps = (nint)s, pd = (nint)d;
            void Task(long task)
            {
                long o = task / blocks;
                int t0 = (int)(task - o * blocks) * block, t1 = Math.Min(inner, t0 + block);
                Middle((double*)ps + o * mid * inner, (double*)pd + o * inner, mid, inner, t0, t1);
            }
            long tasks = (long)outer * blocks;
            if ((long)outer * mid * inner >= 1L << 18 && tasks >= 2 && Environment.ProcessorCount > 1)
                Parallel.For(0L, tasks, Task);
            else
                for (long t = 0; t < tasks; t++) Task(t);
        }
    }

    /// <summary>Columns t0..t1−1: groups of 32 (eight-lane vectors), then 4, then one. Several groups of 32 over more
    /// than one block of rows go block by block across all of them (<see cref="Groups32ByBlocks"/>); otherwise each
    /// group keeps its counter in registers and on the stack.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Middle(double* s, double* d, int mid, int inner, int t0, int t1)
    {
        int t = t0;
        if (Vector512.IsHardwareAccelerated)
        {
            int wide = (t1 - t0) / 32 * 32;
            if (mid > MiddleBlock && wide > 32) { Groups32ByBlocks(s + t, d + t, mid, inner, wide); t += wide; }
            for (; t + 32 <= t1; t += 32) Group32(s + t, d + t, mid, inner);
        }
        for (; t + 4 <= t1; t += 4) Group4(s + t, d + t, mid, inner);
        for (; t < t1; t++) Group1(s + t, d + t, mid, inner);
    }

    /// <summary>32 columns as four eight-lane vectors (four independent chains of additions), one block at a time.</summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Group32(double* s, double* d, int mid, int inner)
    {
        // Four vectors a level; 27 levels cover any int count of rows.
        var levels = stackalloc Vector512<double>[4 * 28];
        int count = 0;
        for (int m0 = 0; m0 < mid || m0 == 0; m0 += MiddleBlock)
        {
            int m1 = Math.Min(mid, m0 + MiddleBlock);
            Vector512<double> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int m = m0; m < m1; m++)
            {
                double* row = s + (long)m * inner;
                a0 += Vector512.Load(row); a1 += Vector512.Load(row + 8);
                a2 += Vector512.Load(row + 16); a3 += Vector512.Load(row + 24);
            }
            if (m1 >= mid && count == 0)
            {
                Vector512.Store(a0, d); Vector512.Store(a1, d + 8); Vector512.Store(a2, d + 16); Vector512.Store(a3, d + 24);
                return;
            }
            int k = 0;
            for (; ((count >> k) & 1) != 0; k++)
            {
                var l = levels + 4 * k;
                a0 = l[0] + a0; a1 = l[1] + a1; a2 = l[2] + a2; a3 = l[3] + a3;
            }
            var top = levels + 4 * k;
            top[0] = a0; top[1] = a1; top[2] = a2; top[3] = a3;
            count++;
        }
        Vector512<double> r0 = default, r1 = default, r2 = default, r3 = default;
        bool any = false;
        for (int k = 0; (count >> k) != 0; k++)
            if (((count >> k) & 1) != 0)
            {
                var l = levels + 4 * k;
                if (any) { r0 = l[0] + r0; r1 = l[1] + r1; r2 = l[2] + r2; r3 = l[3] + r3; }
                else { r0 = l[0]; r1 = l[1]; r2 = l[2]; r3 = l[3]; }
                any = true;
            }
        Vector512.Store(r0, d); Vector512.Store(r1, d + 8); Vector512.Store(r2, d + 16); Vector512.Store(r3, d + 24);
    }

    /// <summary>w columns (a multiple of 32, several groups) over more than one block of rows: each block of rows is
    /// summed for every group before the next block (32 rows at a time: reading one group down all mid rows walked as
    /// many pages at once: `ij->j` at 4096×1024 took 1.3–1.6 ms against 0.9–1.1 now), and the blocks' sums go
    /// onto a counter of w positions in scratch. The same additions in the same order as <see cref="Group32"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Groups32ByBlocks(double* s, double* d, int mid, int inner, int w)
    {
        var scratch = System.Buffers.ArrayPool<double>.Shared.Rent(w * (MiddleLevels(mid) + 1));
        try
        {
            fixed (double* sums = scratch)
            {
                double* levels = sums + w;
                int count = 0;
                for (int m0 = 0; m0 < mid; m0 += MiddleBlock)
                {
                    int m1 = Math.Min(mid, m0 + MiddleBlock);
                    for (int g = 0; g < w; g += 32)
                    {
                        Vector512<double> a0 = default, a1 = default, a2 = default, a3 = default;
                        for (int m = m0; m < m1; m++)
                        {
                            double* row = s + (long)m * inner + g;
                            a0 += Vector512.Load(row); a1 += Vector512.Load(row + 8);
                            a2 += Vector512.Load(row + 16); a3 += Vector512.Load(row + 24);
                        }
                        Vector512.Store(a0, sums + g); Vector512.Store(a1, sums + g + 8);
                        Vector512.Store(a2, sums + g + 16); Vector512.Store(a3, sums + g + 24);
                    }
                    PushRows(sums, levels, w, count++);
                }
                TotalRows(levels, w, count, d);
            }
        }
        finally { System.Buffers.ArrayPool<double>.Shared.Return(scratch); }
    }

    /// <summary>4 columns as one four-lane vector. One chain of additions would wait on each previous one, so four
    /// whole blocks are summed side by side (each still in its own order), then pushed in turn.</summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Group4(double* s, double* d, int mid, int inner)
    {
        if (mid <= MiddleBlock)
        {
            Vector256<double> a = default;
            for (int m = 0; m < mid; m++) a += Vector256.Load(s + (long)m * inner);
            Vector256.Store(a, d);
            return;
        }
        var levels = stackalloc Vector256<double>[28];
        int count = 0, full = mid / MiddleBlock, b = 0;
        long step = (long)MiddleBlock * inner;
        for (; b + 4 <= full; b += 4)
        {
            Vector256<double> x0 = default, x1 = default, x2 = default, x3 = default;
            double* p = s + b * step;
            for (int r = 0; r < MiddleBlock; r++, p += inner)
            {
                x0 += Vector256.Load(p); x1 += Vector256.Load(p + step);
                x2 += Vector256.Load(p + 2 * step); x3 += Vector256.Load(p + 3 * step);
            }
            Push(levels, ref count, x0); Push(levels, ref count, x1);
            Push(levels, ref count, x2); Push(levels, ref count, x3);
        }
        for (int m0 = b * MiddleBlock; m0 < mid; m0 += MiddleBlock)
        {
            Vector256<double> x = default;
            for (int m = m0, m1 = Math.Min(mid, m0 + MiddleBlock); m < m1; m++) x += Vector256.Load(s + (long)m * inner);
            Push(levels, ref count, x);
        }
        Vector256<double> acc = default;
        bool any = false;
        for (int k = 0; (count >> k) != 0; k++)
            if (((count >> k) & 1) != 0) { acc = any ? levels[k] + acc : levels[k]; any = true; }
        Vector256.Store(acc, d);
    }

    /// <summary>One column, four whole blocks side by side as in <see cref="Group4"/>.</summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Group1(double* s, double* d, int mid, int inner)
    {
        if (mid <= MiddleBlock)
        {
            double a = 0.0;
            for (int m = 0; m < mid; m++) a += s[(long)m * inner];
            *d = a;
            return;
        }
        var levels = stackalloc double[28];
        int count = 0, full = mid / MiddleBlock, b = 0;
        long step = (long)MiddleBlock * inner;
        for (; b + 4 <= full; b += 4)
        {
            double x0 = 0.0, x1 = 0.0, x2 = 0.0, x3 = 0.0;
            double* p = s + b * step;
            for (int r = 0; r < MiddleBlock; r++, p += inner)
            {
                x0 += p[0]; x1 += p[step]; x2 += p[2 * step]; x3 += p[3 * step];
            }
            Push(levels, ref count, x0); Push(levels, ref count, x1);
            Push(levels, ref count, x2); Push(levels, ref count, x3);
        }
        for (int m0 = b * MiddleBlock; m0 < mid; m0 += MiddleBlock)
        {
            double x = 0.0;
            for (int m = m0, m1 = Math.Min(mid, m0 + MiddleBlock); m < m1; m++) x += s[(long)m * inner];
            Push(levels, ref count, x);
        }
        double acc = 0.0;
        bool any = false;
        for (int k = 0; (count >> k) != 0; k++)
            if (((count >> k) & 1) != 0) { acc = any ? levels[k] + acc : levels[k]; any = true; }
        *d = acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Push(Vector256<double>* levels, ref int count, Vector256<double> x)
    {
        int k = 0;
        for (; ((count >> k) & 1) != 0; k++) x = levels[k] + x;
        levels[k] = x;
        count++;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Push(double* levels, ref int count, double x)
    {
        int k = 0;
        for (; ((count >> k) & 1) != 0; k++) x = levels[k] + x;
        levels[k] = x;
        count++;
    }

    /// <summary>For a caller that adds rows m = 0, 1, …, mid−1 into sums (w positions, from +0) one at a time, in
    /// <see cref="SumMiddle"/>'s order: call after adding row m. At the end of a block that more rows follow, the
    /// block goes onto the counter in levels (<see cref="MiddleLevels"/>(mid) × w) and sums restarts from +0;
    /// after the last row a counter in use takes the last block and leaves the total in sums. Returns the new count
    /// (start from 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int AfterRow(double* sums, double* levels, int w, int m, int mid, int count)
    {
        int m1 = m + 1;
        if (m1 < mid)
        {
            if (m1 % MiddleBlock != 0) return count;
            PushRows(sums, levels, w, count++);
            new Span<double>(sums, w).Clear();
        }
        else if (count > 0)
        {
            PushRows(sums, levels, w, count++);
            TotalRows(levels, w, count, sums);
        }
        return count;
    }

    /// <summary>Block number count's sums (w positions) onto the binary counter in levels (rows of w): while bit k of
    /// count is set, level k holds the sum of 2^k consecutive blocks and is added in front (the earlier rows first,
    /// as the runs' counter adds). sums is overwritten.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PushRows(double* sums, double* levels, int w, int count)
    {
        int k = 0;
        for (; ((count >> k) & 1) != 0; k++) AddRows(levels + (long)k * w, sums, sums, w);
        new Span<double>(sums, w).CopyTo(new Span<double>(levels + (long)k * w, w));
    }

    /// <summary>The counter's levels added, lowest first (as <see cref="Levels"/> adds), into dst: the pairwise sum of
    /// the count blocks pushed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void TotalRows(double* levels, int w, int count, double* dst)
    {
        bool any = false;
        for (int k = 0; (count >> k) != 0; k++)
            if (((count >> k) & 1) != 0)
            {
                if (any) AddRows(levels + (long)k * w, dst, dst, w);
                else new Span<double>(levels + (long)k * w, w).CopyTo(new Span<double>(dst, w));
                any = true;
            }
        if (!any) new Span<double>(dst, w).Clear();
    }

    /// <summary>dst[t] = a[t] + b[t], elementwise, so the same bits on every width; dst may be a or b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRows(double* a, double* b, double* dst, int w)
    {
        int t = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; t + 8 <= w; t += 8) Vector512.Store(Vector512.Load(a + t) + Vector512.Load(b + t), dst + t);
        if (Vector256.IsHardwareAccelerated)
            for (; t + 4 <= w; t += 4) Vector256.Store(Vector256.Load(a + t) + Vector256.Load(b + t), dst + t);
        for (; t < w; t++) dst[t] = a[t] + b[t];
    }
}
