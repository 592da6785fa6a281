using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Functional.Kernels;

/// <summary>
/// Piecewise-linear ops whose slope takes two values almost everywhere: Leaky ReLU (1 and α), ReLU, |x| (Leaky ReLU's
/// slopes with α = −1) and clamp (1 inside, 0 outside). Their forward, and their pullback g·slope(x) read from one
/// bit per element instead of from x.
/// Both passes are bound by memory: the pullback that reads x moves 24 bytes per element, this one 16⅛, so ReLU
/// forward and backward on 10⁶ moves 32 MB instead of 40.
/// <para>The code of n elements (<see cref="CodeLength"/> doubles, written by <see cref="Forward"/>): one ulong
/// per block of 64 elements, bit k set where element k's slope is 1 and clear where it is the other value; then one
/// ulong of flags per 64 blocks, a flag set where a block holds an element whose slope is neither (NaN; ±0 under a
/// kink slope other than 1 and α; clamp's bounds themselves). The pullback reads x in flagged blocks.</para>
/// Every result is the bits of g·slope(x) computed from x (the slope selected, then one product), on every vector
/// width and in the scalar tail.
/// </summary>
internal static unsafe class SlopeBits
{
    /// <summary>Elements whose flags share one ulong: a <see cref="Forward"/> range with a code starts at a
    /// multiple of it (the parallel chunks of 16,384 and 65,536 elements do).</summary>
    public const int FlagSpan = 4096;

    /// <summary>Elements of the sub-ranges the forward takes its bits and then its values over (x stays in L1).</summary>
    private const int Stripe = 1024;

    /// <summary>The value a forward writes: Leaky ReLU (α·x below 0), ReLU's form (+0 for x ≤ 0, NaN kept), |x|, or
    /// x clamped to [low, high] (NaN kept).</summary>
    public enum Form { LeakyRelu, Relu, Abs, Clamp }

    /// <summary>An op of this family: its form and slopes. Leaky ReLU, ReLU and |x|: 1 above 0, α below, the kink's
    /// slope at ±0; clamp: 1 inside (low, high), 0 outside, its kinks' slopes at low and at high.</summary>
    public readonly struct Slopes
    {
        public readonly Form Form;
        public readonly double Alpha, Kink, Low, High, KinkLow, KinkHigh;

        private Slopes(Form form, double alpha, double kink, double low, double high, double kinkLow, double kinkHigh)
        {
            Form = form; Alpha = alpha; Kink = kink; Low = low; High = high; KinkLow = kinkLow; KinkHigh = kinkHigh;
        }

        /// <summary>Leaky ReLU's slopes (ReLU: α = 0; |x|: α = −1) with the given value.</summary>
        public static Slopes Leaky(Form form, double alpha, double kink) => new(form, alpha, kink, 0.0, 0.0, 0.0, 0.0);

        /// <summary>Clamp to [low, high]; low ≤ high, neither NaN.</summary>
        public static Slopes Clamp(double low, double high, double kinkLow, double kinkHigh) => new(Form.Clamp, 0.0, 0.0, low, high, kinkLow, kinkHigh);

        /// <summary>The slope where an element's bit is clear.</summary>
        public double Other => Form == Form.Clamp ? 0.0 : Alpha;

        /// <summary>The slope at v, from v itself.</summary>
        public double Of(double v) =>
            Form == Form.Clamp
                ? (v > Low && v < High ? 1.0 : v < Low || v > High ? 0.0 : double.IsNaN(v) ? double.NaN : v == Low ? KinkLow : KinkHigh)
                : (v > 0.0 ? 1.0 : v < 0.0 ? Alpha : double.IsNaN(v) ? double.NaN : Kink);
    }

    /// <summary>The length, in doubles, of the code of n elements.</summary>
    public static int CodeLength(int n)
    {
        int blocks = Blocks(n);
        return blocks + (blocks + 63) / 64;
    }

    private static int Blocks(int n) => (int)(((long)n + 63) >> 6);

