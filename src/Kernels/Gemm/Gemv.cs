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
/// time.</summary>
internal static unsafe class Gemv
{
    /// <summary>Whether the kernel runs on this machine: Vector512, or Vector256 with FMA (the products are fused on
    /// both, so both give the same bits).</summary>
    public static readonly bool Supported = Vector512.IsHardwareAccelerated || (Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported);

    /// <summary>c[b·m + i] = A[b, i, :]·x[b, :] for A: batch×m×k, x: batch×k.</summary>
    public static void Multiply(double[] a, double[] x, double[] c, int batch, int m, int k) =>
        MultiplyColumns(a, x, c, batch, m, k, 1);

    /// <summary>c[(b·m + i)·n + j] = A[b, i, :]·Bt[b, j, :] for A: batch×m×k, Bt: batch×n×k, C: batch×m×n.</summary>
    public static void MultiplyColumns(double[] a, double[] bt, double[] c, int batch, int m, int k, int n)
    {
        int total = batch * m;
        if (total == 0 || n == 0) return;
        if ((long)total * k > a.Length || (long)batch * n * k > bt.Length || (long)total * n > c.Length)
            throw new ArgumentException($"Arrays of {a.Length}, {bt.Length} and {c.Length} elements do not hold {batch} products of {m}×{k} by {k}×{n}.");
        fixed (double* pa = a, pb = bt, pc = c)
        {
            if ((long)total * k * n < (1L << 18))
            {
                Rows(pa, pb, pc, m, k, n, 0, total);
                return;
            }
            nint ia = (nint)pa, ib = (nint)pb, ic = (nint)pc;
            int chunk = (int)Math.Max(1L, (1L << 16) / Math.Max(1L, (long)k * n));
            Fork.For((total + chunk - 1) / chunk, ch =>
                Rows((double*)ia, (double*)ib, (double*)ic, m, k, n, ch * chunk, Math.Min(total, (ch + 1) * chunk)));
        }
    }

    /// <summary>Flat rows t0..t1−1 (t = b·m + i), each against the n rows of its product's Bt.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows(double* a, double* bt, double* c, int m, int k, int n, int t0, int t1)
    {
        bool wide = Vector512.IsHardwareAccelerated;
        for (int t = t0; t < t1; t++)
        {
            double* ar = a + (long)t * k;
            double* br = bt + (long)(t / m) * n * k;
            for (int j = 0; j < n; j++)
                c[(long)t * n + j] = wide ? Dot8(ar, br + (long)j * k, k) : Dot4(ar, br + (long)j * k, k);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Dot8(double* ar, double* xr, int k)
    {
        var acc0 = Vector512<double>.Zero;
        var acc1 = Vector512<double>.Zero;
        int p = 0;
        for (; p <= k - 16; p += 16)
        {
            acc0 = Vector512.FusedMultiplyAdd(Vector512.Load(ar + p), Vector512.Load(xr + p), acc0);
            acc1 = Vector512.FusedMultiplyAdd(Vector512.Load(ar + p + 8), Vector512.Load(xr + p + 8), acc1);
        }
        var v = acc0 + acc1;
        double s = Combine(v.GetLower(), v.GetUpper());
        for (; p < k; p++) s = Math.FusedMultiplyAdd(ar[p], xr[p], s);
        return s;
    }

    /// <summary>Dot8's sums on four lanes: a0…a3 hold what acc0's lower and upper halves and acc1's do there.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Dot4(double* ar, double* xr, int k)
    {
        var a0 = Vector256<double>.Zero;
        var a1 = Vector256<double>.Zero;
        var a2 = Vector256<double>.Zero;
        var a3 = Vector256<double>.Zero;
        int p = 0;
        for (; p <= k - 16; p += 16)
        {
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(ar + p), Vector256.Load(xr + p), a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(ar + p + 4), Vector256.Load(xr + p + 4), a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(ar + p + 8), Vector256.Load(xr + p + 8), a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(ar + p + 12), Vector256.Load(xr + p + 12), a3);
        }
        double s = Combine(a0 + a2, a1 + a3);
        for (; p < k; p++) s = Math.FusedMultiplyAdd(ar[p], xr[p], s);
        return s;
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
