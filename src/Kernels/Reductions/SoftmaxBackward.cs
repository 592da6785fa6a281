using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;

namespace Functional.Kernels;

/// <summary>
/// Softmax's vector-Jacobian product along contiguous rows, z = y·(g − Σ g·y), one row at a time while it is in
/// cache: the products, their sum (in <see cref="Reduce.SumRuns"/>' order), the difference and the product of
/// the four separate passes (each a pass over the whole tensor), so the same bits.
/// </summary>
internal static unsafe class SoftmaxBackward
{
    public static void Rows(double[] y, double[] g, double[] z, int rows, int n)
    {
        if ((long)rows * n > y.Length || (long)rows * n > g.Length || (long)rows * n > z.Length)
            throw new ArgumentException($"{rows} rows of {n} do not fit arrays of {y.Length}, {g.Length} and {z.Length}.");
        if (rows == 0 || n == 0) return;
        fixed (double* py = y, pg = g, pz = z)
        {
            // Chunks of about 16,384 elements, over the cores when there are several.
            int per = Math.Max(1, 16384 / n);
            int chunks = (rows + per - 1) / per;
            if (chunks <= 1 || Environment.ProcessorCount < 2) { Range(py, pg, pz, n, 0, rows); return; }
            nint iy = (nint)py, ig = (nint)pg, iz = (nint)pz;
            Parallel.For(0, chunks, c => Range((double*)iy, (double*)ig, (double*)iz, n, c * per, Math.Min(rows, (c + 1) * per)));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Range(double* y, double* g, double* z, int n, int r0, int r1)
    {
        // From the shared pool: long rows run one row a chunk, and a fresh 128 KB array per row of 16,384 landed
        // on the large-object heap.
        var products = System.Buffers.ArrayPool<double>.Shared.Rent(n);
        var sum = new double[1];
        try
        {
            fixed (double* pp = products)
                for (int r = r0; r < r1; r++)
                {
                    double* yr = y + (long)r * n, gr = g + (long)r * n, zr = z + (long)r * n;
                    double s;
                    int j = 0;
                    if (n < Reduce.OneBlock)
                        s = ProductSum(gr, yr, n);
                    else
                    {
                        if (Vector512.IsHardwareAccelerated)
                            for (; j <= n - 8; j += 8) Vector512.Store(Vector512.Load(gr + j) * Vector512.Load(yr + j), pp + j);
                        else if (Vector256.IsHardwareAccelerated)
                            for (; j <= n - 4; j += 4) Vector256.Store(Vector256.Load(gr + j) * Vector256.Load(yr + j), pp + j);
                        for (; j < n; j++) pp[j] = gr[j] * yr[j];
                        Reduce.SumRuns(products, 1, n, sum);
                        s = sum[0];
                    }
                    j = 0;
                    if (Vector512.IsHardwareAccelerated)
                    {
                        var vs = Vector512.Create(s);
                        for (; j <= n - 8; j += 8) Vector512.Store(Vector512.Load(yr + j) * (Vector512.Load(gr + j) - vs), zr + j);
                    }
                    else if (Vector256.IsHardwareAccelerated)
                    {
                        var vs = Vector256.Create(s);
                        for (; j <= n - 4; j += 4) Vector256.Store(Vector256.Load(yr + j) * (Vector256.Load(gr + j) - vs), zr + j);
                    }
                    for (; j < n; j++) zr[j] = yr[j] * (gr[j] - s);
                }
        }
        finally { System.Buffers.ArrayPool<double>.Shared.Return(products); }
    }

    /// <summary>Σ g[j]·y[j] over a row shorter than one block, each product rounded and then added in the order
    /// <see cref="Reduce.Sum"/> adds a stored row of them (so the same bits, on either vector width), without
    /// storing the products: the four accumulators of 32-element steps, their lanes pairwise, then the rest in
    /// order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double ProductSum(double* g, double* y, int n)
    {
        int j = 0;
        double total = 0.0;
        if (n >= 32 && Vector512.IsHardwareAccelerated)
        {
            Vector512<double> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; j + 32 <= n; j += 32)
            {
                a0 += Vector512.Load(g + j) * Vector512.Load(y + j);
                a1 += Vector512.Load(g + j + 8) * Vector512.Load(y + j + 8);
                a2 += Vector512.Load(g + j + 16) * Vector512.Load(y + j + 16);
                a3 += Vector512.Load(g + j + 24) * Vector512.Load(y + j + 24);
            }
            total = Reduce.Lanes((a0 + a1) + (a2 + a3));
        }
        else if (n >= 32)
        {
            // Each eight-lane accumulator as two halves, as Reduce sums on this width.
            Vector256<double> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector256<double> b0 = default, b1 = default, b2 = default, b3 = default;
            for (; j + 32 <= n; j += 32)
            {
                a0 += Vector256.Load(g + j) * Vector256.Load(y + j); b0 += Vector256.Load(g + j + 4) * Vector256.Load(y + j + 4);
                a1 += Vector256.Load(g + j + 8) * Vector256.Load(y + j + 8); b1 += Vector256.Load(g + j + 12) * Vector256.Load(y + j + 12);
                a2 += Vector256.Load(g + j + 16) * Vector256.Load(y + j + 16); b2 += Vector256.Load(g + j + 20) * Vector256.Load(y + j + 20);
                a3 += Vector256.Load(g + j + 24) * Vector256.Load(y + j + 24); b3 += Vector256.Load(g + j + 28) * Vector256.Load(y + j + 28);
            }
            total = Reduce.Lanes((a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3));
        }
        for (; j < n; j++) total += g[j] * y[j];
        return total;
    }
}
