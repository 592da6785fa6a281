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
        while (block > 32 && (long)outer * Fork.Pieces(inner, block) < 2L * Fork.Cores) block /= 2;
        int blocks = Fork.Pieces(inner, block);
        fixed (double* s = src, d = dst)
        {
            // Too few columns to give each core two tasks: the rows are split instead (a bias's gradient, `ij->j`
            // over a long batch of ten or seventeen columns, would be one task on one core).
            if (outer == 1 && blocks < 2 * Fork.Cores && Fork.Cores > 1
                && (long)mid * inner >= 1L << 18 && SplitRows(s, d, mid, inner))
                return;
            nint ps = (nint)s, pd = (nint)d;
            void Task(long task)
            {
                long o = task / blocks;
                int t0 = (int)(task - o * blocks) * block, t1 = Math.Min(inner, t0 + block);
                Middle((double*)ps + o * mid * inner, (double*)pd + o * inner, mid, inner, t0, t1);
            }
            long tasks = (long)outer * blocks;
            if ((long)outer * mid * inner >= 1L << 18 && tasks >= 2 && Fork.Cores > 1)
                Fork.For(tasks, Task);
            else
                for (long t = 0; t < tasks; t++) Task(t);
        }
    }

    /// <summary>One sum over mid rows split over the cores by rows, with the same bits: the blocks' counter holds at level
    /// L the sums of whole aligned groups of 2^L blocks, so each whole group is a task whose column sums are what the
    /// one-task counter holds at that level, the rows after the last group are one more task (its own counter: the
    /// levels below), and the groups' sums go through the counter from level L and join the rest's lowest level
    /// first, as <see cref="TotalRows"/> adds. Groups of at least 32,768 elements; false when there are fewer than two.</summary>
    private static bool SplitRows(double* s, double* d, int mid, int inner)
    {
        int groupBlocks = 1;
        while ((long)groupBlocks * MiddleBlock * inner < 1 << 15) groupBlocks *= 2;
        int groupRows = groupBlocks * MiddleBlock, groups = mid / groupRows, rest = mid - groups * groupRows;
        if (groups < 2) return false;
        var partial = GC.AllocateUninitializedArray<double>((groups + 1) * inner);
        fixed (double* pp = partial)
        {
            nint ps = (nint)s, ppart = (nint)pp;
            Fork.For(groups + 1, g =>
            {
                int rows = g < groups ? groupRows : rest;
                if (rows > 0) Middle((double*)ps + (long)g * groupRows * inner, (double*)ppart + (long)g * inner, rows, inner, 0, inner);
            });
            var levels = new double[(32 - BitOperations.LeadingZeroCount((uint)groups)) * inner];
            fixed (double* lv = levels)
            {
                int count = 0;
                // PushRows overwrites the row it pushes; the groups' rows are not needed after.
                for (int g = 0; g < groups; g++) PushRows(pp + (long)g * inner, lv, inner, count++);
                double* acc = pp + (long)groups * inner;
                bool any = rest > 0;
                for (int k = 0; (count >> k) != 0; k++)
                    if (((count >> k) & 1) != 0)
                    {
                        if (any) AddRows(lv + (long)k * inner, acc, acc, inner);
                        else new Span<double>(lv + (long)k * inner, inner).CopyTo(new Span<double>(acc, inner));
                        any = true;
                    }
                new Span<double>(acc, inner).CopyTo(new Span<double>(d, inner));
            }
        }
        return true;
    }

    /// <summary>Columns t0..t1−1: groups of 32 (vectors of eight lanes or four), then 4, then one. Over more than one block of
    /// rows the groups of 32 go block by block across all of them (<see cref="Groups32ByBlocks"/>; a single group with
    /// eight lanes: <see cref="Group32"/>); the narrow groups keep their counters on the stack
    /// (<see cref="Narrow{L, V}"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Middle(double* s, double* d, int mid, int inner, int t0, int t1)
    {
        int t = t0;
        if (Vector256.IsHardwareAccelerated)
        {
            int wide = (t1 - t0) / 32 * 32;
            if (mid > MiddleBlock && wide > 0)
            {
                if (Vector512.IsHardwareAccelerated && wide == 32) Group32(s + t, d + t, mid, inner);
                else Groups32ByBlocks(s + t, d + t, mid, inner, wide);
                t += wide;
            }
            for (; t + 32 <= t1; t += 32) Block32(s + t, d + t, mid, inner);
        }
        for (; t + 4 <= t1; t += 4) Narrow<Four, Vector256<double>>(s + t, d + t, mid, inner);
        for (; t < t1; t++) Narrow<One, double>(s + t, d + t, mid, inner);
    }

    /// <summary>One group of 32 columns over more than one block of rows, as four eight-lane vectors with the counter in
    /// registers and on the stack: the same additions as <see cref="Groups32ByBlocks"/>, which took 1.1× as long
    /// for this single group from memory (100000×32) and 1.3× in cache (2000×32).</summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Group32(double* s, double* d, int mid, int inner)
    {
        // Four vectors a level; 27 levels cover any int count of rows.
        var levels = stackalloc Vector512<double>[4 * 28];
        int count = 0;
        for (int m0 = 0; m0 < mid; m0 += MiddleBlock)
        {
            int m1 = Math.Min(mid, m0 + MiddleBlock);
            Vector512<double> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int m = m0; m < m1; m++)
            {
                double* row = s + (long)m * inner;
                a0 += Vector512.Load(row); a1 += Vector512.Load(row + 8);
                a2 += Vector512.Load(row + 16); a3 += Vector512.Load(row + 24);
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

    /// <summary>32 columns of at most one block of rows, into d.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block32(double* s, double* d, int mid, int inner) => Rows32(s, d, 0, mid, inner);

    /// <summary>32 columns of rows m0..m1−1 summed in order from +0 into d: four eight-lane vectors (four independent
    /// chains), or eight four-lane ones without AVX-512 (elementwise, so the same bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Rows32(double* s, double* d, int m0, int m1, int inner)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<double> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int m = m0; m < m1; m++)
            {
                double* row = s + (long)m * inner;
                a0 += Vector512.Load(row); a1 += Vector512.Load(row + 8);
                a2 += Vector512.Load(row + 16); a3 += Vector512.Load(row + 24);
            }
            Vector512.Store(a0, d); Vector512.Store(a1, d + 8); Vector512.Store(a2, d + 16); Vector512.Store(a3, d + 24);
        }
        else
        {
            Vector256<double> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector256<double> b0 = default, b1 = default, b2 = default, b3 = default;
            for (int m = m0; m < m1; m++)
            {
                double* row = s + (long)m * inner;
                a0 += Vector256.Load(row); a1 += Vector256.Load(row + 4); a2 += Vector256.Load(row + 8); a3 += Vector256.Load(row + 12);
                b0 += Vector256.Load(row + 16); b1 += Vector256.Load(row + 20); b2 += Vector256.Load(row + 24); b3 += Vector256.Load(row + 28);
            }
            Vector256.Store(a0, d); Vector256.Store(a1, d + 4); Vector256.Store(a2, d + 8); Vector256.Store(a3, d + 12);
            Vector256.Store(b0, d + 16); Vector256.Store(b1, d + 20); Vector256.Store(b2, d + 24); Vector256.Store(b3, d + 28);
        }
    }

    /// <summary>w columns (a multiple of 32) over more than one block of rows: each block of rows is summed for every
    /// group before the next block (reading one group down all mid rows walked as many pages at once: `ij->j` at
    /// 4096×1024 takes 1.3–1.6 ms against 0.9–1.1 this way, and without AVX-512, four columns at a time, 6.4–7.3
    /// against 1.0–1.2), and the blocks' sums go onto a counter of w positions in scratch (<see cref="PushRows"/>,
    /// <see cref="TotalRows"/>).</summary>
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
                    for (int g = 0; g < w; g += 32) Rows32(s + g, sums + g, m0, m1, inner);
                    PushRows(sums, levels, w, count++);
                }
                TotalRows(levels, w, count, d);
            }
        }
        finally { System.Buffers.ArrayPool<double>.Shared.Return(scratch); }
    }

    /// <summary>The narrow groups' lanes: four columns as one Vector256, or one column.</summary>
    private interface INarrow<V> where V : unmanaged
    {
        static abstract V Load(double* p);
        static abstract V Add(V a, V b);
        static abstract void Store(V v, double* d);
    }

    private struct Four : INarrow<Vector256<double>>
    {
        public static Vector256<double> Load(double* p) => Vector256.Load(p);
        public static Vector256<double> Add(Vector256<double> a, Vector256<double> b) => a + b;
        public static void Store(Vector256<double> v, double* d) => Vector256.Store(v, d);
    }

    private struct One : INarrow<double>
    {
        public static double Load(double* p) => *p;
        public static double Add(double a, double b) => a + b;
        public static void Store(double v, double* d) => *d = v;
    }

    /// <summary>4 columns as one four-lane vector, or one column. One chain of additions would wait on each previous
    /// one, so four whole blocks are summed side by side (each still in its own order), then pushed in turn onto a
    /// counter on the stack.</summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Narrow<L, V>(double* s, double* d, int mid, int inner) where L : struct, INarrow<V> where V : unmanaged
    {
        if (mid <= MiddleBlock)
        {
            V a = default;
            for (int m = 0; m < mid; m++) a = L.Add(a, L.Load(s + (long)m * inner));
            L.Store(a, d);
            return;
        }
        // 27 levels cover any int count of rows.
        V* levels = stackalloc V[28];
        int count = 0, full = mid / MiddleBlock, b = 0;
        long step = (long)MiddleBlock * inner;
        for (; b + 4 <= full; b += 4)
        {
            V x0 = default, x1 = default, x2 = default, x3 = default;
            double* p = s + b * step;
            for (int r = 0; r < MiddleBlock; r++, p += inner)
            {
                x0 = L.Add(x0, L.Load(p)); x1 = L.Add(x1, L.Load(p + step));
                x2 = L.Add(x2, L.Load(p + 2 * step)); x3 = L.Add(x3, L.Load(p + 3 * step));
            }
            Push<L, V>(levels, ref count, x0); Push<L, V>(levels, ref count, x1);
            Push<L, V>(levels, ref count, x2); Push<L, V>(levels, ref count, x3);
        }
        for (int m0 = b * MiddleBlock; m0 < mid; m0 += MiddleBlock)
        {
            V x = default;
            for (int m = m0, m1 = Math.Min(mid, m0 + MiddleBlock); m < m1; m++) x = L.Add(x, L.Load(s + (long)m * inner));
            Push<L, V>(levels, ref count, x);
        }
        V acc = default;
        bool any = false;
        for (int k = 0; (count >> k) != 0; k++)
            if (((count >> k) & 1) != 0) { acc = any ? L.Add(levels[k], acc) : levels[k]; any = true; }
        L.Store(acc, d);
    }

    /// <summary>A block's sum onto the narrow groups' counter: while bit k of count is set, level k (the earlier rows)
    /// is added in front.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Push<L, V>(V* levels, ref int count, V x) where L : struct, INarrow<V> where V : unmanaged
    {
        int k = 0;
        for (; ((count >> k) & 1) != 0; k++) x = L.Add(levels[k], x);
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
