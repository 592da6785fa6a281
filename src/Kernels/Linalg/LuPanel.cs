using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Functional.Kernels;

/// <summary>
/// The column steps of a blocked LU's panel (blocks beyond one panel, whose results are not the textbook loops' bits):
/// the pivot search and a column's update by the columns before it. Both ran as scalar or unfused loops, on the one
/// core that factors the panel while the other waits. Each element goes through the same operations on every vector
/// width (fused multiply-adds in order of the column), so the bits do not depend on the hardware path. Beside them,
/// the data moves of the blocked factorizations and substitutions: row exchanges and negated blocks for the
/// products that subtract in place.
/// </summary>
internal static unsafe class LuPanel
{
    /// <summary>Copies src[from .. from + count) to dst[to ..] and says whether it holds a NaN, in the copy's one pass:
    /// an LU of such a matrix is made NaN throughout, where the pivot search (which passes NaN over) and the
    /// zero-pivot steps would otherwise drop it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool CopyHoldingNaN(double[] src, int from, double[] dst, int to, int count)
    {
        if (from < 0 || to < 0 || count < 0 || (long)from + count > src.Length || (long)to + count > dst.Length)
            throw new ArgumentException($"{count} elements from {from} to {to} do not fit {src.Length} and {dst.Length}.");
        fixed (double* ps = src, pd = dst)
        {
            double* s = ps + from, d = pd + to;
            int i = 0;
            bool nan = false;
            if (Vector256.IsHardwareAccelerated)
            {
                // The "not equal to itself" lanes or-ed over the whole copy, tested once at the end.
                var any = Vector256<double>.Zero;
                for (; i <= count - 8; i += 8)
                {
                    var a = Vector256.Load(s + i);
                    var b = Vector256.Load(s + i + 4);
                    a.Store(d + i);
                    b.Store(d + i + 4);
                    any |= ~Vector256.Equals(a, a) | ~Vector256.Equals(b, b);
                }
                nan = any != Vector256<double>.Zero;
            }
            for (; i < count; i++)
            {
                double v = s[i];
                d[i] = v;
                nan |= double.IsNaN(v);
            }
            return nan;
        }
    }

    /// <summary>The pivot row among x[from .. from + count): from itself when x[from] is NaN, else the first element
    /// of the largest magnitude among the others that are not NaN, as the loop
    /// <c>if |x[i]| &gt; |x[p]| then p = i</c> finds it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int LargestMagnitude(double[] x, int from, int count)
    {
        if (from < 0 || count < 1 || (long)from + count > x.Length)
            throw new ArgumentException($"{count} elements from {from} do not fit {x.Length}.");
        fixed (double* p = x)
        {
            double* v = p + from;
            double best = Math.Abs(v[0]);
            if (double.IsNaN(best)) return from;
            int i = 1;
            // The largest magnitude first (a NaN lane never compares greater, so it is passed over), then its first place.
            if (Vector256.IsHardwareAccelerated && count >= 9)
            {
                var m = Vector256.Create(best);
                for (; i <= count - 4; i += 4)
                {
                    var a = Vector256.Abs(Vector256.Load(v + i));
                    m = Vector256.ConditionalSelect(Vector256.GreaterThan(a, m), a, m);
                }
                best = Math.Max(Math.Max(m[0], m[1]), Math.Max(m[2], m[3]));
            }
            for (; i < count; i++)
            {
                double a = Math.Abs(v[i]);
                if (a > best) best = a;
            }
            for (int j = 0; j < count; j++)
                if (Math.Abs(v[j]) == best) return from + j;
            return from;
        }
    }

    /// <summary>dst[d + t] −= Σ_q coef[c + q]·src[s + q·ld + t] for q &lt; count and t &lt; len: each element's products
    /// subtracted in order of q, each by one fused multiply-add (four vectors side by side, so that one element's
    /// steps do not wait on each other's).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SubtractCombination(double[] dst, int d, double[] coef, int c, double[] src, int s, int ld, int count, int len)
    {
        if (count <= 0 || len <= 0) return;
        if (d < 0 || c < 0 || s < 0 || ld < len || (long)d + len > dst.Length || (long)c + count > coef.Length || (long)s + (long)(count - 1) * ld + len > src.Length)
            throw new ArgumentException($"A combination of {count} rows of {len} (leading dimension {ld}) does not fit its arrays.");
        fixed (double* pd = dst, pc = coef, ps = src)
        {
            double* x = pd + d, k = pc + c, y = ps + s;
            int t = 0;
            if (Vector512.IsHardwareAccelerated) t = FourVectors<Vector512<double>, Lanes8>(x, k, y, ld, count, len, t);
            if (Vector256.IsHardwareAccelerated)
            {
                t = FourVectors<Vector256<double>, Lanes4>(x, k, y, ld, count, len, t);
                for (; t <= len - 4; t += 4)
                {
                    var x0 = Vector256.Load(x + t);
                    double* yq = y + t;
                    for (int q = 0; q < count; q++, yq += ld) x0 = Vector256.FusedMultiplyAdd(Vector256.Load(yq), Vector256.Create(-k[q]), x0);
                    Vector256.Store(x0, x + t);
                }
            }
            for (; t < len; t++)
            {
                double a = x[t];
                double* yq = y + t;
                for (int q = 0; q < count; q++, yq += ld) a = Math.FusedMultiplyAdd(*yq, -k[q], a);
                x[t] = a;
            }
        }
    }

