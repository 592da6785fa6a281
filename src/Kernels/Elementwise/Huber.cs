using System;
using System.Runtime.CompilerServices;
using System.Numerics;

namespace Functional.Kernels;

/// <summary>
/// The Huber function of d = p − t, elementwise, and its slope: with z = |d|, ½z² for z ≤ δ and δ(z − ½δ)
/// beyond (PyTorch's huber_loss without reduction, formula for formula; the two give the same bits at z = δ, and
/// z ≤ δ keeps ½z² = ∞ for z = δ = ∞, mean squared error's case); the slope g·clamp(d, −δ, δ). One pass over
/// p and t (and g), split over the cores; every vector width and the scalar loop make the same operations, so the
/// same bits. NaN in p or t gives NaN.
/// </summary>
internal static class Huber
{
    /// <summary>out[i] = h(p[i] − t[i]) for the first n elements.</summary>
    public static void Value(double[] p, double[] t, double[] output, int n, double delta)
    {
        ElementRanges.Check(n, p, t, output);
        ElementRanges.Split(n, (i0, i1) => ValueRange(p, t, output, delta, i0, i1));
    }

    /// <summary>out[i] = g[i]·clamp(p[i] − t[i], −δ, δ), or with every g[i] = gScalar when g is null.</summary>
    public static void Slope(double[] p, double[] t, double[]? g, double gScalar, double[] output, int n, double delta)
    {
        ElementRanges.Check(n, p, t, output);
        if (g is not null) ElementRanges.Check(n, g);
        ElementRanges.Split(n, (i0, i1) => SlopeRange(p, t, g, gScalar, output, delta, i0, i1));
    }

    // Vector<double> is two, four or eight lanes; these loops are bound by memory, and one loop serves every width.

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ValueRange(double[] p, double[] t, double[] output, double delta, int i0, int i1)
    {
        double halfDelta = 0.5 * delta;
        int i = i0, w = Vector<double>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<double> d = new(delta), h = new(halfDelta), half = new(0.5);
            for (; i <= i1 - w; i += w)
            {
                var z = Vector.Abs(new Vector<double>(p, i) - new Vector<double>(t, i));
                Vector.ConditionalSelect(Vector.LessThanOrEqual(z, d), half * z * z, d * (z - h)).CopyTo(output, i);
            }
        }
        for (; i < i1; i++)
        {
            double z = Math.Abs(p[i] - t[i]);
            output[i] = z <= delta ? 0.5 * z * z : delta * (z - halfDelta);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SlopeRange(double[] p, double[] t, double[]? g, double gScalar, double[] output, double delta, int i0, int i1)
    {
        int i = i0, w = Vector<double>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<double> hi = new(delta), lo = new(-delta), gs = new(gScalar);
            for (; i <= i1 - w; i += w)
            {
                var d = new Vector<double>(p, i) - new Vector<double>(t, i);
                // NaN stays NaN: neither comparison holds for it.
                var c = Vector.ConditionalSelect(Vector.LessThan(d, lo), lo, Vector.ConditionalSelect(Vector.GreaterThan(d, hi), hi, d));
                ((g is null ? gs : new Vector<double>(g, i)) * c).CopyTo(output, i);
            }
        }
        for (; i < i1; i++)
        {
            double d = p[i] - t[i];
            double c = d < -delta ? -delta : d > delta ? delta : d;
            output[i] = (g is null ? gScalar : g[i]) * c;
        }
    }
}
