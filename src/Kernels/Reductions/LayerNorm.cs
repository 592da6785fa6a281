using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Functional.Kernels;

/// <summary>
/// Layer normalisation along contiguous rows of n, one row at a time while it is in cache:
/// y = (x − μ)·r with μ the row's mean and r = 1/√(var + ε) (the biased variance, as PyTorch's layer_norm), and its
/// vector-Jacobian product z = r·(g − mean g − y·mean(g·y)). Every mean is a row sum in <see cref="Reduce"/>'s fixed
/// order and the elementwise steps are the same operations on every vector width, so the bits are too.
/// </summary>
internal static unsafe class LayerNorm
{
    /// <summary>y = (x − μ)·r for each of `rows` rows of n; each row's r into rstd when it is given (for
    /// <see cref="Backward"/>).</summary>
    public static void Forward(double[] x, double[] y, int rows, int n, double epsilon, double[]? rstd = null) =>
        Rows(x, y, null, null, rows, n, epsilon, rstd);

    /// <summary>z = r·(g − mean g − y·mean(g·y)) for each row: r from rstd (the forward's, then x is not read) or,
    /// when rstd is null, recomputed from x with the forward's operations (the same bits either way).</summary>
    public static void Backward(double[] x, double[] y, double[] g, double[] z, int rows, int n, double epsilon, double[]? rstd = null) =>
        Rows(x, z, y, g, rows, n, epsilon, rstd);

    private static void Rows(double[] x, double[] output, double[]? y, double[]? g, int rows, int n, double epsilon, double[]? rstd)
    {
        long total = (long)rows * n;
        if (total > x.Length || total > output.Length || (y is not null && total > y.Length) || (g is not null && total > g.Length) || (rstd is not null && rows > rstd.Length))
            throw new ArgumentException($"{rows} rows of {n} do not fit the arrays.");
        if (rows == 0 || n == 0) return;
        int per = Fork.PerTask(rows, 4 * n);
        int chunks = (rows + per - 1) / per;
        if (chunks <= 1 || Environment.ProcessorCount < 2) { Range(x, output, y, g, n, epsilon, rstd, 0, rows); return; }
        Fork.For(chunks, c => Range(x, output, y, g, n, epsilon, rstd, c * per, Math.Min(rows, (c + 1) * per)));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Range(double[] x, double[] output, double[]? y, double[]? g, int n, double epsilon, double[]? rstds, int r0, int r1)
    {
        // The forward writes each row's r into rstds when given; the backward reads it from there.
        bool saved = g is not null && rstds is not null;
        var scratch = System.Buffers.ArrayPool<double>.Shared.Rent(n);
        try
        {
            fixed (double* px = x, po = output, py = y, pg = g, ps = scratch)
                for (int r = r0; r < r1; r++)
                {
                    long off = (long)r * n;
                    double* xr = px + off, outr = po + off;
                    double mean = 0.0, rstd;
                    if (saved) rstd = rstds![r];
                    else
                    {
                        mean = Reduce.SumOnOneCore(x, (int)off, n) / n;
                        Map(xr, ps, n, mean, 0.0, Step.CentredSquare);
                        rstd = 1.0 / Math.Sqrt(Reduce.SumOnOneCore(scratch, 0, n) / n + epsilon);
                        if (rstds is not null) rstds[r] = rstd;
                    }
                    if (g is null)
                    {
                        Map(xr, outr, n, mean, rstd, Step.Normalise);
                        continue;
                    }
                    double* yr = py + off, gr = pg + off;
                    double meanG = Reduce.SumOnOneCore(g, (int)off, n) / n;
                    Product(gr, yr, ps, n);
                    double meanGy = Reduce.SumOnOneCore(scratch, 0, n) / n;
                    Combine(gr, yr, outr, n, meanG, meanGy, rstd);
                }
        }
        finally { System.Buffers.ArrayPool<double>.Shared.Return(scratch); }
    }

    private enum Step { CentredSquare, Normalise }

    /// <summary>(x − μ)² or (x − μ)·r into d.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Map(double* x, double* d, int n, double mean, double rstd, Step step)
    {
        int j = 0;
        bool square = step == Step.CentredSquare;
        if (Vector512.IsHardwareAccelerated)
        {
            var m = Vector512.Create(mean);
            var s = Vector512.Create(rstd);
            for (; j <= n - 8; j += 8)
            {
                var c = Vector512.Load(x + j) - m;
                Vector512.Store(square ? c * c : c * s, d + j);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var m = Vector256.Create(mean);
            var s = Vector256.Create(rstd);
            for (; j <= n - 4; j += 4)
            {
                var c = Vector256.Load(x + j) - m;
                Vector256.Store(square ? c * c : c * s, d + j);
            }
        }
        for (; j < n; j++)
        {
            double c = x[j] - mean;
            d[j] = square ? c * c : c * rstd;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Product(double* a, double* b, double* d, int n)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; j <= n - 8; j += 8) Vector512.Store(Vector512.Load(a + j) * Vector512.Load(b + j), d + j);
        else if (Vector256.IsHardwareAccelerated)
            for (; j <= n - 4; j += 4) Vector256.Store(Vector256.Load(a + j) * Vector256.Load(b + j), d + j);
        for (; j < n; j++) d[j] = a[j] * b[j];
    }

    /// <summary>z = r·((g − mean g) − y·mean(g·y)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Combine(double* g, double* y, double* z, int n, double meanG, double meanGy, double rstd)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var mg = Vector512.Create(meanG);
            var mgy = Vector512.Create(meanGy);
            var s = Vector512.Create(rstd);
            for (; j <= n - 8; j += 8) Vector512.Store(s * ((Vector512.Load(g + j) - mg) - Vector512.Load(y + j) * mgy), z + j);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var mg = Vector256.Create(meanG);
            var mgy = Vector256.Create(meanGy);
            var s = Vector256.Create(rstd);
            for (; j <= n - 4; j += 4) Vector256.Store(s * ((Vector256.Load(g + j) - mg) - Vector256.Load(y + j) * mgy), z + j);
        }
        for (; j < n; j++) z[j] = rstd * ((g[j] - meanG) - y[j] * meanGy);
    }
}
