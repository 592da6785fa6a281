using System;
using System.Runtime.CompilerServices;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Functional.Kernels;

/// <summary>
/// One optimizer step over a parameter's elements in a single pass, split over the cores: each element read once
/// and its new parameter and moments written once. Each element goes through the scalar formula's operations in
/// its order (no fused multiply-adds), so every vector width, and the scalar loop, give the same bits. With
/// <c>stream</c> (a plain result in fresh memory, <see cref="Tuning.NonTemporalBytes"/> and more) the new arrays are
/// written around the caches wherever they line up with the first's vectors: the same bits.
/// </summary>
internal static unsafe class OptimizerSteps
{
    /// <summary>Adam's coefficients for one step: η, β₁, β₂, ε, the bias corrections c₁ = 1 − β₁ᵗ and
    /// c₂ = 1 − β₂ᵗ, the L2 weight decay added to the gradient (0 for none) and the factor the parameter is scaled
    /// by first (1 − ηλ for AdamW's decoupled decay, 1 for none).</summary>
    public readonly record struct Adam(double LearningRate, double Beta1, double Beta2, double Epsilon, double C1, double C2, double L2, double Keep);

    /// <summary>g ← g + L2·p; m′ = β₁m + (1 − β₁)g; v′ = β₂v + (1 − β₂)g·g; p′ = Keep·p − (η/c₁)·m′/(√v′/√c₂ + ε)
    /// (torch.optim's order: √v′ is divided by √c₂, so v′/c₂ never overflows where v′ does not) for the first n
    /// elements; the new arrays written around the caches when <paramref name="stream"/>.</summary>
    public static void AdamStep(Adam a, double[] p, double[] g, double[] m, double[] v, double[] pOut, double[] mOut, double[] vOut, int n, bool stream)
    {
        ElementRanges.Check(n, p, g, m, v, pOut, mOut, vOut);
        ElementRanges.Split(n, (i0, i1) => AdamRange(a, p, g, m, v, pOut, mOut, vOut, i0, i1, stream));
    }

    /// <summary>SGD's coefficients for one step: η, the L2 weight decay added to the gradient (0 for none), the
    /// momentum μ (0 for none), whether this is the first step (the velocity is then the gradient) and Nesterov's
    /// form.</summary>
    public readonly record struct Sgd(double LearningRate, double L2, double Momentum, bool First, bool Nesterov);

    /// <summary>g ← g + L2·p; with momentum b′ = g at the first step, else μb + g, and d = g + μb′ (Nesterov) or b′;
    /// without, d = g; p′ = p − η·d. bOut is written only with momentum (b and bOut may be null without it, b at
    /// the first step); the new arrays written around the caches when <paramref name="stream"/>.</summary>
    public static void SgdStep(Sgd s, double[] p, double[] g, double[]? b, double[] pOut, double[]? bOut, int n, bool stream)
    {
        bool momentum = s.Momentum != 0.0;
        if (momentum && (bOut is null || (!s.First && b is null))) throw new ArgumentException("Momentum needs its velocity arrays.");
        ElementRanges.Check(n, p, g, pOut);
        if (momentum) ElementRanges.Check(n, s.First ? bOut! : b!, bOut!);
        ElementRanges.Split(n, (i0, i1) => SgdRange(s, p, g, b, pOut, bOut, i0, i1, stream));
    }

    // Vector<double> is two, four or eight lanes; these loops are bound by memory, and one loop serves every width.

    /// <summary>Where a streamed range's vector loop starts: the first element from i0 at which the first output's
    /// vectors are aligned (the elements before it go through the scalar loop).</summary>
    private static int Aligned(double* first, int i0, int i1)
    {
        int bytes = Vector<double>.Count * sizeof(double), i = i0;
        while (i < i1 && ((nint)(first + i) & (bytes - 1)) != 0) i++;
        return i;
    }

    /// <summary>Whether vectors stored at o + i, o + i + Count, … are aligned and can go around the caches (x86,
    /// where the store fence that follows them exists).</summary>
    private static bool Streams(bool stream, double* o, int i) =>
        stream && Sse.IsSupported && ((nint)(o + i) & (Vector<double>.Count * sizeof(double) - 1)) == 0 &&
        (Vector<double>.Count == 4 ? Vector256.IsHardwareAccelerated : Vector<double>.Count == 8 && Vector512.IsHardwareAccelerated);

