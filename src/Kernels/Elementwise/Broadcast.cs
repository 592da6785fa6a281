using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Threading.Tasks;

namespace Functional.Kernels;

/// <summary>
/// Binary element-wise work with broadcasting, each operand read through its strides (0 where it is
/// broadcast) and the output written in order:
/// products without a contracted label (einsum's bi,i->bi, bhqk,bh->bhqk, bi,bj->bij), c = +0 + a·b, which a
/// batched matrix product would run as one product of m×1×1 per batch element after a transposing copy that
/// brings the batch labels to the front of both operands (bi,i->bi at 1024²: 3.0 ms in a scope, against 0.2 ms
/// for TorchSharp); and Tensor.add, sub, mul and div of different shapes, with no broadcast copy of either
/// operand (X + b at 4096×1024: 1.9–3.4 ms; a broadcast copy of each operand, then a scalar pass: 7.5–8.8 ms).
/// </summary>
internal static unsafe class Broadcast
{
    /// <summary>c[idx] = +0 + a[Σ idx·aStrides]·b[Σ idx·bStrides] for every index over <paramref name="shape"/>,
    /// c contiguous in row-major order (overwritten, so it may start uninitialised). Strides are non-negative.
    /// With stream, rows of 1,024 elements and more are written with non-temporal stores, around the caches (the
    /// same bits): for a large result in an array no cache holds.</summary>
    public static void Multiply(double[] a, int[] aStrides, double[] b, int[] bStrides, double[] c, int[] shape, bool stream = false) =>
        Apply<ProductFromZero>(a, 0, aStrides, b, 0, bStrides, c, shape, stream);

    /// <summary>c[idx] = op(a[Σ idx·aStrides], b[Σ idx·bStrides]) over <paramref name="shape"/>, c contiguous in
    /// row-major order (overwritten). The element-wise operators with broadcasting (Tensor.add, sub, mul, div)
    /// read the smaller operand through zero strides instead of a broadcast copy.</summary>
    public static void Apply(Op op, double[] a, int[] aStrides, double[] b, int[] bStrides, double[] c, int[] shape) =>
        Apply(op, a, 0, aStrides, b, 0, bStrides, c, shape);