    /// <summary>y[lo..hi) = the value of <paramref name="slopes"/>' form: LeakyReLU(x), α·x for x &lt; 0, else x;
    /// ReLU's form, x for x &gt; 0, NaN for NaN, else +0; |x| (the sign bit cleared, as Math.Abs); or low below low,
    /// high above high, else x. With a <paramref name="code"/> (of x.Length elements), the slope bits of those
    /// elements and the flags of their blocks. With <paramref name="stream"/>, y is written with non-temporal stores
    /// (the same bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(double[] x, double[] y, Slopes slopes, double[]? code, int lo, int hi, bool stream)
    {
        int n = x.Length;
        if (lo < 0 || lo > hi || hi > n || y.Length < n) throw new ArgumentOutOfRangeException(nameof(hi), "The range lies outside x or y.");
        if (code is not null && (lo % FlagSpan != 0 || (hi % 64 != 0 && hi != n) || code.Length < CodeLength(n)))
            throw new ArgumentException("A code is written from a multiple of FlagSpan, in whole blocks, into CodeLength(x.Length) doubles.", nameof(code));
        fixed (double* px = x, py = y, pc = code)
        {
            ulong* bits = (ulong*)pc;
            ulong* flags = bits + Blocks(n);
            for (int s = lo; s < hi; s += Stripe)
            {
                int e = Math.Min(hi, s + Stripe);
                if (bits != null) Bits(px, bits, flags, n, slopes, s, e);
                Values(px, py, slopes, s, e, stream);
            }
            if (stream && Sse.IsSupported) Sse.StoreFence();
        }
    }