    /// <summary>Exchanges x[a .. a + count) and x[b .. b + count), two ranges that do not overlap (a row swap).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Exchange(double[] x, int a, int b, int count)
    {
        if (count <= 0) return;
        if (a < 0 || b < 0 || (long)Math.Max(a, b) + count > x.Length || Math.Abs((long)a - b) < count)
            throw new ArgumentException($"Ranges of {count} at {a} and {b} overlap or do not fit {x.Length} elements.");
        fixed (double* p = x)
        {
            double* u = p + a, v = p + b;
            int j = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; j <= count - 8; j += 8)
                {
                    var t = Vector512.Load(u + j);
                    Vector512.Store(Vector512.Load(v + j), u + j);
                    Vector512.Store(t, v + j);
                }
            if (Vector256.IsHardwareAccelerated)
                for (; j <= count - 4; j += 4)
                {
                    var t = Vector256.Load(u + j);
                    Vector256.Store(Vector256.Load(v + j), u + j);
                    Vector256.Store(t, v + j);
                }
            for (; j < count; j++) (u[j], v[j]) = (v[j], u[j]);
        }
    }

    /// <summary>dst[d + r·ldd + j] = −src[s + r·ld + j] for r &lt; rows and j &lt; cols: a block of rows negated (negation
    /// is exact, so any width gives the same bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void NegatedRows(double[] src, int s, int ld, int rows, int cols, double[] dst, int d, int ldd)
    {
        if (rows <= 0 || cols <= 0) return;
        if (s < 0 || d < 0 || ld < cols || ldd < cols || (long)s + (long)(rows - 1) * ld + cols > src.Length || (long)d + (long)(rows - 1) * ldd + cols > dst.Length)
            throw new ArgumentException($"{rows} rows of {cols} (leading dimensions {ld} and {ldd}) do not fit their arrays.");
        fixed (double* ps = src, pd = dst)
        {
            for (int r = 0; r < rows; r++)
            {
                double* x = ps + s + (long)r * ld, y = pd + d + (long)r * ldd;
                int j = 0;
                if (Vector512.IsHardwareAccelerated)
                    for (; j <= cols - 8; j += 8) Vector512.Store(-Vector512.Load(x + j), y + j);
                if (Vector256.IsHardwareAccelerated)
                    for (; j <= cols - 4; j += 4) Vector256.Store(-Vector256.Load(x + j), y + j);
                for (; j < cols; j++) y[j] = -x[j];
            }
        }
    }

    /// <summary>`SubtractCombination`'s elements from t on, four vectors of one width at a time while they fill; the
    /// element it stopped at.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int FourVectors<TV, TW>(double* x, double* k, double* y, int ld, int count, int len, int t) where TW : struct, IWidth<TV>
    {
        int w = TW.Lanes;
        for (; t <= len - 4 * w; t += 4 * w)
        {
            TV x0 = TW.Load(x + t), x1 = TW.Load(x + t + w), x2 = TW.Load(x + t + 2 * w), x3 = TW.Load(x + t + 3 * w);
            double* yq = y + t;
            for (int q = 0; q < count; q++, yq += ld)
            {
                TV f = TW.Broadcast(-k[q]);
                x0 = TW.MultiplyAdd(TW.Load(yq), f, x0);
                x1 = TW.MultiplyAdd(TW.Load(yq + w), f, x1);
                x2 = TW.MultiplyAdd(TW.Load(yq + 2 * w), f, x2);
                x3 = TW.MultiplyAdd(TW.Load(yq + 3 * w), f, x3);
            }
            TW.Store(x0, x + t); TW.Store(x1, x + t + w); TW.Store(x2, x + t + 2 * w); TW.Store(x3, x + t + 3 * w);
        }
        return t;
    }

    /// <summary>One vector width's operations, for code written once for both.</summary>
    private interface IWidth<TV>
    {
        static abstract int Lanes { get; }
        static abstract TV Load(double* p);
        static abstract void Store(TV v, double* p);
        static abstract TV Broadcast(double v);
        /// <summary>a·b + c, rounded once.</summary>
        static abstract TV MultiplyAdd(TV a, TV b, TV c);
    }

    private readonly struct Lanes8 : IWidth<Vector512<double>>
    {
        public static int Lanes => 8;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<double> Load(double* p) => Vector512.Load(p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<double> v, double* p) => Vector512.Store(v, p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<double> Broadcast(double v) => Vector512.Create(v);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<double> MultiplyAdd(Vector512<double> a, Vector512<double> b, Vector512<double> c) => Vector512.FusedMultiplyAdd(a, b, c);
    }

    private readonly struct Lanes4 : IWidth<Vector256<double>>
    {
        public static int Lanes => 4;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<double> Load(double* p) => Vector256.Load(p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<double> v, double* p) => Vector256.Store(v, p);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<double> Broadcast(double v) => Vector256.Create(v);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<double> MultiplyAdd(Vector256<double> a, Vector256<double> b, Vector256<double> c) => Vector256.FusedMultiplyAdd(a, b, c);
    }
}
