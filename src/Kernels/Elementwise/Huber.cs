using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Functional.Kernels;

/// <summary>
/// The Huber function of d = p − t, elementwise, and its slope: with z = |d|, ½z² for z &lt; δ and δ(z − ½δ)
/// beyond (PyTorch's huber_loss without reduction, formula for formula); the slope g·clamp(d, −δ, δ). One pass over
/// p and t (and g), split over the cores; every vector width and the scalar loop make the same operations, so the
/// same bits. NaN in p or t gives NaN.
/// </summary>
internal static unsafe class Huber
{
    /// <summary>out[i] = h(p[i] − t[i]) for the first n elements.</summary>
    public static void Value(double[] p, double[] t, double[] output, int n, double delta)
    {
        ElementRanges.Check(n, p, t, output);
        ElementRanges.Split(n, (i0, i1) => ValueRange(p, t, output, delta, i0, i1));
    }

    /// <summary>out[i] = sign·(g[i]·clamp(p[i] − t[i], −δ, δ)), or with every g[i] = gScalar when g is null;
    /// sign is 1 for the derivative in p, −1 for the one in t.</summary>
    public static void Slope(double[] p, double[] t, double[]? g, double gScalar, double sign, double[] output, int n, double delta)
    {
        ElementRanges.Check(n, p, t, output);
        if (g is not null) ElementRanges.Check(n, g);
        ElementRanges.Split(n, (i0, i1) => SlopeRange(p, t, g, gScalar, sign, output, delta, i0, i1));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ValueRange(double[] p, double[] t, double[] output, double delta, int i0, int i1)
    {
        double halfDelta = 0.5 * delta;
        fixed (double* pp = p, pt = t, po = output)
        {
            int i = i0;
            if (Vector512.IsHardwareAccelerated)
            {
                Vector512<double> d = Vector512.Create(delta), h = Vector512.Create(halfDelta), half = Vector512.Create(0.5);
                for (; i <= i1 - 8; i += 8)
                {
                    var z = Vector512.Abs(Vector512.Load(pp + i) - Vector512.Load(pt + i));
                    Vector512.Store(Vector512.ConditionalSelect(Vector512.LessThan(z, d), half * z * z, d * (z - h)), po + i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                Vector256<double> d = Vector256.Create(delta), h = Vector256.Create(halfDelta), half = Vector256.Create(0.5);
                for (; i <= i1 - 4; i += 4)
                {
                    var z = Vector256.Abs(Vector256.Load(pp + i) - Vector256.Load(pt + i));
                    Vector256.Store(Vector256.ConditionalSelect(Vector256.LessThan(z, d), half * z * z, d * (z - h)), po + i);
                }
            }
            for (; i < i1; i++)
            {
                double z = Math.Abs(pp[i] - pt[i]);
                po[i] = z < delta ? 0.5 * z * z : delta * (z - halfDelta);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SlopeRange(double[] p, double[] t, double[]? g, double gScalar, double sign, double[] output, double delta, int i0, int i1)
    {
        bool uniform = g is null;
        fixed (double* pp = p, pt = t, pg = g, po = output)
        {
            int i = i0;
            if (Vector512.IsHardwareAccelerated)
            {
                Vector512<double> hi = Vector512.Create(delta), lo = Vector512.Create(-delta), s = Vector512.Create(sign), gs = Vector512.Create(gScalar);
                for (; i <= i1 - 8; i += 8)
                {
                    var d = Vector512.Load(pp + i) - Vector512.Load(pt + i);
                    // NaN stays NaN: neither comparison holds for it.
                    var c = Vector512.ConditionalSelect(Vector512.LessThan(d, lo), lo, Vector512.ConditionalSelect(Vector512.GreaterThan(d, hi), hi, d));
                    Vector512.Store(s * ((uniform ? gs : Vector512.Load(pg + i)) * c), po + i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                Vector256<double> hi = Vector256.Create(delta), lo = Vector256.Create(-delta), s = Vector256.Create(sign), gs = Vector256.Create(gScalar);
                for (; i <= i1 - 4; i += 4)
                {
                    var d = Vector256.Load(pp + i) - Vector256.Load(pt + i);
                    var c = Vector256.ConditionalSelect(Vector256.LessThan(d, lo), lo, Vector256.ConditionalSelect(Vector256.GreaterThan(d, hi), hi, d));
                    Vector256.Store(s * ((uniform ? gs : Vector256.Load(pg + i)) * c), po + i);
                }
            }
            for (; i < i1; i++)
            {
                double d = pp[i] - pt[i];
                double c = d < -delta ? -delta : d > delta ? delta : d;
                po[i] = sign * ((uniform ? gScalar : pg[i]) * c);
            }
        }
    }
}
