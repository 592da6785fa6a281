using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using System.Threading.Tasks;

namespace Functional.Kernels;

/// <summary>
/// Strided copies into distinct destinations (permutations, diagonal reads, broadcasts read): when the
/// destination's inner axis is strided in the source but another axis is contiguous there, the copy goes
/// through that plane in 8×8 blocks transposed in registers (AVX-512) or 16×16 tiles, so that both the reads
/// and the writes use whole cache lines. An element-by-element odometer reads one cache line per element for a
/// transpose (1024² with a fresh result: 4.3 ms that way, 2.9 ms in blocks, 0.7 ms of which is the copy).
/// </summary>
internal static unsafe class Permute
{
    private const int T = 16;

    /// <summary>dst[dstOff + Σ idx·dstStrides] = src[srcOff + Σ idx·srcStrides] for every index over
    /// <paramref name="shape"/>. Strides are non-negative; the destinations must be distinct (the order in which
    /// elements are copied is not the odometer's).</summary>
    public static void Copy(double[] src, int srcOff, int[] srcStrides, double[] dst, int dstOff, int[] dstStrides, int[] shape) =>
        Copy(src, srcOff, srcStrides, dst, dstOff, dstStrides, shape, false);

    /// <summary><see cref="Copy(double[], int, int[], double[], int, int[], int[])"/>; when <paramref name="stream"/>,
    /// runs contiguous on both sides are written around the caches (<see cref="Streams"/>).</summary>
    public static void Copy(double[] src, int srcOff, int[] srcStrides, double[] dst, int dstOff, int[] dstStrides, int[] shape, bool stream)
    {
        int r = shape.Length;
        if (srcStrides.Length != r || dstStrides.Length != r)
            throw new ArgumentException($"Strides of rank {srcStrides.Length} and {dstStrides.Length} for a shape of rank {r}.");
        long sLast = srcOff, dLast = dstOff;
        for (int a = 0; a < r; a++)
        {
            if (shape[a] == 0) return;
            if (shape[a] < 0 || srcStrides[a] < 0 || dstStrides[a] < 0)
                throw new ArgumentException($"Axis {a}: size {shape[a]}, strides {srcStrides[a]} and {dstStrides[a]}; none may be negative.");
            sLast += (long)(shape[a] - 1) * srcStrides[a];
            dLast += (long)(shape[a] - 1) * dstStrides[a];
        }
        if (srcOff < 0 || dstOff < 0 || sLast >= src.Length || dLast >= dst.Length)
            throw new ArgumentException($"The copy reaches element {sLast} of {src.Length} and writes element {dLast} of {dst.Length}.");
        fixed (double* s = src, d = dst)
        {
            if (r == 0) { d[dstOff] = s[srcOff]; return; }
            long count = 1;
            for (int a = 0; a < r; a++) count *= shape[a];
            // The longest axis is split among the cores, but not a last axis that both sides read as one run:
            // pieces of it would be short runs, each a call (8×16×32×64 to 8×32×16×64 in runs of 16: 174 µs,
            // against 66–78 for TorchSharp).
            int split = 0, last = r > 1 && srcStrides[r - 1] == 1 && dstStrides[r - 1] == 1 ? r - 2 : r - 1;
            for (int a = 1; a <= last; a++)
                if (shape[a] > shape[split]) split = a;
            // A transposed plane's rows are kept whole when another axis gives every core two pieces: pieces of 16
            // columns cost each plane its 8×8 blocks' setup again, and around the caches they would leave half the
            // columns to the edges' scalar loops (64×128×96 to [2,0,1], plain 0.72 → 0.28 ms, in a scope 0.29 →
            // 0.26 ms).
            if (split == r - 1 && r > 1 && srcStrides[r - 1] != 1)
            {
                int alt = 0;
                for (int a = 1; a < r - 1; a++)
                    if (shape[a] > shape[alt]) alt = a;
                if (shape[alt] / 16 >= Math.Min(2 * Fork.Cores, shape[split] / 16)) split = alt;
            }
            if (count < 1L << 18 || Fork.Cores < 2 || shape[split] < 32)
            {
                Serial(s + srcOff, srcStrides, d + dstOff, dstStrides, shape, stream);
                return;
            }
            // Large copies go over the cores in pieces of the longest axis (a multiple of 16 long, so that tiles
            // and 8×8 blocks stay whole); the destinations are distinct, so the pieces are independent.
            // Measured: 1024² transposed into a reused array 0.85 → 0.48 ms, 2048² 9.8 → 3.9 ms.
            int parts = Math.Min(4 * Fork.Cores, shape[split] / 16);
            int piece = (shape[split] / parts + 15) & ~15;
            nint ps = (nint)(s + srcOff), pd = (nint)(d + dstOff);
            Fork.For(Fork.Pieces(shape[split], piece), t =>
            {
                int start = t * piece, len = Math.Min(piece, shape[split] - start);
                var sub = (int[])shape.Clone();
                sub[split] = len;
                Serial((double*)ps + (long)start * srcStrides[split], srcStrides, (double*)pd + (long)start * dstStrides[split], dstStrides, sub, stream);
            });
        }
    }

    /// <summary>One thread's copy (checked by <see cref="Copy(double[], int, int[], double[], int, int[], int[], bool)"/>).</summary>
    private static void Serial(double* s, int[] srcStrides, double* d, int[] dstStrides, int[] shape, bool stream)
    {
        int q = shape.Length - 1, p = -1;
        if (srcStrides[q] != 1 && shape[q] >= 4)
            for (int a = 0; a < q; a++)
                if (srcStrides[a] == 1 && shape[a] >= 4) { p = a; break; }
        if (p < 0) Rows(s, srcStrides, d, dstStrides, shape, stream);
        else Planes(s, srcStrides, d, dstStrides, shape, p, stream);
        if (stream) Streams.Fence();
    }

