using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Threading;
using System.Threading.Tasks;

namespace Functional.Kernels;

/// <summary>
/// Packed, cache-blocked matrix products: C[b] = op(A[b])·op(B[b]) for contiguous row-major blocks, where op
/// transposes an operand stored k×m (A) or n×k (B), so permuted operands need no copy. An 8×16 Vector512
/// register tile with AVX-512; without it, with AVX2 and FMA, a 6×8 Vector256 tile on 6-row panels (12
/// accumulators: 16 ymm registers do not hold an 8-row tile). Every output element is summed in the same order whatever the number of
/// parts and whatever the cache blocks. C is written before it is read (the first block of k stores, later blocks
/// resume from what it stored), so it may come uninitialised: the runtime then need not clear it, a measurable
/// cost for small products.
/// </summary>
internal static unsafe partial class PackedGemm
{
    /// <summary>Register tile: MR rows × NR columns (two Vector512 per row, 16 accumulators); MR and NR are the
    /// largest, <see cref="Mr"/> and <see cref="Nr"/> the ones this machine uses.</summary>
    public const int MR = 8, NR = 16;

    /// <summary>Whether the Vector512 kernel runs here.</summary>
    public static readonly bool Wide = Vector512.IsHardwareAccelerated;

    /// <summary>Whether a packed kernel runs here at all (Vector512, or Vector256 with FMA).</summary>
    public static readonly bool Supported = Wide || (Vector256.IsHardwareAccelerated && Fma.IsSupported);

    /// <summary>Columns per packed B panel on this machine: 16 (Vector512) or 8 (Vector256).</summary>
    public static readonly int Nr = Wide ? 16 : 8;

    /// <summary>Rows per packed A panel on this machine: 8 (Vector512) or 6 (Vector256, BLIS's Haswell shape: in
    /// cache 58 against 54 GFLOP/s for two 4×8 tiles on one Zen 5 core, whose AVX2 peak is 58.5).</summary>
    public static readonly int Mr = Wide ? 8 : 6;

    /// <summary>k per block of the fixed split along k (<see cref="ChunkedK"/>), and the largest k read in place:
    /// from the shape alone, never from the blocking, so results do not depend on the CPU's blocks.</summary>
    internal const int KAlign = 512;

    /// <summary>One thread's packing buffers: on the pinned heap (their address never changes) and
    /// 64-byte aligned, so each packed row of a panel is whole cache lines. Grown on demand.</summary>
    private sealed class Scratch
    {
        private double[]? _a, _b;
        private double* _pa, _pb;

        private static double* Alloc(int length, out double[] array)
        {
            array = GC.AllocateUninitializedArray<double>(length + 8, pinned: true);
            var p = (double*)Unsafe.AsPointer(ref array[0]);
            return p + (int)(((64 - ((long)p & 63)) & 63) / 8);
        }

        public double* A(int length)
        {
            if (_a is null || _a.Length - 8 < length) _pa = Alloc(length, out _a);
            return _pa;
        }

        public double* B(int length)
        {
            if (_b is null || _b.Length - 8 < length) _pb = Alloc(length, out _b);
            return _pb;
        }
    }

    [ThreadStatic] private static Scratch? t_scratch;


    /// <summary>
    /// C[b] = op(A[b])·op(B[b]) for b &lt; batch, A: m×k (k×m if transA), B: k×n (n×k if transB), C: m×n
    /// (any prior content of C is overwritten).
    /// Each product is split into <paramref name="parts"/> independent rectangles (columns when C is wide,
    /// rows when tall); with many products each is one task.
    /// </summary>
    public static void Multiply(bool transA, bool transB, int parts, double[] a, double[] b, double[] c, int batch, int m, int k, int n) =>
        MultiplyStrided(transA, transB, parts, a, null, transA ? m : k, b, null, transB ? k : n, c, batch, m, k, n);

