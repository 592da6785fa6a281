using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;

namespace Functional.Kernels;

/// <summary>Products with a few columns as dot products over contiguous rows: c[(b·m + i)·n + j] = A[b, i, :]·Bt[b, j, :],
/// Bt being B transposed (batch × n × k), so that n = 1 is a matrix-vector product. Rows spread over the cores for
/// large m·k·n. Each element is summed in one fixed order whatever the thread count and the vector width: sixteen
/// running sums, sum j taking the products of the elements p ≡ j (mod 16) in order (eight lanes: two Vector512
/// accumulators; four lanes: four Vector256), then <see cref="Combine"/>, then the last k mod 16 products one at a
/// time. A product with too few rows to share among the cores is split along k instead, from its shape alone
/// (<see cref="KChunks"/>): each chunk's dot products so, then the chunks added in order. Two to four columns (and
/// eight with AVX-512) can
/// also be read from B as stored, k×n (<see cref="MultiplyInterleaved"/>), in the same order.</summary>
internal static unsafe partial class Gemv
{
    /// <summary>Whether the kernel runs on this machine: Vector512, or Vector256 with FMA (the products are fused on
    /// both, so both give the same bits).</summary>
    public static readonly bool Supported = Vector512.IsHardwareAccelerated || (Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported);

    /// <summary>c[b·m + i] = A[b, i, :]·x[b, :] for A: batch×m×k, x: batch×k.</summary>
    public static void Multiply(double[] a, double[] x, double[] c, int batch, int m, int k) =>
        MultiplyColumns(a, x, c, batch, m, k, 1);

    /// <summary>c[(b·m + i)·n + j] = A[b, i, :]·Bt[b, j, :] for A: batch×m×k, Bt: batch×n×k, C: batch×m×n.</summary>
    public static void MultiplyColumns(double[] a, double[] bt, double[] c, int batch, int m, int k, int n) =>
        Multiply(a, bt, c, batch, m, k, n, interleaved: false);

    /// <summary>The products of <see cref="MultiplyColumns"/> with B: batch×k×n as stored (no transposed copy), where
    /// <see cref="Interleaves"/> n; the same bits. <see cref="ReadsInterleaved"/> says when it is the faster.</summary>
    public static void MultiplyInterleaved(double[] a, double[] b, double[] c, int batch, int m, int k, int n)
    {
        if (!Interleaves(n)) throw new ArgumentException($"{n} columns are not read interleaved on this machine.", nameof(n));
        Multiply(a, b, c, batch, m, k, n, interleaved: true);
    }

    /// <summary>B is Bt (batch×n×k), or B as stored (batch×k×n) when interleaved.</summary>
    private static void Multiply(double[] a, double[] b, double[] c, int batch, int m, int k, int n, bool interleaved)
    {
        int total = batch * m;
        if (total == 0 || n == 0) return;
        if ((long)total * k > a.Length || (long)batch * n * k > b.Length || (long)total * n > c.Length)
            throw new ArgumentException($"Arrays of {a.Length}, {b.Length} and {c.Length} elements do not hold {batch} products of {m}×{k} by {k}×{n}.");
        var (chunks, per) = KChunks(total, k, n);
        if (chunks > 1)
        {
            Chunked(a, b, c, m, k, n, total, chunks, per, interleaved);
            return;
        }
        fixed (double* pa = a, pb = b, pc = c)
        {
            if ((long)total * k * n < (1L << 18))
            {
                Rows(pa, pb, pc, m, k, n, 0, total, 0, k, interleaved);
                return;
            }
            nint ia = (nint)pa, ib = (nint)pb, ic = (nint)pc;
            int chunk = (int)Math.Max(1L, (1L << 16) / Math.Max(1L, (long)k * n));
            Fork.ForPieces(total, chunk, (lo, hi) => Rows((double*)ia, (double*)ib, (double*)ic, m, k, n, lo, hi, 0, k, interleaved));
        }
    }

    /// <summary>How a product of `total` rows is split along k: into chunks of per elements (a multiple of 16), from
    /// the shape alone (never from the core count), when it has fewer than four rows and 2^18 multiply-adds or more
    /// and k is at least 8,192: up to 16 chunks of at least 4,096. One chunk means no split.</summary>
    internal static (int Chunks, int Per) KChunks(int total, int k, int n)
    {
        if (total >= 4 || (long)total * k * n < (1L << 18) || k < 8192) return (1, k);
        int chunks = Math.Clamp(k / 4096, 2, 16);
        int per = Fork.Pieces(Fork.Pieces(k, chunks), 16) * 16;
        return (Fork.Pieces(k, per), per);
    }

