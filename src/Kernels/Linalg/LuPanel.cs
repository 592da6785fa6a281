using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Functional.Kernels;

/// <summary>
/// The column steps of a blocked LU's panel (blocks beyond one panel, whose results are not the textbook loops' bits):
/// the pivot search and a column's update by the columns before it. Both ran as scalar or unfused loops, on the one
/// core that factors the panel while the other waits. Each element goes through the same operations on every vector
/// width (fused multiply-adds in order of the column), so the bits do not depend on the hardware path.
/// </summary>
internal static unsafe class LuPanel
{
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
            if (Math.Abs(v[0]) == best) return from;
            for (int j = 1; j < count; j++)
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
            if (Vector512.IsHardwareAccelerated)
            {
                for (; t <= len - 32; t += 32)
                {
                    var x0 = Vector512.Load(x + t); var x1 = Vector512.Load(x + t + 8);
                    var x2 = Vector512.Load(x + t + 16); var x3 = Vector512.Load(x + t + 24);
                    double* yq = y + t;
                    for (int q = 0; q < count; q++, yq += ld)
                    {
                        var f = Vector512.Create(-k[q]);
                        x0 = Vector512.FusedMultiplyAdd(Vector512.Load(yq), f, x0);
                        x1 = Vector512.FusedMultiplyAdd(Vector512.Load(yq + 8), f, x1);
                        x2 = Vector512.FusedMultiplyAdd(Vector512.Load(yq + 16), f, x2);
                        x3 = Vector512.FusedMultiplyAdd(Vector512.Load(yq + 24), f, x3);
                    }
                    Vector512.Store(x0, x + t); Vector512.Store(x1, x + t + 8);
                    Vector512.Store(x2, x + t + 16); Vector512.Store(x3, x + t + 24);
                }
            }
            if (Vector256.IsHardwareAccelerated)
            {
                for (; t <= len - 16; t += 16)
                {
                    var x0 = Vector256.Load(x + t); var x1 = Vector256.Load(x + t + 4);
                    var x2 = Vector256.Load(x + t + 8); var x3 = Vector256.Load(x + t + 12);
                    double* yq = y + t;
                    for (int q = 0; q < count; q++, yq += ld)
                    {
                        var f = Vector256.Create(-k[q]);
                        x0 = Vector256.FusedMultiplyAdd(Vector256.Load(yq), f, x0);
                        x1 = Vector256.FusedMultiplyAdd(Vector256.Load(yq + 4), f, x1);
                        x2 = Vector256.FusedMultiplyAdd(Vector256.Load(yq + 8), f, x2);
                        x3 = Vector256.FusedMultiplyAdd(Vector256.Load(yq + 12), f, x3);
                    }
                    Vector256.Store(x0, x + t); Vector256.Store(x1, x + t + 4);
                    Vector256.Store(x2, x + t + 8); Vector256.Store(x3, x + t + 12);
                }
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
}