    /// <summary>
    /// The same for operands that are strided views: product t reads A from aOffsets[t] (t·m·k when null) with
    /// leading dimension lda (A[i, p] at i·lda + p, or p·lda + i if transA), and B from bOffsets[t] (t·k·n when
    /// null) with ldb (B[p, j] at p·ldb + j, or j·ldb + p if transB); C stays contiguous. A permuted operand
    /// whose batch labels sit anywhere (bqhd as batch bh of q×d matrices, lda = h·d) needs no copy.
    /// </summary>
    public static void MultiplyStrided(bool transA, bool transB, int parts, double[] a, long[]? aOffsets, int lda, double[] b, long[]? bOffsets, int ldb, double[] c, int batch, int m, int k, int n)
    {
        if (m == 0 || n == 0 || batch == 0) return;
        if ((long)batch * m * n > c.Length) throw new ArgumentException($"C holds {c.Length} elements, not {batch}×{m}×{n}.");
        if (k == 0)
        {
            new Span<double>(c, 0, batch * m * n).Clear();
            return;
        }
        CheckOperand("A", a, aOffsets, lda, batch, transA ? k : m, transA ? m : k, (long)m * k);
        CheckOperand("B", b, bOffsets, ldb, batch, transB ? n : k, transB ? k : n, (long)k * n);
        if (batch == 1 && SplitsK(m, k, n))
        {
            fixed (double* pa = a, pb = b, pc = c)
                ChunkedK(transA, transB, pa + (aOffsets?[0] ?? 0), lda, pb + (bOffsets?[0] ?? 0), ldb, pc, m, k, n);
            return;
        }
        bool byColumns = n >= m;
        int span = byColumns ? n : m;
        int unit = byColumns ? Nr : Mr;
        int units = (span + unit - 1) / unit;
        parts = Math.Max(1, Math.Min(parts, units));
        if (batch * parts == 1)
        {
            // One task: no closure, no pool.
            fixed (double* pa = a, pb = b, pc = c)
                Blocked(transA, transB, pa + (aOffsets?[0] ?? 0), lda, pb + (bOffsets?[0] ?? 0), ldb, pc, m, k, n, 0, m, 0, n, n, false);
            return;
        }
        fixed (double* pa = a, pb = b, pc = c)
            Tasks(transA, transB, parts, (nint)pa, aOffsets, lda, (nint)pb, bOffsets, ldb, (nint)pc, batch, m, k, n, byColumns, span, unit, units, n, false);
    }

    /// <summary>
    /// C += op(A)·op(B) for one product: A m×k at aOffset (leading dimension lda; k×m if transA), B k×n at bOffset
    /// (n×k if transB), and C a view of <paramref name="c"/> from cOffset with leading dimension ldc. Each element's
    /// sum starts from its own value, as a later block of k does in <see cref="MultiplyStrided"/>. With A negated this
    /// is the trailing update C −= A·B of a blocked factorization, written in place.
    /// </summary>
    public static void MultiplyAddStrided(bool transA, bool transB, int parts, double[] a, long aOffset, int lda, double[] b, long bOffset, int ldb, double[] c, long cOffset, int ldc, int m, int k, int n)
    {
        if (m == 0 || n == 0 || k == 0) return;
        if (ldc < n) throw new ArgumentException($"C: leading dimension {ldc} is less than its {n} columns.");
        if (cOffset < 0 || cOffset + (long)(m - 1) * ldc + n > c.Length) throw new ArgumentException($"C: {m}×{n} at offset {cOffset} reaches past its {c.Length} elements.");
        var aOffsets = new[] { aOffset };
        var bOffsets = new[] { bOffset };
        CheckOperand("A", a, aOffsets, lda, 1, transA ? k : m, transA ? m : k, (long)m * k);
        CheckOperand("B", b, bOffsets, ldb, 1, transB ? n : k, transB ? k : n, (long)k * n);
        bool byColumns = n >= m;
        int span = byColumns ? n : m;
        int unit = byColumns ? Nr : Mr;
        int units = (span + unit - 1) / unit;
        parts = Math.Max(1, Math.Min(parts, units));
        fixed (double* pa = a, pb = b, pc = c)
        {
            if (parts == 1) Blocked(transA, transB, pa + aOffset, lda, pb + bOffset, ldb, pc + cOffset, m, k, n, 0, m, 0, n, ldc, true);
            else Tasks(transA, transB, parts, (nint)pa, aOffsets, lda, (nint)pb, bOffsets, ldb, (nint)(pc + cOffset), 1, m, k, n, byColumns, span, unit, units, ldc, true);
        }
    }

    /// <summary>Whether one product is split along k: k long against a C too small to give each core rows or
    /// columns of its own without both packing all of A (a Gram matrix XᵀX of a tall X, a weight gradient over a
    /// large batch). Decided from the shape alone, so a result never depends on the core count.</summary>
    internal static bool SplitsK(int m, int k, int n) =>
        Tuning.GemmSplitK && k >= 2 * KChunk && (long)m * n <= 256 * 256 && k >= 8L * Math.Max(m, n);