    /// <summary>o[lo..hi) = g·slope: g[i] (or <paramref name="gUniform"/> where g is null) times 1 where element i's
    /// bit is set and the other slope where it is clear; in a flagged block, times the slope of x[i] itself
    /// (<see cref="Slopes.Of"/>). The code is the one <see cref="Forward"/> wrote for x under the same slopes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(double[] code, double[] x, double[]? g, double gUniform, double[] o, Slopes slopes, int lo, int hi, bool stream)
    {
        int n = x.Length;
        if (lo < 0 || lo > hi || hi > n || o.Length < n || (g is not null && g.Length < n)) throw new ArgumentOutOfRangeException(nameof(hi), "The range lies outside x, g or o.");
        if (code.Length < CodeLength(n)) throw new ArgumentException("The code is shorter than CodeLength(x.Length).", nameof(code));
        fixed (double* px = x, pg = g, po = o, pc = code)
        {
            ulong* bits = (ulong*)pc;
            ulong* flags = bits + Blocks(n);
            Slopes sl = slopes;
            double other = sl.Other;
            int i = lo;
            if (Vector512.IsHardwareAccelerated)
            {
                var one = Vector512.Create(1.0);
                var a = Vector512.Create(other);
                var lanes = Vector512.Create(1L, 2, 4, 8, 16, 32, 64, 128);
                var gu = Vector512.Create(gUniform);
                if (stream)
                    for (; i < hi && ((nint)(po + i) & 63) != 0; i++) po[i] = One(bits, flags, px, pg, gUniform, sl, i);
                for (; i <= hi - 8; i += 8)
                {
                    if (Flagged(flags, i >> 6) || Flagged(flags, (i + 7) >> 6))
                    {
                        // A block holding a slope the bits cannot say: these elements from x itself.
                        var r = Vector512.Create(One(bits, flags, px, pg, gUniform, sl, i), One(bits, flags, px, pg, gUniform, sl, i + 1),
                            One(bits, flags, px, pg, gUniform, sl, i + 2), One(bits, flags, px, pg, gUniform, sl, i + 3),
                            One(bits, flags, px, pg, gUniform, sl, i + 4), One(bits, flags, px, pg, gUniform, sl, i + 5),
                            One(bits, flags, px, pg, gUniform, sl, i + 6), One(bits, flags, px, pg, gUniform, sl, i + 7));
                        if (stream) Vector512.StoreAlignedNonTemporal(r, po + i); else Vector512.Store(r, po + i);
                    }
                    else
                    {
                        var gv = pg == null ? gu : Vector512.Load(pg + i);
                        long m = (long)(BitsAt(bits, i) & 0xFF);
                        var r = gv * Vector512.ConditionalSelect(Vector512.Equals(Vector512.Create(m) & lanes, lanes).AsDouble(), one, a);
                        if (stream) Vector512.StoreAlignedNonTemporal(r, po + i); else Vector512.Store(r, po + i);
                    }
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                var one = Vector256.Create(1.0);
                var a = Vector256.Create(other);
                var lanes = Vector256.Create(1L, 2, 4, 8);
                var gu = Vector256.Create(gUniform);
                if (stream)
                    for (; i < hi && ((nint)(po + i) & 31) != 0; i++) po[i] = One(bits, flags, px, pg, gUniform, sl, i);
                for (; i <= hi - 4; i += 4)
                {
                    if (Flagged(flags, i >> 6) || Flagged(flags, (i + 3) >> 6))
                    {
                        var r = Vector256.Create(One(bits, flags, px, pg, gUniform, sl, i), One(bits, flags, px, pg, gUniform, sl, i + 1),
                            One(bits, flags, px, pg, gUniform, sl, i + 2), One(bits, flags, px, pg, gUniform, sl, i + 3));
                        if (stream) Vector256.StoreAlignedNonTemporal(r, po + i); else Vector256.Store(r, po + i);
                    }
                    else
                    {
                        var gv = pg == null ? gu : Vector256.Load(pg + i);
                        long m = (long)(BitsAt(bits, i) & 0xF);
                        var r = gv * Vector256.ConditionalSelect(Vector256.Equals(Vector256.Create(m) & lanes, lanes).AsDouble(), one, a);
                        if (stream) Vector256.StoreAlignedNonTemporal(r, po + i); else Vector256.Store(r, po + i);
                    }
                }
            }
            for (; i < hi; i++) po[i] = One(bits, flags, px, pg, gUniform, sl, i);
            if (stream && Sse.IsSupported) Sse.StoreFence();
        }
    }

    /// <summary>Whether block b holds an element whose slope the bits cannot say.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Flagged(ulong* flags, int b) => ((flags[b >> 6] >> (b & 63)) & 1) != 0;

    /// <summary>The bits of elements i, i + 1, … in the low bits (at least 57 of them): an unaligned read that
    /// stays inside the code, whose flags follow the bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong BitsAt(ulong* bits, int i) => Unsafe.ReadUnaligned<ulong>((byte*)bits + (i >> 3)) >> (i & 7);

    /// <summary>One element of <see cref="Backward"/>: g times the slope, from the bits or, in a flagged block, from x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double One(ulong* bits, ulong* flags, double* px, double* pg, double gUniform, in Slopes slopes, int i)
    {
        double g = pg == null ? gUniform : pg[i];
        double slope = Flagged(flags, i >> 6) ? slopes.Of(px[i]) : (BitsAt(bits, i) & 1) != 0 ? 1.0 : slopes.Other;
        return g * slope;
    }

    /// <summary>The bits of the blocks in [s, e) and their flags; a flags word is cleared at its first block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Bits(double* px, ulong* bits, ulong* flags, int n, in Slopes slopes, int s, int e)
    {
        bool clamp = slopes.Form == Form.Clamp;
        // Leaky ReLU's family: ±0 has slope 1 (a set bit), α (a clear one), or neither (a flag).
        bool oneAtZero = !clamp && slopes.Kink == 1.0;
        bool zeroUnusual = !clamp && !oneAtZero && slopes.Kink != slopes.Alpha;
        double low = slopes.Low, high = slopes.High;
        for (int p = s; p < e; p += 64)
        {
            int b = p >> 6;
            ulong word = 0;
            bool unusual = false;
            if (p + 64 <= n && Vector512.IsHardwareAccelerated)
            {
                var acc = Vector512<double>.Zero;
                var lv = Vector512.Create(low);
                var hv = Vector512.Create(high);
                for (int k = 0; k < 64; k += 8)
                {
                    var v = Vector512.Load(px + p + k);
                    Vector512<double> slopeOne;
                    if (clamp)
                    {
                        slopeOne = Vector512.GreaterThan(v, lv) & Vector512.LessThan(v, hv);
                        acc |= Vector512.Equals(v, lv) | Vector512.Equals(v, hv);
                    }
                    else
                    {
                        slopeOne = oneAtZero ? Vector512.GreaterThanOrEqual(v, Vector512<double>.Zero) : Vector512.GreaterThan(v, Vector512<double>.Zero);
                        if (zeroUnusual) acc |= Vector512.Equals(v, Vector512<double>.Zero);
                    }
                    word |= slopeOne.ExtractMostSignificantBits() << k;
                    acc |= ~Vector512.Equals(v, v);
                }
                unusual = acc != Vector512<double>.Zero;
            }
            else if (p + 64 <= n && Vector256.IsHardwareAccelerated)
            {
                var acc = Vector256<double>.Zero;
                var lv = Vector256.Create(low);
                var hv = Vector256.Create(high);
                for (int k = 0; k < 64; k += 4)
                {
                    var v = Vector256.Load(px + p + k);
                    Vector256<double> slopeOne;
                    if (clamp)
                    {
                        slopeOne = Vector256.GreaterThan(v, lv) & Vector256.LessThan(v, hv);
                        acc |= Vector256.Equals(v, lv) | Vector256.Equals(v, hv);
                    }
                    else
                    {
                        slopeOne = oneAtZero ? Vector256.GreaterThanOrEqual(v, Vector256<double>.Zero) : Vector256.GreaterThan(v, Vector256<double>.Zero);
                        if (zeroUnusual) acc |= Vector256.Equals(v, Vector256<double>.Zero);
                    }
                    word |= (ulong)slopeOne.ExtractMostSignificantBits() << k;
                    acc |= ~Vector256.Equals(v, v);
                }
                unusual = acc != Vector256<double>.Zero;
            }
            else
            {
                int count = Math.Min(64, n - p);
                for (int k = 0; k < count; k++)
                {
                    double v = px[p + k];
                    bool slopeOne = clamp ? v > low && v < high : v > 0.0 || (oneAtZero && v == 0.0);
                    if (slopeOne) word |= 1UL << k;
                    if (double.IsNaN(v) || (clamp ? v == low || v == high : zeroUnusual && v == 0.0)) unusual = true;
                }
            }
            bits[b] = word;
            if ((b & 63) == 0) flags[b >> 6] = 0;
            if (unusual) flags[b >> 6] |= 1UL << (b & 63);
        }
    }

    /// <summary>y[s..e) of <see cref="Forward"/>, the form chosen once per call (a struct per form: no branch in
    /// the loop).</summary>
    private static void Values(double* px, double* py, in Slopes slopes, int s, int e, bool stream)
    {
        switch (slopes.Form)
        {
            case Form.Relu: Values<ReluValue>(px, py, slopes, s, e, stream); break;
            case Form.Abs: Values<AbsValue>(px, py, slopes, s, e, stream); break;
            case Form.Clamp: Values<ClampValue>(px, py, slopes, s, e, stream); break;
            default: Values<LeakyValue>(px, py, slopes, s, e, stream); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Values<TValue>(double* px, double* py, in Slopes slopes, int s, int e, bool stream) where TValue : struct, IValue
    {
        double alpha = slopes.Alpha, low = slopes.Low, high = slopes.High;
        int i = s;
        if (Vector512.IsHardwareAccelerated)
        {
            var a = Vector512.Create(alpha);
            var lv = Vector512.Create(low);
            var hv = Vector512.Create(high);
            if (stream)
                for (; i < e && ((nint)(py + i) & 63) != 0; i++) py[i] = TValue.Of(px[i], alpha, low, high);
            for (; i <= e - 8; i += 8)
            {
                var r = TValue.Of(Vector512.Load(px + i), a, lv, hv);
                if (stream) Vector512.StoreAlignedNonTemporal(r, py + i); else Vector512.Store(r, py + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var a = Vector256.Create(alpha);
            var lv = Vector256.Create(low);
            var hv = Vector256.Create(high);
            if (stream)
                for (; i < e && ((nint)(py + i) & 31) != 0; i++) py[i] = TValue.Of(px[i], alpha, low, high);
            for (; i <= e - 4; i += 4)
            {
                var r = TValue.Of(Vector256.Load(px + i), a, lv, hv);
                if (stream) Vector256.StoreAlignedNonTemporal(r, py + i); else Vector256.Store(r, py + i);
            }
        }
        for (; i < e; i++) py[i] = TValue.Of(px[i], alpha, low, high);
    }

    /// <summary>A form's value on one element and on lanes: the same operations, so the same bits.</summary>
    private interface IValue
    {
        static abstract double Of(double v, double alpha, double low, double high);
        static abstract Vector512<double> Of(Vector512<double> v, Vector512<double> alpha, Vector512<double> low, Vector512<double> high);
        static abstract Vector256<double> Of(Vector256<double> v, Vector256<double> alpha, Vector256<double> low, Vector256<double> high);
    }

    private struct LeakyValue : IValue
    {
        public static double Of(double v, double alpha, double low, double high) => v < 0.0 ? alpha * v : v;
        public static Vector512<double> Of(Vector512<double> v, Vector512<double> alpha, Vector512<double> low, Vector512<double> high) =>
            Vector512.ConditionalSelect(Vector512.LessThan(v, Vector512<double>.Zero), alpha * v, v);
        public static Vector256<double> Of(Vector256<double> v, Vector256<double> alpha, Vector256<double> low, Vector256<double> high) =>
            Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<double>.Zero), alpha * v, v);
    }

    private struct ReluValue : IValue
    {
        public static double Of(double v, double alpha, double low, double high) => v > 0.0 || double.IsNaN(v) ? v : 0.0;
        public static Vector512<double> Of(Vector512<double> v, Vector512<double> alpha, Vector512<double> low, Vector512<double> high) =>
            Vector512.ConditionalSelect(Vector512.GreaterThan(v, Vector512<double>.Zero), v, Vector512.ConditionalSelect(Vector512.Equals(v, v), Vector512<double>.Zero, v));
        public static Vector256<double> Of(Vector256<double> v, Vector256<double> alpha, Vector256<double> low, Vector256<double> high) =>
            Vector256.ConditionalSelect(Vector256.GreaterThan(v, Vector256<double>.Zero), v, Vector256.ConditionalSelect(Vector256.Equals(v, v), Vector256<double>.Zero, v));
    }

    private struct AbsValue : IValue
    {
        public static double Of(double v, double alpha, double low, double high) => Math.Abs(v);
        public static Vector512<double> Of(Vector512<double> v, Vector512<double> alpha, Vector512<double> low, Vector512<double> high) => Vector512.Abs(v);
        public static Vector256<double> Of(Vector256<double> v, Vector256<double> alpha, Vector256<double> low, Vector256<double> high) => Vector256.Abs(v);
    }

    private struct ClampValue : IValue
    {
        public static double Of(double v, double alpha, double low, double high) => v < low ? low : v > high ? high : v;
        public static Vector512<double> Of(Vector512<double> v, Vector512<double> alpha, Vector512<double> low, Vector512<double> high) =>
            Vector512.ConditionalSelect(Vector512.LessThan(v, low), low, Vector512.ConditionalSelect(Vector512.GreaterThan(v, high), high, v));
        public static Vector256<double> Of(Vector256<double> v, Vector256<double> alpha, Vector256<double> low, Vector256<double> high) =>
            Vector256.ConditionalSelect(Vector256.LessThan(v, low), low, Vector256.ConditionalSelect(Vector256.GreaterThan(v, high), high, v));
    }
}