    /// <summary>Stores v at o + i, around the caches when <paramref name="around"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(Vector<double> v, double* o, int i, bool around)
    {
        // Any other width (two lanes on ARM64) stores through the caches: a 256-bit store there would write past v.
        if (!around || Vector<double>.Count is not (4 or 8)) v.Store(o + i);
        else if (Vector<double>.Count == 8) Vector512.StoreAlignedNonTemporal(v.AsVector512(), o + i);
        else Vector256.StoreAlignedNonTemporal(v.AsVector256(), o + i);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AdamRange(Adam a, double[] p, double[] g, double[] m, double[] v, double[] pOut, double[] mOut, double[] vOut, int i0, int i1, bool stream)
    {
        bool l2 = a.L2 != 0.0, keep = a.Keep != 1.0;
        double b1 = a.Beta1, b2 = a.Beta2, o1 = 1.0 - a.Beta1, o2 = 1.0 - a.Beta2;
        int i = i0, w = Vector<double>.Count;
        fixed (double* pp = p, pg = g, pm = m, pv = v, po = pOut, pmo = mOut, pvo = vOut)
        {
            if (Vector.IsHardwareAccelerated)
            {
                if (stream)
                {
                    i = Aligned(po, i0, i1);
                    AdamScalar(a, p, g, m, v, pOut, mOut, vOut, i0, i);
                }
                bool sp = Streams(stream, po, i), sm = Streams(stream, pmo, i), sv = Streams(stream, pvo, i);
                Vector<double> size = new(a.LearningRate / a.C1), root2 = new(Math.Sqrt(a.C2)), eps = new(a.Epsilon), decay = new(a.L2), k = new(a.Keep),
                    vb1 = new(b1), vb2 = new(b2), vo1 = new(o1), vo2 = new(o2);
                for (; i <= i1 - w; i += w)
                {
                    var x = Vector.Load(pp + i);
                    var gi = Vector.Load(pg + i);
                    if (l2) gi += decay * x;
                    if (keep) x *= k;
                    var mi = vb1 * Vector.Load(pm + i) + vo1 * gi;
                    var vi = vb2 * Vector.Load(pv + i) + vo2 * gi * gi;
                    Put(mi, pmo, i, sm);
                    Put(vi, pvo, i, sv);
                    Put(x - size * mi / (Vector.SquareRoot(vi) / root2 + eps), po, i, sp);
                }
                if ((sp || sm || sv) && Sse.IsSupported) Sse.StoreFence();
            }
        }
        AdamScalar(a, p, g, m, v, pOut, mOut, vOut, i, i1);
    }

    /// <summary>Adam's step, one element at a time, on [i0, i1).</summary>
    private static void AdamScalar(Adam a, double[] p, double[] g, double[] m, double[] v, double[] pOut, double[] mOut, double[] vOut, int i0, int i1)
    {
        bool l2 = a.L2 != 0.0, keep = a.Keep != 1.0;
        double b1 = a.Beta1, b2 = a.Beta2, o1 = 1.0 - a.Beta1, o2 = 1.0 - a.Beta2;
        for (int i = i0; i < i1; i++)
        {
            double x = p[i], gi = g[i];
            if (l2) gi += a.L2 * x;
            if (keep) x *= a.Keep;
            double mi = b1 * m[i] + o1 * gi;
            double vi = b2 * v[i] + o2 * gi * gi;
            mOut[i] = mi;
            vOut[i] = vi;
            pOut[i] = x - a.LearningRate / a.C1 * mi / (Math.Sqrt(vi) / Math.Sqrt(a.C2) + a.Epsilon);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SgdRange(Sgd s, double[] p, double[] g, double[]? b, double[] pOut, double[]? bOut, int i0, int i1, bool stream)
    {
        bool l2 = s.L2 != 0.0, momentum = s.Momentum != 0.0, first = s.First, nesterov = s.Nesterov;
        double mu = s.Momentum, lr = s.LearningRate;
        int i = i0, w = Vector<double>.Count;
        fixed (double* pp = p, pg = g, pb = b, po = pOut, pbo = bOut)
        {
            if (Vector.IsHardwareAccelerated)
            {
                if (stream)
                {
                    i = Aligned(po, i0, i1);
                    SgdScalar(s, p, g, b, pOut, bOut, i0, i);
                }
                bool sp = Streams(stream, po, i), sb = momentum && Streams(stream, pbo, i);
                Vector<double> vlr = new(lr), vmu = new(mu), decay = new(s.L2);
                for (; i <= i1 - w; i += w)
                {
                    var x = Vector.Load(pp + i);
                    var gi = Vector.Load(pg + i);
                    if (l2) gi += decay * x;
                    var d = gi;
                    if (momentum)
                    {
                        var bi = first ? gi : vmu * Vector.Load(pb + i) + gi;
                        Put(bi, pbo, i, sb);
                        d = nesterov ? gi + vmu * bi : bi;
                    }
                    Put(x - vlr * d, po, i, sp);
                }
                if ((sp || sb) && Sse.IsSupported) Sse.StoreFence();
            }
        }
        SgdScalar(s, p, g, b, pOut, bOut, i, i1);
    }

    /// <summary>SGD's step, one element at a time, on [i0, i1).</summary>
    private static void SgdScalar(Sgd s, double[] p, double[] g, double[]? b, double[] pOut, double[]? bOut, int i0, int i1)
    {
        bool l2 = s.L2 != 0.0, momentum = s.Momentum != 0.0, first = s.First, nesterov = s.Nesterov;
        double mu = s.Momentum, lr = s.LearningRate;
        for (int i = i0; i < i1; i++)
        {
            double x = p[i], gi = g[i];
            if (l2) gi += s.L2 * x;
            double d = gi;
            if (momentum)
            {
                double bi = first ? gi : mu * b![i] + gi;
                bOut![i] = bi;
                d = nesterov ? gi + mu * bi : bi;
            }
            pOut[i] = x - lr * d;
        }
    }
}