    /// <summary>Off: no product is split along k (tests compare both).</summary>

    /// <summary>The smallest k per chunk; at most <see cref="MaxKChunks"/> chunks, so the chunks' partial
    /// products (m·n each) stay small.</summary>
    internal const int KChunk = 8192, MaxKChunks = 16;

    /// <summary>C = Σ_t A[:, K_t]·B[K_t, :] over a fixed split of k into whole blocks of 512 (from the shape alone), each
    /// chunk's product into a buffer of its own over the cores, then the chunks added in order,
    /// ((P₀ + P₁) + P₂) + …, so the same bits on any number of cores.</summary>
    private static void ChunkedK(bool transA, bool transB, double* a, int lda, double* b, int ldb, double* c, int m, int k, int n)
    {
        int chunks = Math.Clamp(k / KChunk, 2, MaxKChunks);
        int per = Fork.Pieces(Fork.Pieces(k, chunks), KAlign) * KAlign;
        chunks = Fork.Pieces(k, per);
        int size = m * n;
        var partial = GC.AllocateUninitializedArray<double>(size * chunks);
        fixed (double* pp = partial)
        {
            nint ia = (nint)a, ib = (nint)b, ip = (nint)pp;
            Fork.For(chunks, t =>
            {
                int p0 = t * per, kc = Math.Min(per, k - p0);
                double* ac = (double*)ia + (transA ? (long)p0 * lda : p0);
                double* bc = (double*)ib + (transB ? p0 : (long)p0 * ldb);
                Blocked(transA, transB, ac, lda, bc, ldb, (double*)ip + (long)t * size, m, kc, n, 0, m, 0, n, n, false);
            });
            for (int t = 0; t < chunks; t++)
            {
                double* src = pp + (long)t * size;
                int i = 0;
                if (t == 0)
                {
                    for (; i <= size - 8 && Vector512.IsHardwareAccelerated; i += 8) Vector512.Store(Vector512.Load(src + i), c + i);
                    for (; i < size; i++) c[i] = src[i];
                }
                else
                {
                    for (; i <= size - 8 && Vector512.IsHardwareAccelerated; i += 8) Vector512.Store(Vector512.Load(c + i) + Vector512.Load(src + i), c + i);
                    for (; i < size; i++) c[i] += src[i];
                }
            }
        }
    }

    /// <summary>Every product's rows × columns of one operand (stored rows×cols with leading dimension ld ≥ cols)
    /// lie inside its array: the kernels read through pointers.</summary>
    internal static void CheckOperand(string name, double[] x, long[]? offsets, int ld, int batch, int rows, int cols, long size)
    {
        if (ld < cols) throw new ArgumentException($"{name}: leading dimension {ld} is less than its {cols} columns.");
        long extent = (long)(rows - 1) * ld + cols;
        if (offsets is null)
        {
            if ((long)(batch - 1) * size + extent > x.Length) throw new ArgumentException($"{name}: {batch} products of {rows}×{cols} do not fit {x.Length} elements.");
            return;
        }
        if (offsets.Length < batch) throw new ArgumentException($"{name}: {offsets.Length} offsets for {batch} products.");
        for (int t = 0; t < batch; t++)
            if (offsets[t] < 0 || offsets[t] + extent > x.Length)
                throw new ArgumentException($"{name}: product {t} at offset {offsets[t]} reaches past its {x.Length} elements.");
    }

    /// <summary>Products × parts as tasks over the pool. Pointers cross into the tasks as integers; the
    /// caller keeps the arrays pinned until every task is done.</summary>
    private static void Tasks(bool transA, bool transB, int parts, nint ia, long[]? aOffsets, int lda, nint ib, long[]? bOffsets, int ldb, nint ic, int batch, int m, int k, int n, bool byColumns, int span, int unit, int units, int ldc, bool accumulate)
    {
        Fork.For(batch * parts, t =>
        {
            int bi = t / parts, p = t % parts;
            int lo = (int)Math.Min(span, (long)p * units / parts * unit), hi = (int)Math.Min(span, (long)(p + 1) * units / parts * unit);
            if (hi <= lo) return;
            double* ab = (double*)ia + (aOffsets?[bi] ?? (long)bi * m * k), bb = (double*)ib + (bOffsets?[bi] ?? (long)bi * k * n), cb = (double*)ic + (long)bi * m * ldc;
            if (byColumns) Blocked(transA, transB, ab, lda, bb, ldb, cb, m, k, n, 0, m, lo, hi, ldc, accumulate);
            else Blocked(transA, transB, ab, lda, bb, ldb, cb, m, k, n, lo, hi, 0, n, ldc, accumulate);
        });
    }