    /// <summary>Each chunk of k (<see cref="KChunks"/>) as its own set of dot products over the cores, into rows of
    /// partial results, then those added in order, ((P₀ + P₁) + P₂) + ….</summary>
    private static void Chunked(double[] a, double[] b, double[] c, int m, int k, int n, int total, int chunks, int per, bool interleaved)
    {
        int size = total * n;
        var partial = GC.AllocateUninitializedArray<double>(chunks * size);
        fixed (double* pa = a, pb = b, pp = partial)
        {
            nint ia = (nint)pa, ib = (nint)pb, ip = (nint)pp;
            Fork.For(chunks, ch =>
            {
                int p0 = ch * per;
                Rows((double*)ia, (double*)ib, (double*)ip + (long)ch * size, m, k, n, 0, total, p0, Math.Min(per, k - p0), interleaved);
            });
            for (int i = 0; i < size; i++)
            {
                double s = pp[i];
                for (int ch = 1; ch < chunks; ch++) s += pp[(long)ch * size + i];
                c[i] = s;
            }
        }
    }

    /// <summary>Flat rows t0..t1−1 (t = b·m + i), each against the n rows of its product's Bt (or its k×n B when
    /// interleaved), over elements p0 … p0 + kc − 1 of each row only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    private static void Rows(double* a, double* b, double* c, int m, int k, int n, int t0, int t1, int p0, int kc, bool interleaved)
    {
        double* sums = stackalloc double[128];
        for (int t = t0; t < t1; t++)
        {
            double* ar = a + (long)t * k + p0;
            if (interleaved)
            {
                Interleaved(ar, b + (long)(t / m) * n * k + (long)p0 * n, kc, n, c + (long)t * n, sums);
                continue;
            }
            double* br = b + (long)(t / m) * n * k + p0;
            for (int j = 0; j < n; j++) c[(long)t * n + j] = Dot(ar, br + (long)j * k, kc);
        }
    }

    /// <summary>One dot product in the documented order: the whole groups of 16 on the machine's lanes, then the
    /// last k mod 16 products one at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Dot(double* ar, double* xr, int k)
    {
        int whole = k & ~15;
        double s = Vector512.IsHardwareAccelerated ? Groups8(ar, xr, whole) : Groups4(ar, xr, whole);
        for (int p = whole; p < k; p++) s = Math.FusedMultiplyAdd(ar[p], xr[p], s);
        return s;
    }

    /// <summary>The sixteen running sums over whole groups of 16 on eight lanes, folded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Groups8(double* ar, double* xr, int whole)
    {
        var acc0 = Vector512<double>.Zero;
        var acc1 = Vector512<double>.Zero;
        for (int p = 0; p < whole; p += 16)
        {
            acc0 = Vector512.FusedMultiplyAdd(Vector512.Load(ar + p), Vector512.Load(xr + p), acc0);
            acc1 = Vector512.FusedMultiplyAdd(Vector512.Load(ar + p + 8), Vector512.Load(xr + p + 8), acc1);
        }
        var v = acc0 + acc1;
        return Combine(v.GetLower(), v.GetUpper());
    }

    /// <summary>Groups8's sums on four lanes: a0…a3 hold what acc0's lower and upper halves and acc1's do there.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Groups4(double* ar, double* xr, int whole)
    {
        var a0 = Vector256<double>.Zero;
        var a1 = Vector256<double>.Zero;
        var a2 = Vector256<double>.Zero;
        var a3 = Vector256<double>.Zero;
        for (int p = 0; p < whole; p += 16)
        {
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(ar + p), Vector256.Load(xr + p), a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(ar + p + 4), Vector256.Load(xr + p + 4), a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(ar + p + 8), Vector256.Load(xr + p + 8), a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(ar + p + 12), Vector256.Load(xr + p + 12), a3);
        }
        return Combine(a0 + a2, a1 + a3);
    }

    /// <summary>The sixteen running sums folded to one, with lo holding sums j + 8 added to sums j for j = 0…3 and hi
    /// the same for j = 4…7: w = lo + hi, then (w0 + w2) + (w1 + w3). Written out, not left to Vector.Sum, whose order
    /// is the JIT's to choose.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static double Combine(Vector256<double> lo, Vector256<double> hi)
    {
        var w = lo + hi;
        var h = w.GetLower() + w.GetUpper();
        return h.ToScalar() + h.GetElement(1);
    }
}