    /// <summary>As <see cref="Apply(Op, double[], int[], double[], int[], double[], int[])"/>, the operands read from
    /// element <paramref name="aOffset"/> of a and <paramref name="bOffset"/> of b (views into larger arrays); with
    /// stream, as for <see cref="Multiply"/>.</summary>
    public static void Apply(Op op, double[] a, int aOffset, int[] aStrides, double[] b, int bOffset, int[] bStrides, double[] c, int[] shape, bool stream = false)
    {
        switch (op)
        {
            case Op.Add: Apply<AddOp>(a, aOffset, aStrides, b, bOffset, bStrides, c, shape, stream); break;
            case Op.Subtract: Apply<SubtractOp>(a, aOffset, aStrides, b, bOffset, bStrides, c, shape, stream); break;
            case Op.Multiply: Apply<MultiplyOp>(a, aOffset, aStrides, b, bOffset, bStrides, c, shape, stream); break;
            case Op.Divide: Apply<DivideOp>(a, aOffset, aStrides, b, bOffset, bStrides, c, shape, stream); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, "Not an element-wise operator.");
        }
    }

    /// <summary>The element-wise operators: IEEE results, the same on every vector width and in the scalar tail.</summary>
    public enum Op { Add, Subtract, Multiply, Divide }

    private interface IBinary
    {
        static abstract double Scalar(double x, double y);
        static abstract Vector512<double> V512(Vector512<double> x, Vector512<double> y);
        static abstract Vector256<double> V256(Vector256<double> x, Vector256<double> y);
    }

    // An einsum product: +0 + a·b, so that a product of −0 is +0 as in a sum from zero.
    private struct ProductFromZero : IBinary
    {
        public static double Scalar(double x, double y) => 0.0 + x * y;
        public static Vector512<double> V512(Vector512<double> x, Vector512<double> y) => Vector512<double>.Zero + x * y;
        public static Vector256<double> V256(Vector256<double> x, Vector256<double> y) => Vector256<double>.Zero + x * y;
    }

    private struct AddOp : IBinary
    {
        public static double Scalar(double x, double y) => x + y;
        public static Vector512<double> V512(Vector512<double> x, Vector512<double> y) => x + y;
        public static Vector256<double> V256(Vector256<double> x, Vector256<double> y) => x + y;
    }

    private struct SubtractOp : IBinary
    {
        public static double Scalar(double x, double y) => x - y;
        public static Vector512<double> V512(Vector512<double> x, Vector512<double> y) => x - y;
        public static Vector256<double> V256(Vector256<double> x, Vector256<double> y) => x - y;
    }

    private struct MultiplyOp : IBinary
    {
        public static double Scalar(double x, double y) => x * y;
        public static Vector512<double> V512(Vector512<double> x, Vector512<double> y) => x * y;
        public static Vector256<double> V256(Vector256<double> x, Vector256<double> y) => x * y;
    }

    private struct DivideOp : IBinary
    {
        public static double Scalar(double x, double y) => x / y;
        public static Vector512<double> V512(Vector512<double> x, Vector512<double> y) => x / y;
        public static Vector256<double> V256(Vector256<double> x, Vector256<double> y) => x / y;
    }

    private static void Apply<TOp>(double[] a, int aOffset, int[] aStrides, double[] b, int bOffset, int[] bStrides, double[] c, int[] shape, bool stream) where TOp : struct, IBinary
    {
        stream &= Sse2.IsSupported;
        int r = shape.Length;
        if (aOffset < 0 || bOffset < 0)
            throw new ArgumentException($"Offsets {aOffset} and {bOffset}; neither may be negative.");
        if (aStrides.Length != r || bStrides.Length != r)
            throw new ArgumentException($"Strides of rank {aStrides.Length} and {bStrides.Length} for a shape of rank {r}.");
        long aLast = 0, bLast = 0, count = 1;
        for (int d = 0; d < r; d++)
        {
            if (shape[d] < 0 || aStrides[d] < 0 || bStrides[d] < 0)
                throw new ArgumentException($"Axis {d}: size {shape[d]}, strides {aStrides[d]} and {bStrides[d]}; none may be negative.");
            aLast += (long)(shape[d] - 1) * aStrides[d];
            bLast += (long)(shape[d] - 1) * bStrides[d];
            count *= shape[d];
        }
        if (count == 0) return;
        aLast += aOffset;
        bLast += bOffset;
        if (aLast >= a.Length || bLast >= b.Length || count > c.Length)
            throw new ArgumentException($"The product reads element {aLast} of {a.Length} and {bLast} of {b.Length} and writes {count} of {c.Length}.");
        if (r == 0) { c[0] = TOp.Scalar(a[aOffset], b[bOffset]); return; }
        int n = shape[r - 1];
        long rows = count / n;
        fixed (double* pa0 = a, pb0 = b, pc = c)
        {
            double* pa = pa0 + aOffset, pb = pb0 + bOffset;
            nint ia = (nint)pa, ib = (nint)pb, ic = (nint)pc;
            if (count < 2 * Chunk || Fork.Cores < 2)
                RowsOf<TOp>(pa, aStrides, pb, bStrides, pc, shape, 0, rows, stream);
            else if (n < Chunk)
            {
                // Tasks of about 2^15 outputs over whole rows (a row: the n outputs along the last axis).
                long block = Chunk / n;
                Fork.For((rows + block - 1) / block, t =>
                    RowsOf<TOp>((double*)ia, aStrides, (double*)ib, bStrides, (double*)ic, shape, t * block, Math.Min(rows, (t + 1) * block), stream));
            }
            else
            {
                // Long rows (bi,bi->bi is one row of every element): tasks of 2^15 outputs within a row.
                long perRow = Fork.Pieces(n, Chunk);
                Fork.For(rows * perRow, t =>
                {
                    long row = t / perRow;
                    int j0 = (int)(t - row * perRow) * Chunk, j1 = Math.Min(n, j0 + Chunk);
                    long oa = 0, ob = 0, rem = row;
                    for (int d = r - 2; d >= 0; d--)
                    {
                        long i = rem % shape[d];
                        rem /= shape[d];
                        oa += i * aStrides[d];
                        ob += i * bStrides[d];
                    }
                    long sa = aStrides[r - 1], sb = bStrides[r - 1];
                    if (stream)
                    {
                        AnyRow<TOp, AroundCaches>((double*)ia + oa + j0 * sa, sa, (double*)ib + ob + j0 * sb, sb, (double*)ic + row * n + j0, j1 - j0);
                        Sse.StoreFence();
                    }
                    else AnyRow<TOp, ThroughCaches>((double*)ia + oa + j0 * sa, sa, (double*)ib + ob + j0 * sb, sb, (double*)ic + row * n + j0, j1 - j0);
                });
            }
        }
    }

    private const int Chunk = 1 << 15;

    // Rows of at least this many elements (8 KB) may be written around the caches.
    private const int LongRow = 1024;

    private static void RowsOf<TOp>(double* a, int[] sa, double* b, int[] sb, double* c, int[] shape, long r0, long r1, bool stream) where TOp : struct, IBinary
    {
        // Short rows go through the caches even for a result no cache holds: a row that starts off the vectors'
        // alignment writes its first and last elements with cached stores, and a line shared between cached and
        // non-temporal stores costs far more than the stores save (plain M + r, 100,000×9: 8.5–8.7 ms against
        // 0.56–0.59 through the caches). A long row has two such lines among 128 and more of its own.
        if (stream && shape[^1] >= LongRow)
        {
            RowsByReads<TOp, AroundCaches>(a, sa, b, sb, c, shape, r0, r1);
            Sse.StoreFence();
        }
        else RowsByReads<TOp, ThroughCaches>(a, sa, b, sb, c, shape, r0, r1);
    }

    // The last axis's strides are the same for every row, so the way a row reads is chosen once per call, not per
    // row: with rows of 128 (bi,bj->bij) the choice and the call per row cost a third of the time.
    private static void RowsByReads<TOp, TStore>(double* a, int[] sa, double* b, int[] sb, double* c, int[] shape, long r0, long r1) where TOp : struct, IBinary where TStore : struct, IStore
    {
        long ia = sa[^1], ib = sb[^1];
        if (ia == 1 && ib == 1) Rows<TOp, TStore, BothRun>(a, sa, b, sb, c, shape, r0, r1);
        else if (ia == 1 && ib == 0) Rows<TOp, TStore, ARunsBRepeats>(a, sa, b, sb, c, shape, r0, r1);
        else if (ia == 0 && ib == 1) Rows<TOp, TStore, ARepeatsBRuns>(a, sa, b, sb, c, shape, r0, r1);
        else Rows<TOp, TStore, Strided>(a, sa, b, sb, c, shape, r0, r1);
    }

    /// <summary>Rows r0..r1−1 (row: every axis but the last fixed, in row-major order), as many at a time as lie
    /// along the axis before the last (their offsets one stride apart), the axes before it by an odometer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows<TOp, TStore, TReads>(double* a, int[] sa, double* b, int[] sb, double* c, int[] shape, long r0, long r1)
        where TOp : struct, IBinary where TStore : struct, IStore where TReads : struct, IReads
    {
        int r = shape.Length, n = shape[r - 1];
        long ia = sa[r - 1], ib = sb[r - 1];
        if (r == 1)
        {
            Row<TOp, TStore, TReads>(a, ia, b, ib, c, n);
            return;
        }
        Span<int> idx = stackalloc int[r];
        // The index of row r0 and its offsets.
        long rem = r0, oa = 0, ob = 0;
        for (int d = r - 2; d >= 0; d--)
        {
            idx[d] = (int)(rem % shape[d]);
            rem /= shape[d];
            oa += (long)idx[d] * sa[d];
            ob += (long)idx[d] * sb[d];
        }
        int inner = r - 2;
        long sa2 = sa[inner], sb2 = sb[inner];
        long row = r0;
        while (true)
        {
            int i0 = idx[inner];
            long run = Math.Min(shape[inner] - i0, r1 - row);
            double* pa = a + oa, pb = b + ob, pc = c + row * n;
            for (long k = 0; k < run; k++, pa += sa2, pb += sb2, pc += n)
                Row<TOp, TStore, TReads>(pa, ia, pb, ib, pc, n);
            row += run;
            if (row >= r1) return;
            // The run ended with the axis before the last: back to its start, then the odometer over the axes before it.
            oa -= (long)i0 * sa2;
            ob -= (long)i0 * sb2;
            idx[inner] = 0;
            for (int d = inner - 1; d >= 0; d--)
            {
                oa += sa[d];
                ob += sb[d];
                if (++idx[d] < shape[d]) break;
                oa -= (long)shape[d] * sa[d];
                ob -= (long)shape[d] * sb[d];
                idx[d] = 0;
            }
        }
    }

    /// <summary>A row whose read pattern is known only at run time (the pieces of one long row). Optimised from its
    /// first call, as every kernel here: the row loop is inlined into it, and at tier 0 it would not be.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AnyRow<TOp, TStore>(double* a, long ia, double* b, long ib, double* c, int n) where TOp : struct, IBinary where TStore : struct, IStore
    {
        if (ia == 1 && ib == 1) Row<TOp, TStore, BothRun>(a, ia, b, ib, c, n);
        else if (ia == 1 && ib == 0) Row<TOp, TStore, ARunsBRepeats>(a, ia, b, ib, c, n);
        else if (ia == 0 && ib == 1) Row<TOp, TStore, ARepeatsBRuns>(a, ia, b, ib, c, n);
        else Row<TOp, TStore, Strided>(a, ia, b, ib, c, n);
    }

    /// <summary>c[j] = op(a[j·ia], b[j·ib]) for j &lt; n: vectors when TReads says an operand runs, stored as
    /// TStore stores them; around the caches, the elements before the first aligned vector by the scalar operator
    /// (the same bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row<TOp, TStore, TReads>(double* a, long ia, double* b, long ib, double* c, int n)
        where TOp : struct, IBinary where TStore : struct, IStore where TReads : struct, IReads
    {
        int j = 0;
        if (!TReads.ARuns && !TReads.BRuns)
        {
            for (; j < n; j++) c[j] = TOp.Scalar(a[j * ia], b[j * ib]);
            return;
        }
        if (TStore.Aligned)
        {
            int align = Vector512.IsHardwareAccelerated ? 64 : 32;
            for (; j < n && ((nint)(c + j) & (align - 1)) != 0; j++) c[j] = TOp.Scalar(TReads.ARuns ? a[j] : *a, TReads.BRuns ? b[j] : *b);
        }
        if (Vector512.IsHardwareAccelerated)
        {
            var va = TReads.ARuns ? default : Vector512.Create(*a);
            var vb = TReads.BRuns ? default : Vector512.Create(*b);
            for (; j <= n - 8; j += 8)
                TStore.Put(TOp.V512(TReads.ARuns ? Vector512.Load(a + j) : va, TReads.BRuns ? Vector512.Load(b + j) : vb), c + j);
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var va = TReads.ARuns ? default : Vector256.Create(*a);
            var vb = TReads.BRuns ? default : Vector256.Create(*b);
            for (; j <= n - 4; j += 4)
                TStore.Put(TOp.V256(TReads.ARuns ? Vector256.Load(a + j) : va, TReads.BRuns ? Vector256.Load(b + j) : vb), c + j);
        }
        for (; j < n; j++) c[j] = TOp.Scalar(TReads.ARuns ? a[j] : *a, TReads.BRuns ? b[j] : *b);
    }

    /// <summary>How a row reads its operands along the last axis: each one running (stride 1) or one value repeated
    /// (stride 0), as vectors when at least one runs; any other strides (<see cref="Strided"/>) element by element.</summary>
    private interface IReads
    {
        static abstract bool ARuns { get; }
        static abstract bool BRuns { get; }
    }

    private struct BothRun : IReads { public static bool ARuns => true; public static bool BRuns => true; }

    private struct ARunsBRepeats : IReads { public static bool ARuns => true; public static bool BRuns => false; }

    private struct ARepeatsBRuns : IReads { public static bool ARuns => false; public static bool BRuns => true; }

    private struct Strided : IReads { public static bool ARuns => false; public static bool BRuns => false; }

    /// <summary>How a row's vectors are stored: through the caches, or with aligned non-temporal stores.</summary>
    private interface IStore
    {
        static abstract bool Aligned { get; }
        static abstract void Put(Vector512<double> v, double* p);
        static abstract void Put(Vector256<double> v, double* p);
    }

    private struct ThroughCaches : IStore
    {
        public static bool Aligned => false;
        public static void Put(Vector512<double> v, double* p) => Vector512.Store(v, p);
        public static void Put(Vector256<double> v, double* p) => Vector256.Store(v, p);
    }

    private struct AroundCaches : IStore
    {
        public static bool Aligned => true;
        public static void Put(Vector512<double> v, double* p) => Vector512.StoreAlignedNonTemporal(v, p);
        public static void Put(Vector256<double> v, double* p) => Vector256.StoreAlignedNonTemporal(v, p);
    }
}