    /// <summary>The blocked product on rows i0..i1-1 × columns j0..j1-1, sequentially, with this thread's
    /// buffers. Edge tiles go through a zeroed tile buffer: every element is summed in the same order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Blocked(bool transA, bool transB, double* a, int lda, double* b, int ldb, double* c, int m, int k, int n, int i0, int i1, int j0, int j1, int ldc, bool accumulate)
    {
        var s = t_scratch ??= new Scratch();
        if (InPlace(m, k, n, transA, transB))
        {
            InPlaceBlocked(transA, transB, a, lda, b, ldb, c, m, k, n, i0, i1, j0, j1, s, ldc, accumulate);
            return;
        }
        var blocks = Tuning.GemmBlocks;
        int nr = Nr, mr = Mr;
        // A blocking's MC is a multiple of 8; six-row panels take the largest multiple of 6 within it.
        int kcMax = blocks.KC, mcMax = Math.Max(mr, blocks.MC / mr * mr), ncMax = blocks.NC;
        bool wide = Wide;
        double* bp = s.B((Math.Min(ncMax, j1 - j0) + nr - 1) / nr * nr * kcMax);
        double* ap = s.A(mcMax * kcMax + MR * NR);
        double* tile = ap + mcMax * kcMax;
        for (int jc = j0; jc < j1; jc += ncMax)
        {
            int nc = Math.Min(ncMax, j1 - jc);
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Math.Min(kcMax, k - pc);
                bool first = pc == 0 && !accumulate;
                PackB(b, ldb, transB, pc, kc, jc, nc, bp, nr);
                for (int ic = i0; ic < i1; ic += mcMax)
                {
                    int mc = Math.Min(mcMax, i1 - ic);
                    PackA(a, lda, transA, ic, mc, pc, kc, ap);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int j = jc + jr, w = Math.Min(nr, nc - jr);
                        double* bPanel = bp + jr * kc;
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            int i = ic + ir, h = Math.Min(mr, mc - ir);
                            double* aPanel = ap + ir * kc;
                            if (h == mr && w == nr)
                            {
                                // A large C's rows are far apart and miss every cache, and a later k block reads its
                                // tile first thing: the next tile's lines are asked for a whole tile ahead (the first
                                // tile's just before). A small C is in cache; the in-place path does not ask.
                                if (ir == 0) PrefetchTile(c + (long)i * ldc + j, ldc, mr, nr);
                                if (ir + 2 * mr <= mc) PrefetchTile(c + (long)(i + mr) * ldc + j, ldc, mr, nr);
                                Tile(wide, aPanel, bPanel, kc, c + (long)i * ldc + j, ldc, first);
                            }
                            else EdgeTile(wide, aPanel, 1, mr, bPanel, nr, kc, c + (long)i * ldc + j, ldc, h, w, first, tile);
                        }
                    }
                }
            }
        }
    }

    /// <summary>Largest m and n multiplied without packing A (k at most one block): 160 with the 8×16 tile, 96 with
    /// the 6×8 one. Small operands stay in L1/L2 as they are; packing them cost a third of the time of a 32×128³
    /// batched product (perf: PackA 23 %, PackB 8 %), which in place runs 1.4 instead of 2.2–2.8 ms. Larger operands
    /// read in place miss L1: a row of B every p and, for A stored k×m, a row of A every p, with power-of-two strides
    /// that fall into a few cache sets. Square products, one core, AMD EPYC Zen 5, packed time over in-place time:
    /// 1.11–1.43 up to n = 96 and 1.04–1.05 at 160, but 0.82–0.92 at 256 (A stored k×m 0.86 already at 192); with the
    /// 6×8 tile 0.74–0.93 from 128 on.</summary>
    public static readonly int InPlaceMax = Wide ? 160 : 96;

    /// <summary>Whether a product runs with its operands in place (small; either tile width). A B stored n×k is
    /// still packed, one panel of Nr columns at a time, so with the 8×16 tile such products (A stored m×k) stay in place up to 256
    /// (packed over in place 1.11 at 192, 1.02–1.07 at 256).</summary>
    private static bool InPlace(int m, int k, int n, bool transA, bool transB)
    {
        int max = transB && !transA && Wide ? 256 : InPlaceMax;
        return Supported && k <= KAlign && m <= max && n <= max && Tuning.GemmInPlace;
    }


    /// <summary>The product without packing: full tiles read A and B where they are (the same sums in the same
    /// order as the packed kernel, so bit-identical results); edge tiles pack their panel, zero-padded, as the
    /// packed path does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InPlaceBlocked(bool transA, bool transB, double* a, int lda, double* b, int ldb, double* c, int m, int k, int n, int i0, int i1, int j0, int j1, Scratch s, int ldc, bool accumulate)
    {
        int nr = Nr, mr = Mr;
        bool wide = Wide;
        int h;
        double* ap = s.A(MR * KAlign + MR * NR);
        double* tile = ap + MR * KAlign;
        double* bp = s.B(NR * KAlign);
        for (int j = j0; j < j1; j += nr)
        {
            int w = Math.Min(nr, j1 - j);
            bool bPacked = false;
            if (transB)
            {
                PackB(b, ldb, true, 0, k, j, w, bp, nr);
                bPacked = true;
            }
            double* bj = transB ? bp : b + j;
            nint bs = transB ? nr : ldb;
            for (int i = i0; i < i1; i += h)
            {
                // Six-row tiles leave 4 rows of a power of two (16, 64, 256) or 2 (32, 128): those end in one or
                // two four-row tiles (…, 6, 2 as …, 4, 4) rather than in an edge tile through the buffer.
                int left = i1 - i;
                h = !wide && (left == 4 || left == 8) ? 4 : Math.Min(mr, left);
                if (h == 4 && !wide && w == nr)
                {
                    if (transA) Kernel256<FourRows>(a + i, 1, lda, bj, bs, k, c + (long)i * ldc + j, ldc, !accumulate);
                    else Kernel256<FourRows>(a + (long)i * lda, lda, 1, bj, bs, k, c + (long)i * ldc + j, ldc, !accumulate);
                }
                else if (h == mr && w == nr)
                {
                    if (transA) Tile(wide, a + i, 1, lda, bj, bs, k, c + (long)i * ldc + j, ldc, !accumulate);
                    else Tile(wide, a + (long)i * lda, lda, 1, bj, bs, k, c + (long)i * ldc + j, ldc, !accumulate);
                }
                else
                {
                    if (!bPacked)
                    {
                        PackB(b, ldb, false, 0, k, j, w, bp, nr);
                        bPacked = true;
                    }
                    PackA(a, lda, transA, i, h, 0, k, ap);
                    EdgeTile(wide, ap, 1, mr, bp, nr, k, c + (long)i * ldc + j, ldc, h, w, !accumulate, tile);
                }
            }
        }
    }

    /// <summary>Packs B[p0..p0+kc, j0..j0+nc] into nr-column panels, zero-padded: panel, then p, then column.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB(double* b, int ldb, bool transposed, int p0, int kc, int j0, int nc, double* dst, int nr)
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int j = j0 + jr, w = Math.Min(nr, nc - jr);
            double* d = dst + jr * kc;
            if (transposed && w == NR && Wide)
            {
                // B stored n×k: column j of op(B) is row j, contiguous in p; 8×8 blocks transposed in registers.
                double* s0 = b + (long)j * ldb + p0;
                int p = 0;
                for (; p + 8 <= kc; p += 8)
                {
                    Transpose8(s0 + p, ldb, d + p * NR, NR);
                    Transpose8(s0 + 8L * ldb + p, ldb, d + p * NR + 8, NR);
                }
                for (; p < kc; p++)
                    for (int col = 0; col < NR; col++) d[p * NR + col] = s0[(long)col * ldb + p];
            }
            else if (transposed && w == 8 && nr == 8 && Avx.IsSupported)
            {
                // The same with Vector256: two 4×4 blocks per four p.
                double* s0 = b + (long)j * ldb + p0;
                int p = 0;
                for (; p + 4 <= kc; p += 4)
                {
                    Transpose4(s0 + p, ldb, d + p * 8, 8);
                    Transpose4(s0 + 4L * ldb + p, ldb, d + p * 8 + 4, 8);
                }
                for (; p < kc; p++)
                    for (int col = 0; col < 8; col++) d[p * 8 + col] = s0[(long)col * ldb + p];
            }
            else if (transposed)
            {
                for (int col = 0; col < nr; col++)
                {
                    if (col < w)
                    {
                        double* src = b + (long)(j + col) * ldb + p0;
                        for (int p = 0; p < kc; p++) d[p * nr + col] = src[p];
                    }
                    else
                    {
                        for (int p = 0; p < kc; p++) d[p * nr + col] = 0.0;
                    }
                }
            }
            else if (w == NR && Wide)
            {
                double* src = b + (long)p0 * ldb + j;
                for (int p = 0; p < kc; p++, src += ldb, d += NR)
                {
                    Vector512.Store(Vector512.Load(src), d);
                    Vector512.Store(Vector512.Load(src + 8), d + 8);
                }
            }
            else if (w == 8 && nr == 8)
            {
                double* src = b + (long)p0 * ldb + j;
                for (int p = 0; p < kc; p++, src += ldb, d += 8)
                {
                    Vector256.Store(Vector256.Load(src), d);
                    Vector256.Store(Vector256.Load(src + 4), d + 4);
                }
            }
            else
            {
                double* src = b + (long)p0 * ldb + j;
                for (int p = 0; p < kc; p++, src += ldb, d += nr)
                    for (int col = 0; col < nr; col++) d[col] = col < w ? src[col] : 0.0;
            }
        }
    }

    /// <summary>Packs A[i0..i0+mc, p0..p0+kc] into Mr-row panels, zero-padded: panel, then p, then row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(double* a, int lda, bool transposed, int i0, int mc, int p0, int kc, double* dst)
    {
        int mr = Mr;
        for (int ir = 0; ir < mc; ir += mr)
        {
            int i = i0 + ir, h = Math.Min(mr, mc - ir);
            double* d = dst + ir * kc;
            if (transposed)
            {
                // A stored k×m: the rows of one p are contiguous.
                double* src = a + (long)p0 * lda + i;
                for (int p = 0; p < kc; p++, src += lda, d += mr)
                {
                    if (h == MR && Wide) Vector512.Store(Vector512.Load(src), d);
                    else if (h == mr)
                    {
                        Vector256.Store(Vector256.Load(src), d);
                        Vector128.Store(Vector128.Load(src + 4), d + 4);
                    }
                    else for (int r = 0; r < mr; r++) d[r] = r < h ? src[r] : 0.0;
                }
            }
            else if (h == MR && Wide)
            {
                // Eight rows read side by side, eight p at a time, transposed in registers.
                double* s0 = a + (long)i * lda + p0;
                int p = 0;
                for (; p + 8 <= kc; p += 8) Transpose8(s0 + p, lda, d + p * MR, MR);
                for (; p < kc; p++)
                    for (int r = 0; r < MR; r++) d[p * MR + r] = s0[(long)r * lda + p];
            }
            else if (h == 6 && mr == 6 && Avx.IsSupported)
            {
                // Six rows with Vector256: rows 0–3 as a 4×4 block, rows 4–5 as pairs, four p at a time.
                double* s0 = a + (long)i * lda + p0;
                int p = 0;
                for (; p + 4 <= kc; p += 4)
                {
                    Transpose4(s0 + p, lda, d + p * 6, 6);
                    var e = Vector256.Load(s0 + 4L * lda + p);
                    var f = Vector256.Load(s0 + 5L * lda + p);
                    var lo = Avx.UnpackLow(e, f);
                    var hi = Avx.UnpackHigh(e, f);
                    Vector128.Store(lo.GetLower(), d + p * 6 + 4);
                    Vector128.Store(hi.GetLower(), d + (p + 1) * 6 + 4);
                    Vector128.Store(lo.GetUpper(), d + (p + 2) * 6 + 4);
                    Vector128.Store(hi.GetUpper(), d + (p + 3) * 6 + 4);
                }
                for (; p < kc; p++)
                    for (int r = 0; r < 6; r++) d[p * 6 + r] = s0[(long)r * lda + p];
            }
            else
            {
                for (int r = 0; r < mr; r++)
                {
                    double* src = a + (long)(i + r) * lda + p0;
                    for (int p = 0; p < kc; p++) d[p * mr + r] = r < h ? src[p] : 0.0;
                }
            }
        }
    }

    /// <summary>dst[p·ldd + r] = src[r·ld + p] for a 4×4 block (AVX).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose4(double* src, int ld, double* dst, int ldd)
    {
        var r0 = Vector256.Load(src);
        var r1 = Vector256.Load(src + ld);
        var r2 = Vector256.Load(src + 2L * ld);
        var r3 = Vector256.Load(src + 3L * ld);
        // Pairs of rows interleaved within 128-bit lanes, then the lanes exchanged.
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        Vector256.Store(Avx.Permute2x128(t0, t2, 0x20), dst);
        Vector256.Store(Avx.Permute2x128(t1, t3, 0x20), dst + ldd);
        Vector256.Store(Avx.Permute2x128(t0, t2, 0x31), dst + 2 * ldd);
        Vector256.Store(Avx.Permute2x128(t1, t3, 0x31), dst + 3 * ldd);
    }

    /// <summary>dst[p·ldd + r] = src[r·ld + p] for an 8×8 block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8(double* src, int ld, double* dst, int ldd) => Transpose8(src, ld, dst, ldd, false);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(Vector512<double> v, double* p, bool stream)
    {
        if (stream) Avx512F.StoreAlignedNonTemporal(p, v);
        else Vector512.Store(v, p);
    }

    /// <summary><see cref="Transpose8(double*, int, double*, int)"/>; when <paramref name="stream"/>, each row of
    /// dst is a whole 64-byte-aligned line stored around the caches.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8(double* src, int ld, double* dst, int ldd, bool stream)
    {
        var r0 = Vector512.Load(src);
        var r1 = Vector512.Load(src + ld);
        var r2 = Vector512.Load(src + 2L * ld);
        var r3 = Vector512.Load(src + 3L * ld);
        var r4 = Vector512.Load(src + 4L * ld);
        var r5 = Vector512.Load(src + 5L * ld);
        var r6 = Vector512.Load(src + 6L * ld);
        var r7 = Vector512.Load(src + 7L * ld);
        // Stage 1: interleave pairs of rows (even/odd elements).
        var t0 = Avx512F.UnpackLow(r0, r1); var t1 = Avx512F.UnpackHigh(r0, r1);
        var t2 = Avx512F.UnpackLow(r2, r3); var t3 = Avx512F.UnpackHigh(r2, r3);
        var t4 = Avx512F.UnpackLow(r4, r5); var t5 = Avx512F.UnpackHigh(r4, r5);
        var t6 = Avx512F.UnpackLow(r6, r7); var t7 = Avx512F.UnpackHigh(r6, r7);
        // Stage 2: 128-bit lanes across row pairs.
        var i0 = Vector512.Create(0L, 1, 8, 9, 4, 5, 12, 13);
        var i1 = Vector512.Create(2L, 3, 10, 11, 6, 7, 14, 15);
        var u0 = Avx512F.PermuteVar8x64x2(t0, i0, t2); var u1 = Avx512F.PermuteVar8x64x2(t1, i0, t3);
        var u2 = Avx512F.PermuteVar8x64x2(t0, i1, t2); var u3 = Avx512F.PermuteVar8x64x2(t1, i1, t3);
        var u4 = Avx512F.PermuteVar8x64x2(t4, i0, t6); var u5 = Avx512F.PermuteVar8x64x2(t5, i0, t7);
        var u6 = Avx512F.PermuteVar8x64x2(t4, i1, t6); var u7 = Avx512F.PermuteVar8x64x2(t5, i1, t7);
        // Stage 3: 256-bit halves across the two groups of four rows.
        var j0 = Vector512.Create(0L, 1, 2, 3, 8, 9, 10, 11);
        var j1 = Vector512.Create(4L, 5, 6, 7, 12, 13, 14, 15);
        Put(Avx512F.PermuteVar8x64x2(u0, j0, u4), dst, stream);
        Put(Avx512F.PermuteVar8x64x2(u1, j0, u5), dst + ldd, stream);
        Put(Avx512F.PermuteVar8x64x2(u2, j0, u6), dst + 2 * ldd, stream);
        Put(Avx512F.PermuteVar8x64x2(u3, j0, u7), dst + 3 * ldd, stream);
        Put(Avx512F.PermuteVar8x64x2(u0, j1, u4), dst + 4 * ldd, stream);
        Put(Avx512F.PermuteVar8x64x2(u1, j1, u5), dst + 5 * ldd, stream);
        Put(Avx512F.PermuteVar8x64x2(u2, j1, u6), dst + 6 * ldd, stream);
        Put(Avx512F.PermuteVar8x64x2(u3, j1, u7), dst + 7 * ldd, stream);
    }
}
