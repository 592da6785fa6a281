using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Functional.Kernels;

/// <summary>
/// One optimizer step over a parameter's elements in a single pass, split over the cores: each element read once
/// and its new parameter and moments written once. Each element goes through the scalar formula's operations in
/// its order (no fused multiply-adds), so every vector width, and the scalar loop, give the same bits.
/// </summary>
internal static unsafe class OptimizerSteps
{
    /// <summary>Adam's coefficients for one step: η, β₁, β₂, ε, the bias corrections c₁ = 1 − β₁ᵗ and
    /// c₂ = 1 − β₂ᵗ, the L2 weight decay added to the gradient (0 for none) and the factor the parameter is scaled
    /// by first (1 − ηλ for AdamW's decoupled decay, 1 for none).</summary>
    public readonly record struct Adam(double LearningRate, double Beta1, double Beta2, double Epsilon, double C1, double C2, double L2, double Keep);

    /// <summary>g ← g + L2·p; m′ = β₁m + (1 − β₁)g; v′ = β₂v + (1 − β₂)g·g; p′ = Keep·p − η(m′/c₁)/(√(v′/c₂) + ε)
    /// for the first n elements.</summary>
    public static void AdamStep(Adam a, double[] p, double[] g, double[] m, double[] v, double[] pOut, double[] mOut, double[] vOut, int n)
    {
        ElementRanges.Check(n, p, g, m, v, pOut, mOut, vOut);
        ElementRanges.Split(n, (i0, i1) => AdamRange(a, p, g, m, v, pOut, mOut, vOut, i0, i1));
    }

    /// <summary>SGD's coefficients for one step: η, the L2 weight decay added to the gradient (0 for none), the
    /// momentum μ (0 for none), whether this is the first step (the velocity is then the gradient) and Nesterov's
    /// form.</summary>
    public readonly record struct Sgd(double LearningRate, double L2, double Momentum, bool First, bool Nesterov);

