using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;

namespace Functional.Kernels;

/// <summary>
/// The unpacked product for shapes too small or too thin to pack, and for machines without AVX-512:
/// C[b] = A[b]·B[b] in i-k-j order (rows of B streamed), with Vector512, Vector256 or scalar arithmetic,
/// whichever the machine runs natively. Each element is summed in order p = 0, 1, …, k−1, starting from +0
/// (so a sum is never −0, as in the packed kernel). C is written before it is read (p = 0 stores), so it may
/// come uninitialised: reading a fresh page first maps the shared zero page and the write after it copies
/// the page with a TLB shootdown to every core (perf: 40 % of an elementwise product of 10^6 elements).
/// </summary>
internal static unsafe class SimpleGemm
{
    /// <summary>C[b] = A[b]·B[b] for A: batch×m×k, B: batch×k×n, C: batch×m×n (contiguous; prior content of C
    /// is overwritten).</summary>
    public static void Multiply(double[] a, double[] b, double[] c, int batch, int m, int k, int n) =>
        MultiplyStrided(a, null, k, b, null, n, c, batch, m, k, n);

    /// <summary>
    /// The same for operands that are strided views (as <see cref="PackedGemm.MultiplyStrided"/>, untransposed
    /// only): product t reads A[i, p] at aOffsets[t] + i·lda + p and B[p, j] at bOffsets[t] + p·ldb + j (t·m·k and
    /// t·k·n when the offsets are null); C stays contiguous. Broadcast products such as einsum's bqhd,bhqk->bqhk
    /// (8,192 products of 1×1×128) then read B where it is instead of a permuted copy.
    /// </summary>
    public static void MultiplyStrided(double[] a, long[]? aOffsets, int lda, double[] b, long[]? bOffsets, int ldb, double[] c, int batch, int m, int k, int n)
    {
        if (batch == 0 || m == 0 || n == 0) return;
        if ((long)batch * m * n > c.Length) throw new ArgumentException($"C holds {c.Length} elements, not {batch}×{m}×{n}.");
        if (k == 0)
        {
            new Span<double>(c, 0, batch * m * n).Clear();
            return;
        }
        PackedGemm.CheckOperand("A", a, aOffsets, lda, batch, m, k, (long)m * k);
        PackedGemm.CheckOperand("B", b, bOffsets, ldb, batch, k, n, (long)k * n);
        if (m == 1 && k == 1 && n == 1 && aOffsets is null && bOffsets is null)
        {
            // Products of 1×1 by 1×1: an elementwise product (einsum's bi,bi->bi); one product per row below
            // would cost a loop setup per element.
            Elementwise(a, b, c, batch);
            return;
        }
        long work = (long)batch * m * k * n;
        fixed (double* pa = a, pb = b, pc = c)
        {
            nint ia = (nint)pa, ib = (nint)pb, ic = (nint)pc;
            long mk = (long)m * k, kn = (long)k * n, mn = (long)m * n;
            if ((long)batch * m == 1 && RowChunks(k, n).Chunks > 1)
                ChunkedRow((double*)ia + (aOffsets is null ? 0 : aOffsets[0]), (double*)ib + (bOffsets is null ? 0 : bOffsets[0]), ldb, (double*)ic, k, n);
            else if (batch == 1 && ColumnParts(m, k, n).Parts > 1)
            {
                // A few rows over a large B: the cores take parts of the columns, each reading its part of B once.
                var (parts, width) = ColumnParts(m, k, n);
                double* a0 = (double*)ia + (aOffsets is null ? 0 : aOffsets[0]), b0 = (double*)ib + (bOffsets is null ? 0 : bOffsets[0]);
                nint pa0 = (nint)a0, pb0 = (nint)b0;
                Fork.For(parts, t =>
                    ColumnsOfRows((double*)pa0, lda, (double*)pb0, ldb, (double*)ic, m, k, n, t * width, t == parts - 1 ? n : (t + 1) * width));
            }
            else if (work < (1L << 16) || (long)batch * m < 2)
            {
                for (int bi = 0; bi < batch; bi++)
                    Rows((double*)ia + (aOffsets is null ? bi * mk : aOffsets[bi]), lda, (double*)ib + (bOffsets is null ? bi * kn : bOffsets[bi]), ldb, (double*)ic + bi * mn, k, n, 0, m);
            }
            else
            {
                // Tasks of about 2^16 multiply-adds over all rows of all products (row r is row r mod m of
                // product r / m): many tiny products (an elementwise product is 10^6 products of 1×1×1) share a
                // task instead of costing one each.
                long rows = (long)batch * m;
                long block = Math.Max(1L, (1L << 16) / ((long)k * n));
                long tasks = (rows + block - 1) / block;
                Fork.For(tasks, t =>
                {
                    long r = t * block, end = Math.Min(rows, r + block);
                    while (r < end)
                    {
                        long bi = r / m;
                        int i0 = (int)(r - bi * m), i1 = (int)Math.Min(m, i0 + (end - r));
                        Rows((double*)ia + (aOffsets is null ? bi * mk : aOffsets[bi]), lda, (double*)ib + (bOffsets is null ? bi * kn : bOffsets[bi]), ldb, (double*)ic + bi * mn, k, n, i0, i1);
                        r += i1 - i0;
                    }
                });
            }
        }
    }

