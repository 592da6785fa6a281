using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Functional.Kernels;

/// <summary>
/// Layer normalisation along contiguous rows of n, one row at a time while it is in cache:
/// y = (x − μ)·r with μ the row's mean and r = 1/√(var + ε) (the biased variance, as PyTorch's layer_norm), and its
/// vector-Jacobian product z = r·(g − mean g − y·mean(g·y)). Every mean is a row sum in <see cref="Reduce"/>'s fixed
/// order and the elementwise steps are the same operations on every vector width, so the bits are too. The mean is
/// corrected by a second pass, μ = μ₁ + mean(x − μ₁): μ₁ alone is off by the first sum's rounding, which on a constant
/// row made x − μ₁ a few ulps instead of 0 and y far from 0 (−1 with ε = 0, −2.3e-4 for 768 values of 1e6 + 0.1 with
/// ε = 1e-12).
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
        if (Fork.Pieces(rows, per) <= 1 || Fork.Cores < 2) { Range(x, output, y, g, n, epsilon, rstd, 0, rows); return; }
        Fork.ForPieces(rows, per, (lo, hi) => Range(x, output, y, g, n, epsilon, rstd, lo, hi));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Range(double[] x, double[] output, double[]? y, double[]? g, int n, double epsilon, double[]? rstds, int r0, int r1)
    {
        // The forward writes each row's r into rstds when given; the backward reads it from there.
        bool saved = g is not null && rstds is not null;
        fixed (double* px = x, po = output, py = y, pg = g)
            for (int r = r0; r < r1; r++)
            {
                long off = (long)r * n;
                double* xr = px + off, outr = po + off;
                double mean = 0.0, rstd;
                if (saved) rstd = rstds![r];
                else
                {
                    (mean, rstd) = Moments(x, xr, (int)off, n, epsilon);
                    if (rstds is not null) rstds[r] = rstd;
                }
                if (g is null)
                {
                    Normalise(xr, outr, n, mean, rstd);
                    continue;
                }
                double* yr = py + off, gr = pg + off;
                double meanG = Reduce.SumOnOneCore(g, (int)off, n) / n;
                double meanGy = Reduce.SumOnOneCore(new Reduce.Products(gr, yr), n) / n;
                Combine(gr, yr, outr, n, meanG, meanGy, rstd);
            }
    }

    /// <summary>A row's mean μ and r = 1/√(var + ε), in the row sums' fixed order.</summary>
    private static (double Mean, double Rstd) Moments(double[] x, double* xr, int off, int n, double epsilon)
    {
        double first = Reduce.SumOnOneCore(x, off, n) / n;
        double mean = first + Reduce.SumOnOneCore(new Centred(xr, first, false), n) / n;
        double variance = Reduce.SumOnOneCore(new Centred(xr, mean, true), n) / n;
        if (double.IsFinite(mean) && double.IsFinite(variance)) return (mean, 1.0 / Math.Sqrt(variance + epsilon));
        // A sum past the largest double (entries near 1e308, or a spread past 1e154) though every entry is finite:
        // the moments of the entries scaled down, exactly, by a power of two. NaN and ∞ entries keep their NaN.
        for (int j = 0; j < n; j++)
            if (!double.IsFinite(xr[j])) return (mean, 1.0 / Math.Sqrt(variance + epsilon));
        return ScaledMoments(xr, n, epsilon);
    }

    /// <summary>The moments of a row of finite entries whose sum or sum of squares overflows, from the entries times
    /// 2⁻⁵⁴⁰ (exact but for entries below 2⁻⁴⁸², nothing beside a sum this large), one at a time in order: a sum of
    /// 2³¹ squares of such entries stays below the largest double. Rare, so scalar (the same bits on every width).</summary>
    private static (double Mean, double Rstd) ScaledMoments(double* x, int n, double epsilon)
    {
        double Down = Math.ScaleB(1.0, -540), Up = Math.ScaleB(1.0, 540);
        double sum = 0;
        for (int j = 0; j < n; j++) sum += x[j] * Down;
        double first = sum / n, correction = 0;
        for (int j = 0; j < n; j++) correction += x[j] * Down - first;
        double mean = first + correction / n, squares = 0;
        for (int j = 0; j < n; j++) { double c = x[j] * Down - mean; squares += c * c; }
        double variance = squares / n * Up * Up;
        // A variance that fits takes ε as the unscaled path does (a constant row of 1e308 has variance 0); one past
        // the largest double leaves ε negligible: r = 2⁻⁵⁴⁰/√(scaled variance).
        return (mean * Up, double.IsFinite(variance) ? 1.0 / Math.Sqrt(variance + epsilon) : Down / Math.Sqrt(squares / n));
    }

    /// <summary>(x − μ)·r into d.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Normalise(double* x, double* d, int n, double mean, double rstd)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var m = Vector512.Create(mean);
            var s = Vector512.Create(rstd);
            for (; j <= n - 8; j += 8) Vector512.Store((Vector512.Load(x + j) - m) * s, d + j);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var m = Vector256.Create(mean);
            var s = Vector256.Create(rstd);
            for (; j <= n - 4; j += 4) Vector256.Store((Vector256.Load(x + j) - m) * s, d + j);
        }
        for (; j < n; j++) d[j] = (x[j] - mean) * rstd;
    }

    /// <summary>x[i] − μ, or (x[i] − μ)² each square rounded when <paramref name="square"/>, made as the row sum reads
    /// them (the bits of summing them stored); +0 in the lanes past the row.</summary>
    private readonly struct Centred(double* x, double mean, bool square) : Reduce.IRunElements
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<double> Load8(int i)
        {
            var c = Vector512.Load(x + i) - Vector512.Create(mean);
            return square ? c * c : c;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<double> Load4(int i)
        {
            var c = Vector256.Load(x + i) - Vector256.Create(mean);
            return square ? c * c : c;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<double> Partial8(int i, int count)
        {
            if (count >= 8) return Load8(i);
            if (count <= 0) return Vector512<double>.Zero;
            var c = Reduce.Partial8(x + i, count) - Vector512.Create(mean);
            var inside = Vector512.LessThan(Vector512.Create(0L, 1, 2, 3, 4, 5, 6, 7), Vector512.Create((long)count)).AsDouble();
            return Vector512.ConditionalSelect(inside, square ? c * c : c, Vector512<double>.Zero);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<double> Partial4(int i, int count)
        {
            if (count >= 4) return Load4(i);
            if (count <= 0) return Vector256<double>.Zero;
            var c = Reduce.Partial4(x + i, count) - Vector256.Create(mean);
            var inside = Vector256.LessThan(Vector256.Create(0L, 1, 2, 3), Vector256.Create((long)count)).AsDouble();
            return Vector256.ConditionalSelect(inside, square ? c * c : c, Vector256<double>.Zero);
        }
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
