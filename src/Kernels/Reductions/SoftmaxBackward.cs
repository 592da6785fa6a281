using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Threading.Tasks;

namespace Functional.Kernels;

/// <summary>
/// Softmax's vector-Jacobian product along contiguous rows, z = y·(g − Σ g·y), one row at a time while it is in
/// cache: the products, their sum (in <see cref="Reduce.SumRuns"/>' order), the difference and the product of
/// the four separate passes (each a pass over the whole tensor), so the same bits. With <c>stream</c> z is written
/// around the caches (a large plain result, in no cache: written through them, each line would first be read),
/// the elements before a row's first aligned lane one by one (the same operations, so the same bits).
/// </summary>
internal static unsafe class SoftmaxBackward
{
    public static void Rows(double[] y, double[] g, double[] z, int rows, int n, bool stream)
    {
        if ((long)rows * n > y.Length || (long)rows * n > g.Length || (long)rows * n > z.Length)
            throw new ArgumentException($"{rows} rows of {n} do not fit arrays of {y.Length}, {g.Length} and {z.Length}.");
        if (rows == 0 || n == 0) return;
        fixed (double* py = y, pg = g, pz = z)
        {
            int per = Fork.PerTask(rows, n);
            if (Fork.Pieces(rows, per) <= 1 || Fork.Cores < 2) { Range(py, pg, pz, n, 0, rows, stream); return; }
            nint iy = (nint)py, ig = (nint)pg, iz = (nint)pz;
            Fork.ForPieces(rows, per, (lo, hi) => Range((double*)iy, (double*)ig, (double*)iz, n, lo, hi, stream));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Range(double* y, double* g, double* z, int n, int r0, int r1, bool stream)
    {
        for (int r = r0; r < r1; r++)
        {
            double* yr = y + (long)r * n, gr = g + (long)r * n, zr = z + (long)r * n;
            // The products summed as they are made, in the order of a stored row's sum.
            double s = Reduce.SumOf(new Reduce.Products(gr, yr), n);
            int j = 0;
            // Around the caches from the first lane the stores can align to; the elements before it one by one.
            if (stream)
                for (nint align = Vector512.IsHardwareAccelerated ? 63 : 31; j < n && ((nint)(zr + j) & align) != 0; j++) zr[j] = yr[j] * (gr[j] - s);
            if (Vector512.IsHardwareAccelerated)
            {
                var vs = Vector512.Create(s);
                for (; j <= n - 8; j += 8)
                {
                    var v = Vector512.Load(yr + j) * (Vector512.Load(gr + j) - vs);
                    if (stream) Vector512.StoreAlignedNonTemporal(v, zr + j); else Vector512.Store(v, zr + j);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                var vs = Vector256.Create(s);
                for (; j <= n - 4; j += 4)
                {
                    var v = Vector256.Load(yr + j) * (Vector256.Load(gr + j) - vs);
                    if (stream) Vector256.StoreAlignedNonTemporal(v, zr + j); else Vector256.Store(v, zr + j);
                }
            }
            for (; j < n; j++) zr[j] = yr[j] * (gr[j] - s);
        }
        if (stream && Sse.IsSupported) Sse.StoreFence();
    }
}