    /// <summary>Odometer over every axis but the last; the last axis is one run.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows(double* s, int[] ss, double* d, int[] ds, int[] shape, bool stream)
    {
        int r = shape.Length, n = shape[r - 1];
        long sInner = ss[r - 1], dInner = ds[r - 1];
        Span<int> idx = stackalloc int[r];
        long si = 0, di = 0;
        do
        {
            if (sInner == 1 && dInner == 1)
            {
                if (stream) Streams.Copy(s + si, d + di, n);
                else Buffer.MemoryCopy(s + si, d + di, (long)n * 8, (long)n * 8);
            }
            else
            {
                double* sp = s + si, dp = d + di;
                for (int j = 0; j < n; j++) { *dp = *sp; sp += sInner; dp += dInner; }
            }
        } while (Advance(idx, shape, ss, ds, -1, ref si, ref di));
    }

    /// <summary>Odometer over every axis but p and the last; each (p, last) plane copied in tiles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Planes(double* s, int[] ss, double* d, int[] ds, int[] shape, int p, bool stream)
    {
        int r = shape.Length, q = r - 1;
        Span<int> idx = stackalloc int[r];
        long si = 0, di = 0;
        do Plane(s + si, ss[q], d + di, ds[p], ds[q], shape[p], shape[q], stream);
        while (Advance(idx, shape, ss, ds, p, ref si, ref di));
    }

    /// <summary>The next index over every axis but the last and <paramref name="skip"/>, moving both offsets;
    /// false after the last one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Advance(Span<int> idx, int[] shape, int[] ss, int[] ds, int skip, ref long si, ref long di)
    {
        for (int ax = shape.Length - 2; ax >= 0; ax--)
        {
            if (ax == skip) continue;
            si += ss[ax]; di += ds[ax];
            if (++idx[ax] < shape[ax]) return true;
            si -= (long)ss[ax] * shape[ax]; di -= (long)ds[ax] * shape[ax];
            idx[ax] = 0;
        }
        return false;
    }

    /// <summary>One plane: the source steps 1 along P and sq along Q; the destination dp along P, dq along Q.
    /// With a destination contiguous along Q, whole 8×8 blocks are transposed in registers (eight full-line loads,
    /// eight full-line stores: a power-of-two row stride makes a tile's rows share cache sets, which made even
    /// 16×16 scalar tiles 3.4 ms for 1024²), as one block with AVX-512 or four 4×4 blocks with AVX; the rest, and
    /// other machines, go by scalar tiles. When <paramref name="stream"/> (a plain result, in no cache) and every
    /// destination row has the same alignment, the AVX-512 blocks start at a 64-byte boundary and store whole lines
    /// around the caches; the columns before it go with the edges.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Plane(double* s, long sq, double* d, long dp, long dq, int np, int nq, bool stream)
    {
        // The first column whose destination starts a line, when the blocks' rows are whole lines (and rows long
        // enough that the columns left to the edges' scalar loops are few).
        int a0 = 0;
        bool lines = stream && Avx512F.IsSupported && dq == 1 && dp % 8 == 0 && nq >= 64 && ((nint)d & 7) == 0;
        if (lines) a0 = (int)(((64 - ((nint)d & 63)) & 63) / 8);
        if ((Avx512F.IsSupported || Avx.IsSupported) && dq == 1 && np >= 8 && nq >= a0 + 8 && sq <= int.MaxValue && dp <= int.MaxValue)
        {
            int p8 = np & ~7, q8 = a0 + ((nq - a0) & ~7);
            for (int j0 = a0; j0 < q8; j0 += 8)
                for (int i0 = 0; i0 < p8; i0 += 8)
                {
                    double* sb = s + j0 * sq + i0, db = d + i0 * dp + j0;
                    if (Avx512F.IsSupported) PackedGemm.Transpose8(sb, (int)sq, db, (int)dp, lines);
                    else
                    {
                        PackedGemm.Transpose4(sb, (int)sq, db, (int)dp);
                        PackedGemm.Transpose4(sb + 4, (int)sq, db + 4 * dp, (int)dp);
                        PackedGemm.Transpose4(sb + 4 * sq, (int)sq, db + 4, (int)dp);
                        PackedGemm.Transpose4(sb + 4 * sq + 4, (int)sq, db + 4 * dp + 4, (int)dp);
                    }
                }
            // The edges: columns before a0 and past q8 for every row, rows past p8 for the columns between.
            for (int j = 0; j < a0; j++)
                for (int i = 0; i < np; i++) d[i * dp + j] = s[j * sq + i];
            for (int j = q8; j < nq; j++)
                for (int i = 0; i < np; i++) d[i * dp + j] = s[j * sq + i];
            for (int j = a0; j < q8; j++)
                for (int i = p8; i < np; i++) d[i * dp + j] = s[j * sq + i];
            return;
        }
        for (int j0 = 0; j0 < nq; j0 += T)
        {
            int j1 = Math.Min(nq, j0 + T);
            for (int i0 = 0; i0 < np; i0 += T)
            {
                int i1 = Math.Min(np, i0 + T);
                for (int j = j0; j < j1; j++)
                {
                    double* sp = s + j * sq + i0;
                    double* dpt = d + j * dq + i0 * dp;
                    for (int i = i0; i < i1; i++) { *dpt = *sp++; dpt += dp; }
                }
            }
        }
    }
}
