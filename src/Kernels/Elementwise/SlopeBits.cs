using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Functional.Kernels;

/// <summary>
/// Leaky ReLU, ReLU and |x| forward, and their pullback g·slope(x) read from one bit per element instead of from x
/// (|x| is Leaky ReLU's slopes with α = −1).
/// Both passes are bound by memory: the pullback that reads x moves 24 bytes per element, this one 16⅛, so ReLU
/// forward and backward on 10⁶ moves 32 MB instead of 40.
/// <para>The code of n elements (<see cref="CodeLength"/> doubles, written by <see cref="Forward"/>): one ulong
/// per block of 64 elements, bit k set where element k's slope is 1 and clear where it is α; then one ulong of
/// flags per 64 blocks, a flag set where a block holds an element whose slope is neither (NaN, or ±0 under a kink
/// slope other than 1 and α). The pullback reads x in flagged blocks.</para>
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

    /// <summary>The value a forward writes: Leaky ReLU (α·x below 0), ReLU's form (+0 for x ≤ 0, NaN kept) or |x|.</summary>
    public enum Form { LeakyRelu, Relu, Abs }

    /// <summary>The length, in doubles, of the code of n elements.</summary>
    public static int CodeLength(int n)
    {
        int blocks = Blocks(n);
        return blocks + (blocks + 63) / 64;
    }

    private static int Blocks(int n) => (int)(((long)n + 63) >> 6);

    /// <summary>y[lo..hi) = the <paramref name="form"/>'s value: LeakyReLU(x), α·x for x &lt; 0, else x; ReLU's
    /// form, x for x &gt; 0, NaN for NaN, else +0; or |x| (the sign bit cleared, as Math.Abs). With a <paramref name="code"/> (of x.Length elements), the
    /// slope bits of those elements and the flags of their blocks, under <paramref name="kink"/>, the slope at ±0.
    /// With <paramref name="stream"/>, y is written with non-temporal stores (the same bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(double[] x, double[] y, double alpha, Form form, double[]? code, double kink, int lo, int hi, bool stream)
    {
        int n = x.Length;
        if (lo < 0 || lo > hi || hi > n || y.Length < n) throw new ArgumentOutOfRangeException(nameof(hi), "The range lies outside x or y.");
        if (code is not null && (lo % FlagSpan != 0 || (hi % 64 != 0 && hi != n) || code.Length < CodeLength(n)))
            throw new ArgumentException("A code is written from a multiple of FlagSpan, in whole blocks, into CodeLength(x.Length) doubles.", nameof(code));
        fixed (double* px = x, py = y, pc = code)
        {
            ulong* bits = (ulong*)pc;
            ulong* flags = bits + Blocks(n);
            bool oneAtZero = kink == 1.0;
            bool zeroUnusual = !oneAtZero && kink != alpha;
            for (int s = lo; s < hi; s += Stripe)
            {
                int e = Math.Min(hi, s + Stripe);
                if (bits != null) Bits(px, bits, flags, n, oneAtZero, zeroUnusual, s, e);
                Values(px, py, alpha, form, s, e, stream);
            }
            if (stream && Sse.IsSupported) Sse.StoreFence();
        }
    }

    /// <summary>o[lo..hi) = g·slope: g[i] (or <paramref name="gUniform"/> where g is null) times 1 where element i's
    /// bit is set and α where it is clear; in a flagged block, times the slope of x[i] itself (1 for x &gt; 0, α for
    /// x &lt; 0, <paramref name="kink"/> for ±0, NaN for NaN). The code is the one <see cref="Forward"/> wrote for
    /// x under the same α and kink.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(double[] code, double[] x, double[]? g, double gUniform, double[] o, double alpha, double kink, int lo, int hi, bool stream)
    {
        int n = x.Length;
        if (lo < 0 || lo > hi || hi > n || o.Length < n || (g is not null && g.Length < n)) throw new ArgumentOutOfRangeException(nameof(hi), "The range lies outside x, g or o.");
        if (code.Length < CodeLength(n)) throw new ArgumentException("The code is shorter than CodeLength(x.Length).", nameof(code));
        fixed (double* px = x, pg = g, po = o, pc = code)
        {
            ulong* bits = (ulong*)pc;
            ulong* flags = bits + Blocks(n);
            int i = lo;
            if (Vector512.IsHardwareAccelerated)
            {
                var one = Vector512.Create(1.0);
                var a = Vector512.Create(alpha);
                var kinkV = Vector512.Create(kink);
                var nanV = Vector512.Create(double.NaN);
                var lanes = Vector512.Create(1L, 2, 4, 8, 16, 32, 64, 128);
                var gu = Vector512.Create(gUniform);
                if (stream)
                    for (; i < hi && ((nint)(po + i) & 63) != 0; i++) po[i] = One(bits, flags, px, pg, gUniform, alpha, kink, i);
                for (; i <= hi - 8; i += 8)
                {
                    var gv = pg == null ? gu : Vector512.Load(pg + i);
                    Vector512<double> slope;
                    if (Flagged(flags, i >> 6) || Flagged(flags, (i + 7) >> 6))
                    {
                        var v = Vector512.Load(px + i);
                        slope = Vector512.ConditionalSelect(Vector512.GreaterThan(v, Vector512<double>.Zero), one,
                            Vector512.ConditionalSelect(Vector512.LessThan(v, Vector512<double>.Zero), a,
                                Vector512.ConditionalSelect(Vector512.Equals(v, v), kinkV, nanV)));
                    }
                    else
                    {
                        long m = (long)(BitsAt(bits, i) & 0xFF);
                        slope = Vector512.ConditionalSelect(Vector512.Equals(Vector512.Create(m) & lanes, lanes).AsDouble(), one, a);
                    }
                    var r = gv * slope;
                    if (stream) Vector512.StoreAlignedNonTemporal(r, po + i); else Vector512.Store(r, po + i);
                }
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                var one = Vector256.Create(1.0);
                var a = Vector256.Create(alpha);
                var kinkV = Vector256.Create(kink);
                var nanV = Vector256.Create(double.NaN);
                var lanes = Vector256.Create(1L, 2, 4, 8);
                var gu = Vector256.Create(gUniform);
                if (stream)
                    for (; i < hi && ((nint)(po + i) & 31) != 0; i++) po[i] = One(bits, flags, px, pg, gUniform, alpha, kink, i);
                for (; i <= hi - 4; i += 4)
                {
                    var gv = pg == null ? gu : Vector256.Load(pg + i);
                    Vector256<double> slope;
                    if (Flagged(flags, i >> 6) || Flagged(flags, (i + 3) >> 6))
                    {
                        var v = Vector256.Load(px + i);
                        slope = Vector256.ConditionalSelect(Vector256.GreaterThan(v, Vector256<double>.Zero), one,
                            Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<double>.Zero), a,
                                Vector256.ConditionalSelect(Vector256.Equals(v, v), kinkV, nanV)));
                    }
                    else
                    {
                        long m = (long)(BitsAt(bits, i) & 0xF);
                        slope = Vector256.ConditionalSelect(Vector256.Equals(Vector256.Create(m) & lanes, lanes).AsDouble(), one, a);
                    }
                    var r = gv * slope;
                    if (stream) Vector256.StoreAlignedNonTemporal(r, po + i); else Vector256.Store(r, po + i);
                }
            }
            for (; i < hi; i++) po[i] = One(bits, flags, px, pg, gUniform, alpha, kink, i);
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

    /// <summary>One element of <see cref="Backward"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double One(ulong* bits, ulong* flags, double* px, double* pg, double gUniform, double alpha, double kink, int i)
    {
        double g = pg == null ? gUniform : pg[i];
        double slope;
        if (Flagged(flags, i >> 6))
        {
            double v = px[i];
            slope = v > 0.0 ? 1.0 : v < 0.0 ? alpha : double.IsNaN(v) ? double.NaN : kink;
        }
        else slope = (BitsAt(bits, i) & 1) != 0 ? 1.0 : alpha;
        return g * slope;
    }

    /// <summary>The bits of the blocks in [s, e) and their flags; a flags word is cleared at its first block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Bits(double* px, ulong* bits, ulong* flags, int n, bool oneAtZero, bool zeroUnusual, int s, int e)
    {
        for (int p = s; p < e; p += 64)
        {
            int b = p >> 6;
            ulong word = 0;
            bool unusual = false;
            if (p + 64 <= n && Vector512.IsHardwareAccelerated)
            {
                var acc = Vector512<double>.Zero;
                for (int k = 0; k < 64; k += 8)
                {
                    var v = Vector512.Load(px + p + k);
                    var slopeOne = oneAtZero ? Vector512.GreaterThanOrEqual(v, Vector512<double>.Zero) : Vector512.GreaterThan(v, Vector512<double>.Zero);
                    word |= slopeOne.ExtractMostSignificantBits() << k;
                    acc |= ~Vector512.Equals(v, v);
                    if (zeroUnusual) acc |= Vector512.Equals(v, Vector512<double>.Zero);
                }
                unusual = acc != Vector512<double>.Zero;
            }
            else if (p + 64 <= n && Vector256.IsHardwareAccelerated)
            {
                var acc = Vector256<double>.Zero;
                for (int k = 0; k < 64; k += 4)
                {
                    var v = Vector256.Load(px + p + k);
                    var slopeOne = oneAtZero ? Vector256.GreaterThanOrEqual(v, Vector256<double>.Zero) : Vector256.GreaterThan(v, Vector256<double>.Zero);
                    word |= (ulong)slopeOne.ExtractMostSignificantBits() << k;
                    acc |= ~Vector256.Equals(v, v);
                    if (zeroUnusual) acc |= Vector256.Equals(v, Vector256<double>.Zero);
                }
                unusual = acc != Vector256<double>.Zero;
            }
            else
            {
                int count = Math.Min(64, n - p);
                for (int k = 0; k < count; k++)
                {
                    double v = px[p + k];
                    if (v > 0.0 || (oneAtZero && v == 0.0)) word |= 1UL << k;
                    if (double.IsNaN(v) || (zeroUnusual && v == 0.0)) unusual = true;
                }
            }
            bits[b] = word;
            if ((b & 63) == 0) flags[b >> 6] = 0;
            if (unusual) flags[b >> 6] |= 1UL << (b & 63);
        }
    }

    /// <summary>y[s..e) of <see cref="Forward"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Values(double* px, double* py, double alpha, Form form, int s, int e, bool stream)
    {
        int i = s;
        if (Vector512.IsHardwareAccelerated)
        {
            var a = Vector512.Create(alpha);
            if (stream)
                for (; i < e && ((nint)(py + i) & 63) != 0; i++) py[i] = Value(px[i], alpha, form);
            for (; i <= e - 8; i += 8)
            {
                var v = Vector512.Load(px + i);
                var r = form == Form.Relu
                    ? Vector512.ConditionalSelect(Vector512.GreaterThan(v, Vector512<double>.Zero), v, Vector512.ConditionalSelect(Vector512.Equals(v, v), Vector512<double>.Zero, v))
                    : form == Form.Abs ? Vector512.Abs(v)
                    : Vector512.ConditionalSelect(Vector512.LessThan(v, Vector512<double>.Zero), a * v, v);
                if (stream) Vector512.StoreAlignedNonTemporal(r, py + i); else Vector512.Store(r, py + i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var a = Vector256.Create(alpha);
            if (stream)
                for (; i < e && ((nint)(py + i) & 31) != 0; i++) py[i] = Value(px[i], alpha, form);
            for (; i <= e - 4; i += 4)
            {
                var v = Vector256.Load(px + i);
                var r = form == Form.Relu
                    ? Vector256.ConditionalSelect(Vector256.GreaterThan(v, Vector256<double>.Zero), v, Vector256.ConditionalSelect(Vector256.Equals(v, v), Vector256<double>.Zero, v))
                    : form == Form.Abs ? Vector256.Abs(v)
                    : Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<double>.Zero), a * v, v);
                if (stream) Vector256.StoreAlignedNonTemporal(r, py + i); else Vector256.Store(r, py + i);
            }
        }
        for (; i < e; i++) py[i] = Value(px[i], alpha, form);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Value(double v, double alpha, Form form) =>
        form == Form.Relu ? (v > 0.0 || double.IsNaN(v) ? v : 0.0) : form == Form.Abs ? Math.Abs(v) : (v < 0.0 ? alpha * v : v);
}