    /// <summary>g ← g + L2·p; with momentum b′ = g at the first step, else μb + g, and d = g + μb′ (Nesterov) or b′;
    /// without, d = g; p′ = p − η·d. bOut is written only with momentum (b and bOut may be null without it, b at
    /// the first step).</summary>
    public static void SgdStep(Sgd s, double[] p, double[] g, double[]? b, double[] pOut, double[]? bOut, int n)
    {
        bool momentum = s.Momentum != 0.0;
        if (momentum && (bOut is null || (!s.First && b is null))) throw new ArgumentException("Momentum needs its velocity arrays.");
        ElementRanges.Check(n, p, g, pOut);
        if (momentum) ElementRanges.Check(n, s.First ? bOut! : b!, bOut!);
        ElementRanges.Split(n, (i0, i1) => SgdRange(s, p, g, b, pOut, bOut, i0, i1));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AdamRange(Adam a, double[] p, double[] g, double[] m, double[] v, double[] pOut, double[] mOut, double[] vOut, int i0, int i1)
    {
        bool l2 = a.L2 != 0.0, keep = a.Keep != 1.0;
        double b1 = a.Beta1, b2 = a.Beta2, o1 = 1.0 - a.Beta1, o2 = 1.0 - a.Beta2;
        fixed (double* pp = p, pg = g, pm = m, pv = v, qp = pOut, qm = mOut, qv = vOut)
        {
            int i = i0;
            if (Vector512.IsHardwareAccelerated)
            {
                Vector512<double> lr = Vector512.Create(a.LearningRate), eps = Vector512.Create(a.Epsilon), c1 = Vector512.Create(a.C1), c2 = Vector512.Create(a.C2),
                    decay = Vector512.Create(a.L2), k = Vector512.Create(a.Keep), vb1 = Vector512.Create(b1), vb2 = Vector512.Create(b2), vo1 = Vector512.Create(o1), vo2 = Vector512.Create(o2);
                for (; i <= i1 - 8; i += 8)
                {
                    var x = Vector512.Load(pp + i);
                    var gi = Vector512.Load(pg + i);
                    if (l2) gi += decay * x;
                    if (keep) x *= k;
                    var mi = vb1 * Vector512.Load(pm + i) + vo1 * gi;
                    var vi = vb2 * Vector512.Load(pv + i) + vo2 * gi * gi;
                    Vector512.Store(mi, qm + i);
                    Vector512.Store(vi, qv + i);
                    Vector512.Store(x - lr * (mi / c1) / (Vector512.Sqrt(vi / c2) + eps), qp + i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                Vector256<double> lr = Vector256.Create(a.LearningRate), eps = Vector256.Create(a.Epsilon), c1 = Vector256.Create(a.C1), c2 = Vector256.Create(a.C2),
                    decay = Vector256.Create(a.L2), k = Vector256.Create(a.Keep), vb1 = Vector256.Create(b1), vb2 = Vector256.Create(b2), vo1 = Vector256.Create(o1), vo2 = Vector256.Create(o2);
                for (; i <= i1 - 4; i += 4)
                {
                    var x = Vector256.Load(pp + i);
                    var gi = Vector256.Load(pg + i);
                    if (l2) gi += decay * x;
                    if (keep) x *= k;
                    var mi = vb1 * Vector256.Load(pm + i) + vo1 * gi;
                    var vi = vb2 * Vector256.Load(pv + i) + vo2 * gi * gi;
                    Vector256.Store(mi, qm + i);
                    Vector256.Store(vi, qv + i);
                    Vector256.Store(x - lr * (mi / c1) / (Vector256.Sqrt(vi / c2) + eps), qp + i);
                }
            }
            for (; i < i1; i++)
            {
                double x = pp[i], gi = pg[i];
                if (l2) gi += a.L2 * x;
                if (keep) x *= a.Keep;
                double mi = b1 * pm[i] + o1 * gi;
                double vi = b2 * pv[i] + o2 * gi * gi;
                qm[i] = mi;
                qv[i] = vi;
                qp[i] = x - a.LearningRate * (mi / a.C1) / (Math.Sqrt(vi / a.C2) + a.Epsilon);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SgdRange(Sgd s, double[] p, double[] g, double[]? b, double[] pOut, double[]? bOut, int i0, int i1)
    {
        bool l2 = s.L2 != 0.0, momentum = s.Momentum != 0.0, first = s.First, nesterov = s.Nesterov;
        double mu = s.Momentum, lr = s.LearningRate;
        fixed (double* pp = p, pg = g, pb = b, qp = pOut, qb = bOut)
        {
            int i = i0;
            if (Vector512.IsHardwareAccelerated)
            {
                Vector512<double> vlr = Vector512.Create(lr), vmu = Vector512.Create(mu), decay = Vector512.Create(s.L2);
                for (; i <= i1 - 8; i += 8)
                {
                    var x = Vector512.Load(pp + i);
                    var gi = Vector512.Load(pg + i);
                    if (l2) gi += decay * x;
                    var d = gi;
                    if (momentum)
                    {
                        var bi = first ? gi : vmu * Vector512.Load(pb + i) + gi;
                        Vector512.Store(bi, qb + i);
                        d = nesterov ? gi + vmu * bi : bi;
                    }
                    Vector512.Store(x - vlr * d, qp + i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                Vector256<double> vlr = Vector256.Create(lr), vmu = Vector256.Create(mu), decay = Vector256.Create(s.L2);
                for (; i <= i1 - 4; i += 4)
                {
                    var x = Vector256.Load(pp + i);
                    var gi = Vector256.Load(pg + i);
                    if (l2) gi += decay * x;
                    var d = gi;
                    if (momentum)
                    {
                        var bi = first ? gi : vmu * Vector256.Load(pb + i) + gi;
                        Vector256.Store(bi, qb + i);
                        d = nesterov ? gi + vmu * bi : bi;
                    }
                    Vector256.Store(x - vlr * d, qp + i);
                }
            }
            for (; i < i1; i++)
            {
                double x = pp[i], gi = pg[i];
                if (l2) gi += s.L2 * x;
                double d = gi;
                if (momentum)
                {
                    double bi = first ? gi : mu * pb[i] + gi;
                    qb[i] = bi;
                    d = nesterov ? gi + mu * bi : bi;
                }
                qp[i] = x - lr * d;
            }
        }
    }
}
