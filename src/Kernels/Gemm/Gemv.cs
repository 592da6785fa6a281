using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;

namespace Functional.Kernels;

/// <summary>Matrix-vector products c[b·m + i] = A[b, i, :]·x[b, :]: a dot product over contiguous rows with two
/// Vector512 accumulators, rows spread over the cores for large m·k. Each element is summed in one fixed order
/// whatever the thread count.</summary>
internal static unsafe class Gemv
{
    public static void Multiply(double[] a, double[] x, double[] c, int batch, int m, int k)
    {
        int total = batch * m;
        if (total == 0) return;
        fixed (double* pa = a, px = x, pc = c)
        {
            if ((long)total * k < (1L << 18))
            {
                Rows(pa, px, pc, m, k, 0, total);
                return;
            }
            nint ia = (nint)pa, ix = (nint)px, ic = (nint)pc;
            int chunk = Math.Max(1, (1 << 16) / Math.Max(1, k));
            Fork.For((total + chunk - 1) / chunk, ch =>
                Rows((double*)ia, (double*)ix, (double*)ic, m, k, ch * chunk, Math.Min(total, (ch + 1) * chunk)));
        }
    }

    /// <summary>Flat rows t0..t1−1 (t = b·m + i).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows(double* a, double* x, double* c, int m, int k, int t0, int t1)
    {
        for (int t = t0; t < t1; t++)
        {
            double* ar = a + (long)t * k;
            double* xr = x + (long)(t / m) * k;
            var acc0 = Vector512<double>.Zero;
            var acc1 = Vector512<double>.Zero;
            int p = 0;
            for (; p <= k - 16; p += 16)
            {
                acc0 = Vector512.FusedMultiplyAdd(Vector512.Load(ar + p), Vector512.Load(xr + p), acc0);
                acc1 = Vector512.FusedMultiplyAdd(Vector512.Load(ar + p + 8), Vector512.Load(xr + p + 8), acc1);
            }
            double s = Vector512.Sum(acc0 + acc1);
            for (; p < k; p++) s = Math.FusedMultiplyAdd(ar[p], xr[p], s);
            c[t] = s;
        }
    }
}