    /// <summary>Arrays of this many doubles and more (85,000 bytes) go to the large-object heap.</summary>
    private const int LargeObjectElements = 10_625;

    /// <summary>How a single row times a matrix (m = 1, batch 1) is split along k: into chunks of per rows of B, from
    /// the shape alone (so never from the core count), when B holds 2^18 elements or more and k at least 256: up
    /// to 16 chunks of at least 128 rows. One chunk means no split.</summary>
    internal static (int Chunks, int Per) RowChunks(int k, int n)
    {
        if ((long)k * n < (1L << 18) || k < 256) return (1, k);
        int chunks = Math.Clamp(k / 128, 2, 16);
        int per = Fork.Pieces(k, chunks);
        return (Fork.Pieces(k, per), per);
    }

    /// <summary>c = x·B for one row x over k rows of B (B[p, j] at b + p·ldb + j): each chunk of B's rows
    /// (<see cref="RowChunks"/>) into a row of its own over the cores, each as <see cref="Rows"/> computes a row,
    /// then the chunks' rows added in order, ((P₀ + P₁) + P₂) + …. A vector times a matrix otherwise streams all of B
    /// on one core (AMD EPYC Zen 3: 1×2048×2048 in 2.1–2.4 ms, about 14 GB/s, where the rows of a matrix-vector
    /// product over both cores stream at 31).</summary>
    private static void ChunkedRow(double* x, double* b, int ldb, double* c, int k, int n)
    {
        var (chunks, per) = RowChunks(k, n);
        // Rented when large: 16 chunks of a row of 2,048 are 256 KB, a large-object array whose pages a fresh one
        // faults in (1×2048×2048 plain 1,157 → 654–868 µs); a small one comes from gen 0 as cheaply.
        bool rented = chunks * n >= LargeObjectElements;
        var partial = rented ? System.Buffers.ArrayPool<double>.Shared.Rent(chunks * n) : GC.AllocateUninitializedArray<double>(chunks * n);
        try
        {
            fixed (double* pp = partial)
            {
                nint ix = (nint)x, ib = (nint)b, ip = (nint)pp;
                Fork.For(chunks, t =>
                {
                    int p0 = t * per, kc = Math.Min(per, k - p0);
                    Rows((double*)ix + p0, kc, (double*)ib + (long)p0 * ldb, ldb, (double*)ip + (long)t * n, kc, n, 0, 1);
                });
                new Span<double>(pp, n).CopyTo(new Span<double>(c, n));
                for (int t = 1; t < chunks; t++)
                {
                    double* src = pp + (long)t * n;
                    int j = 0;
                    if (Vector256.IsHardwareAccelerated)
                        for (; j <= n - 4; j += 4) Vector256.Store(Vector256.Load(c + j) + Vector256.Load(src + j), c + j);
                    for (; j < n; j++) c[j] += src[j];
                }
            }
        }
        finally { if (rented) System.Buffers.ArrayPool<double>.Shared.Return(partial); }
    }

    /// <summary>c[t] = +0 + a[t]·b[t], in chunks of 2^16 over the cores.</summary>
    private static void Elementwise(double[] a, double[] b, double[] c, int count)
    {
        const int chunk = 1 << 16;
        fixed (double* pa = a, pb = b, pc = c)
        {
            if (count <= 2 * chunk) { ElementwiseRange(pa, pb, pc, 0, count); return; }
            nint ia = (nint)pa, ib = (nint)pb, ic = (nint)pc;
            Fork.ForPieces(count, chunk, (lo, hi) => ElementwiseRange((double*)ia, (double*)ib, (double*)ic, lo, hi));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ElementwiseRange(double* a, double* b, double* c, int t0, int t1)
    {
        int t = t0;
        if (Vector512.IsHardwareAccelerated)
            for (; t <= t1 - 8; t += 8) Vector512.Store(Vector512.FusedMultiplyAdd(Vector512.Load(a + t), Vector512.Load(b + t), Vector512<double>.Zero), c + t);
        else if (Vector256.IsHardwareAccelerated)
            for (; t <= t1 - 4; t += 4) Vector256.Store(Vector256<double>.Zero + Vector256.Load(a + t) * Vector256.Load(b + t), c + t);
        // The tail fuses where the vector body does (eight lanes), so every element of one call takes the same operations.
        if (Vector512.IsHardwareAccelerated) for (; t < t1; t++) c[t] = Math.FusedMultiplyAdd(a[t], b[t], 0.0);
        else for (; t < t1; t++) c[t] = 0.0 + a[t] * b[t];
    }

    /// <summary>Rows r0..r1−1 of one product: C[i, :] = +0 + Σ_p A[i, p]·B[p, :], the first p stored
    /// (A[i, p] at a + i·lda + p, B[p, j] at b + p·ldb + j).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows(double* a, int lda, double* b, int ldb, double* c, int k, int n, int r0, int r1)
    {
        bool grouped = Grouped(n);
        for (int i = r0; i < r1; i++)
        {
            double* cRow = c + (long)i * n;
            double* aRow = a + (long)i * lda;
            int p = 0;
            if (grouped)
                for (; p + 4 <= k; p += 4) FourRowsOfB(aRow + p, b + (long)p * ldb, ldb, cRow, p == 0, 0, n);
            for (; p < k; p++) OneRowOfB(aRow[p], b + (long)p * ldb, cRow, p == 0, 0, n);
        }
    }

    /// <summary>Whether the simple kernel takes four rows of B per pass over a row of C that is n wide.</summary>
    private static bool Grouped(int n) =>
        Tuning.SimpleGemmGroupRows && (Vector512.IsHardwareAccelerated ? n >= 8 : Vector256.IsHardwareAccelerated && n >= 4);

    /// <summary>How a product of a few rows over a large B (2 to 8 rows, B of 2^19 elements and more, at least 512
    /// columns) is split into parts of columns: widths of 256 and more, multiples of 8, the last part taking the
    /// rest. Split by rows, each core streams all of B once per row; narrower parts cost more than that saves
    /// (2×8192×64 in parts of 32 columns: 456 against 127 µs).</summary>
    internal static (int Parts, int Width) ColumnParts(long rows, int k, int n)
    {
        if (!Tuning.SimpleGemmColumns || rows < 2 || rows > 8 || (long)k * n < (1L << 19) || n < 512) return (1, n);
        int parts = Math.Min(n / 256, 16);
        int width = n / parts / 8 * 8;
        return (parts, width);
    }

    /// <summary>Columns j0..j1−1 of rows 0..m−1 of one product, the rows taken together at each step of p, so that
    /// each group of B's rows is read from memory once. Each element takes the same operations in the same order as
    /// <see cref="Rows"/> gives it: j0 is a multiple of 8 and the part ends at a multiple of 8 or at n, so every
    /// element stays in the vector lanes or the scalar tail it has there.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ColumnsOfRows(double* a, int lda, double* b, int ldb, double* c, int m, int k, int n, int j0, int j1)
    {
        bool grouped = Grouped(n);
        int p = 0;
        if (grouped)
            for (; p + 4 <= k; p += 4)
                for (int i = 0; i < m; i++) FourRowsOfB(a + (long)i * lda + p, b + (long)p * ldb, ldb, c + (long)i * n, p == 0, j0, j1);
        for (; p < k; p++)
            for (int i = 0; i < m; i++) OneRowOfB(a[(long)i * lda + p], b + (long)p * ldb, c + (long)i * n, p == 0, j0, j1);
    }

    /// <summary>Elements j0..j1−1 of a row of C (cRow) take four products, A's ar[0..3] times B's rows at b0, b0 +
    /// ldb, …: stored from +0 when first, else added. Four rows of B per pass over C's row: each element still takes
    /// its products in order p, p+1, p+2, p+3 (the same operations as one row at a time, so the same bits), with C's
    /// row loaded and stored a quarter as often (into a reused C: 4,000 products of 3×9×31 645 → 301 µs, 1,000 of
    /// 4×16×16 271 → 95 µs, 4 of 1×512×512 69 → 65 µs). Eight lanes fuse each product into its sum, four take them
    /// apart, as the one-row pass does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FourRowsOfB(double* ar, double* b0, int ldb, double* cRow, bool first, int j0, int j1)
    {
        double a0 = ar[0], a1 = ar[1], a2 = ar[2], a3 = ar[3];
        double* b1 = b0 + ldb;
        double* b2 = b1 + ldb;
        double* b3 = b2 + ldb;
        int j = j0;
        if (Vector512.IsHardwareAccelerated)
        {
            var v0 = Vector512.Create(a0);
            var v1 = Vector512.Create(a1);
            var v2 = Vector512.Create(a2);
            var v3 = Vector512.Create(a3);
            for (; j <= j1 - 8; j += 8)
            {
                var acc = Vector512.FusedMultiplyAdd(v0, Vector512.Load(b0 + j), first ? Vector512<double>.Zero : Vector512.Load(cRow + j));
                acc = Vector512.FusedMultiplyAdd(v1, Vector512.Load(b1 + j), acc);
                acc = Vector512.FusedMultiplyAdd(v2, Vector512.Load(b2 + j), acc);
                Vector512.Store(Vector512.FusedMultiplyAdd(v3, Vector512.Load(b3 + j), acc), cRow + j);
            }
        }
        else
        {
            var v0 = Vector256.Create(a0);
            var v1 = Vector256.Create(a1);
            var v2 = Vector256.Create(a2);
            var v3 = Vector256.Create(a3);
            for (; j <= j1 - 4; j += 4)
            {
                var acc = (first ? Vector256<double>.Zero : Vector256.Load(cRow + j)) + v0 * Vector256.Load(b0 + j);
                acc += v1 * Vector256.Load(b1 + j);
                acc += v2 * Vector256.Load(b2 + j);
                Vector256.Store(acc + v3 * Vector256.Load(b3 + j), cRow + j);
            }
        }
        // The tail fuses where the vector body does (eight lanes): a column's result does not depend on its position.
        if (Vector512.IsHardwareAccelerated)
            for (; j < j1; j++)
            {
                double t = Math.FusedMultiplyAdd(a0, b0[j], first ? 0.0 : cRow[j]);
                t = Math.FusedMultiplyAdd(a1, b1[j], t);
                t = Math.FusedMultiplyAdd(a2, b2[j], t);
                cRow[j] = Math.FusedMultiplyAdd(a3, b3[j], t);
            }
        else
            for (; j < j1; j++)
            {
                double t = (first ? 0.0 : cRow[j]) + a0 * b0[j];
                t += a1 * b1[j];
                t += a2 * b2[j];
                cRow[j] = t + a3 * b3[j];
            }
    }

    /// <summary>Elements j0..j1−1 of a row of C take one product av·B[p, j]: stored from +0 when first, else
    /// added.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OneRowOfB(double av, double* bRow, double* cRow, bool first, int j0, int j1)
    {
        int j = j0;
        if (first)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                var va = Vector512.Create(av);
                for (; j <= j1 - 8; j += 8) Vector512.Store(Vector512.FusedMultiplyAdd(va, Vector512.Load(bRow + j), Vector512<double>.Zero), cRow + j);
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                var va = Vector256.Create(av);
                for (; j <= j1 - 4; j += 4) Vector256.Store(Vector256<double>.Zero + va * Vector256.Load(bRow + j), cRow + j);
            }
            if (Vector512.IsHardwareAccelerated) for (; j < j1; j++) cRow[j] = Math.FusedMultiplyAdd(av, bRow[j], 0.0);
            else for (; j < j1; j++) cRow[j] = 0.0 + av * bRow[j];
            return;
        }
        if (Vector512.IsHardwareAccelerated)
        {
            var va = Vector512.Create(av);
            for (; j <= j1 - 8; j += 8) Vector512.Store(Vector512.FusedMultiplyAdd(va, Vector512.Load(bRow + j), Vector512.Load(cRow + j)), cRow + j);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(av);
            for (; j <= j1 - 4; j += 4) Vector256.Store(Vector256.Load(cRow + j) + va * Vector256.Load(bRow + j), cRow + j);
        }
        if (Vector512.IsHardwareAccelerated) for (; j < j1; j++) cRow[j] = Math.FusedMultiplyAdd(av, bRow[j], cRow[j]);
        else for (; j < j1; j++) cRow[j] += av * bRow[j];
    }
}
