using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Functional.Kernels;

/// <summary>Dot products against two to eight columns of B read as stored, k×n row-major, instead of from a
/// transposed copy. A few rows against a long B spent as long on that copy (a whole pass over B, written back) as on
/// the products. B's rows are read as one flat run of k·n values; each vector of it meets a vector of A's elements
/// permuted to match (element p of A against the n values of row p), so each accumulator lane is one of the sixteen
/// running sums of one column, and the sums are folded in <see cref="Combine"/>'s order: the same bits as
/// <see cref="MultiplyColumns"/>.</summary>
internal static unsafe partial class Gemv
{
    /// <summary>Whether n columns can be read interleaved here: n = 2 to 8, with AVX2 (the lane permutes) and FMA, on
    /// any vector width, since the bits do not depend on it.</summary>
    public static bool Interleaves(int n) => n >= 2 && n <= 8 && Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Whether a product of k × n is read interleaved rather than through a transposed copy: where it can be
    /// and k ≥ <see cref="InterleavedMinK"/>.</summary>
    public static bool ReadsInterleaved(int k, int n) => k >= InterleavedMinK && Interleaves(n);

    /// <summary>Below this k a row's fixed cost (spilling its sums, the fold per column) outweighs the copy it
    /// saves: AMD EPYC Zen 3, 4096×256×3 took 0.31–0.44 ms interleaved against 0.26–0.33 through the copy, while
    /// 2048×2048×3 was level and 256×4096×3 0.28–0.31 against 0.36–0.41.</summary>
    internal const int InterleavedMinK = 1024;

    /// <summary>c[j] = Σ_p a[p]·b[p·n + j] for j &lt; n (n = 2 to 8), p &lt; kc: whole groups of 16 p through the
    /// sixteen running sums of each column, folded, then the last kc mod 16 one at a time.
    /// Sum s of column j (p ≡ s mod 16) is left at sums[w·s + j] (128 doubles), w = n up to four columns (where the
    /// product of element s of a group of A with B's row s, column j, lies in the group's n·16 values of B), else 8
    /// (one Vector512 per sum).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Interleaved(double* a, double* b, int kc, int n, double* c, double* sums)
    {
        int whole = kc & ~15;
        int w = n > 4 ? 8 : n;
        if (n == 8 && Avx512F.IsSupported) Rows<Vector512<double>, Lanes8, AllLanes8>(a, b, whole, n, sums, 8, default);
        else if (n > 4 && Avx512F.IsSupported) Rows<Vector512<double>, Lanes8, FirstLanes8>(a, b, whole, n, sums, 8, new FirstLanes8(n));
        else if (n > 4)
        {
            // Four lanes: columns 0–3, then the rest, each pass with its sixteen sums in registers (both at once
            // would take 32); B's lines are read twice.
            Rows<Vector256<double>, Lanes4, AllLanes4>(a, b, whole, n, sums, 8, default);
            if (n == 8) Rows<Vector256<double>, Lanes4, AllLanes4>(a, b + 4, whole, n, sums + 4, 8, default);
            else Rows<Vector256<double>, Lanes4, FirstLanes4>(a, b + 4, whole, n, sums + 4, 8, new FirstLanes4(n - 4));
        }
        else if (n == 4) Rows<Vector256<double>, Lanes4, AllLanes4>(a, b, whole, 4, sums, 4, default);
        else if (n == 3) Groups3(a, b, whole, sums);
        else Groups2(a, b, whole, sums);
        for (int j = 0; j < n; j++)
        {
            double* s = sums + j;
            // Combine's fold written out: w_l = (S_l + S_l+8) + (S_l+4 + S_l+12), then (w0 + w2) + (w1 + w3).
            double w0 = (s[0] + s[8 * w]) + (s[4 * w] + s[12 * w]);
            double w1 = (s[w] + s[9 * w]) + (s[5 * w] + s[13 * w]);
            double w2 = (s[2 * w] + s[10 * w]) + (s[6 * w] + s[14 * w]);
            double w3 = (s[3 * w] + s[11 * w]) + (s[7 * w] + s[15 * w]);
            double r = (w0 + w2) + (w1 + w3);
            for (int p = whole; p < kc; p++) r = Math.FusedMultiplyAdd(a[p], b[(long)p * n + j], r);
            c[j] = r;
        }
    }

    /// <summary>A row of B as one vector meets element p of A, broadcast (read from memory): sixteen accumulators,
    /// one per running sum, each lane a column's. Four columns on four lanes (through the transposed copy, 3×200,000
    /// by 200,000×4 took 0.54× TorchSharp on AMD EPYC Zen 4, two and three columns read this way 6–7×); five to eight
    /// on eight lanes, or in two passes of four (columns 0–3, then the rest); lanes past a row's columns masked off
    /// (+0, never read: the fold takes lanes below n). Rows are `stride` apart; sum s is left at sums[sumStride·s ..].
    /// Its own optimised method per lane type (inlined into the row loop with every instantiation, the loop ran out
    /// of inlining budget and called each broadcast, load and multiply-add: 2.5× slower).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Rows<V, L, T>(double* a, double* b, int whole, int stride, double* sums, int sumStride, T rows)
        where V : struct where L : struct, ILanes<V> where T : struct, IRow<V>
    {
        V s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        V s8 = default, s9 = default, s10 = default, s11 = default, s12 = default, s13 = default, s14 = default, s15 = default;
        int n = stride;
        for (int p = 0; p < whole; p += 16, b += 16 * n)
        {
            double* q = a + p;
            s0 = L.MultiplyAdd(L.Broadcast(q[0]), rows.Load(b), s0);
            s1 = L.MultiplyAdd(L.Broadcast(q[1]), rows.Load(b + 1 * n), s1);
            s2 = L.MultiplyAdd(L.Broadcast(q[2]), rows.Load(b + 2 * n), s2);
            s3 = L.MultiplyAdd(L.Broadcast(q[3]), rows.Load(b + 3 * n), s3);
            s4 = L.MultiplyAdd(L.Broadcast(q[4]), rows.Load(b + 4 * n), s4);
            s5 = L.MultiplyAdd(L.Broadcast(q[5]), rows.Load(b + 5 * n), s5);
            s6 = L.MultiplyAdd(L.Broadcast(q[6]), rows.Load(b + 6 * n), s6);
            s7 = L.MultiplyAdd(L.Broadcast(q[7]), rows.Load(b + 7 * n), s7);
            s8 = L.MultiplyAdd(L.Broadcast(q[8]), rows.Load(b + 8 * n), s8);
            s9 = L.MultiplyAdd(L.Broadcast(q[9]), rows.Load(b + 9 * n), s9);
            s10 = L.MultiplyAdd(L.Broadcast(q[10]), rows.Load(b + 10 * n), s10);
            s11 = L.MultiplyAdd(L.Broadcast(q[11]), rows.Load(b + 11 * n), s11);
            s12 = L.MultiplyAdd(L.Broadcast(q[12]), rows.Load(b + 12 * n), s12);
            s13 = L.MultiplyAdd(L.Broadcast(q[13]), rows.Load(b + 13 * n), s13);
            s14 = L.MultiplyAdd(L.Broadcast(q[14]), rows.Load(b + 14 * n), s14);
            s15 = L.MultiplyAdd(L.Broadcast(q[15]), rows.Load(b + 15 * n), s15);
        }
        int w = sumStride;
        L.Store(s0, sums); L.Store(s1, sums + 1 * w); L.Store(s2, sums + 2 * w); L.Store(s3, sums + 3 * w);
        L.Store(s4, sums + 4 * w); L.Store(s5, sums + 5 * w); L.Store(s6, sums + 6 * w); L.Store(s7, sums + 7 * w);
        L.Store(s8, sums + 8 * w); L.Store(s9, sums + 9 * w); L.Store(s10, sums + 10 * w); L.Store(s11, sums + 11 * w);
        L.Store(s12, sums + 12 * w); L.Store(s13, sums + 13 * w); L.Store(s14, sums + 14 * w); L.Store(s15, sums + 15 * w);
    }

    /// <summary>How <see cref="Rows"/> reads a row of B: all lanes, or the first few (a masked load, reading nothing
    /// past them).</summary>
    private interface IRow<V> where V : struct { V Load(double* p); }

    /// <summary>The lane width's broadcast, fused multiply-add and store.</summary>
    private interface ILanes<V> where V : struct
    {
        static abstract V Broadcast(double x);
        static abstract V MultiplyAdd(V x, V y, V acc);
        static abstract void Store(V v, double* p);
    }

    private struct Lanes4 : ILanes<Vector256<double>>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<double> Broadcast(double x) => Vector256.Create(x);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<double> MultiplyAdd(Vector256<double> x, Vector256<double> y, Vector256<double> acc) => Fma.MultiplyAdd(x, y, acc);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<double> v, double* p) => Vector256.Store(v, p);
    }

    private struct Lanes8 : ILanes<Vector512<double>>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<double> Broadcast(double x) => Vector512.Create(x);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<double> MultiplyAdd(Vector512<double> x, Vector512<double> y, Vector512<double> acc) => Vector512.FusedMultiplyAdd(x, y, acc);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<double> v, double* p) => Vector512.Store(v, p);
    }

    private readonly struct AllLanes4 : IRow<Vector256<double>>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<double> Load(double* p) => Vector256.Load(p);
    }

    private readonly struct FirstLanes4(int n) : IRow<Vector256<double>>
    {
        private readonly Vector256<double> mask = Vector256.LessThan(Vector256.Create(0L, 1, 2, 3), Vector256.Create((long)n)).AsDouble();
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector256<double> Load(double* p) => Avx.MaskLoad(p, mask);
    }

    private readonly struct AllLanes8 : IRow<Vector512<double>>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<double> Load(double* p) => Vector512.Load(p);
    }

    private readonly struct FirstLanes8(int n) : IRow<Vector512<double>>
    {
        private readonly Vector512<double> mask = Vector512.LessThan(Vector512.Create(0L, 1, 2, 3, 4, 5, 6, 7), Vector512.Create((long)n)).AsDouble();
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public Vector512<double> Load(double* p) => Avx512F.MaskLoad(p, mask, Vector512<double>.Zero);
    }

    /// <summary>Three columns: a group of 16 p is 48 values of B, twelve vectors; four elements of A cover three of
    /// them (<see cref="Step3"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Groups3(double* a, double* b, int whole, double* sums)
    {
        Vector256<double> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default;
        Vector256<double> s6 = default, s7 = default, s8 = default, s9 = default, s10 = default, s11 = default;
        for (int p = 0; p < whole; p += 16, b += 48)
        {
            Step3(Vector256.Load(a + p), b, ref s0, ref s1, ref s2);
            Step3(Vector256.Load(a + p + 4), b + 12, ref s3, ref s4, ref s5);
            Step3(Vector256.Load(a + p + 8), b + 24, ref s6, ref s7, ref s8);
            Step3(Vector256.Load(a + p + 12), b + 36, ref s9, ref s10, ref s11);
        }
        Vector256.Store(s0, sums); Vector256.Store(s1, sums + 4); Vector256.Store(s2, sums + 8);
        Vector256.Store(s3, sums + 12); Vector256.Store(s4, sums + 16); Vector256.Store(s5, sums + 20);
        Vector256.Store(s6, sums + 24); Vector256.Store(s7, sums + 28); Vector256.Store(s8, sums + 32);
        Vector256.Store(s9, sums + 36); Vector256.Store(s10, sums + 40); Vector256.Store(s11, sums + 44);
    }

    /// <summary>Four elements x of A against the twelve values of B at b (the rows p … p + 3 of a three-column B,
    /// three vectors): x permuted as (0,0,0,1), (1,1,2,2), (2,3,3,3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step3(Vector256<double> x, double* b, ref Vector256<double> s0, ref Vector256<double> s1, ref Vector256<double> s2)
    {
        s0 = Fma.MultiplyAdd(Avx2.Permute4x64(x, 0x40), Vector256.Load(b), s0);
        s1 = Fma.MultiplyAdd(Avx2.Permute4x64(x, 0xA5), Vector256.Load(b + 4), s1);
        s2 = Fma.MultiplyAdd(Avx2.Permute4x64(x, 0xFE), Vector256.Load(b + 8), s2);
    }

    /// <summary>Two columns: a group of 16 p is 32 values of B, eight vectors; four elements of A cover two of them
    /// (<see cref="Step2"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Groups2(double* a, double* b, int whole, double* sums)
    {
        Vector256<double> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        for (int p = 0; p < whole; p += 16, b += 32)
        {
            Step2(Vector256.Load(a + p), b, ref s0, ref s1);
            Step2(Vector256.Load(a + p + 4), b + 8, ref s2, ref s3);
            Step2(Vector256.Load(a + p + 8), b + 16, ref s4, ref s5);
            Step2(Vector256.Load(a + p + 12), b + 24, ref s6, ref s7);
        }
        Vector256.Store(s0, sums); Vector256.Store(s1, sums + 4); Vector256.Store(s2, sums + 8); Vector256.Store(s3, sums + 12);
        Vector256.Store(s4, sums + 16); Vector256.Store(s5, sums + 20); Vector256.Store(s6, sums + 24); Vector256.Store(s7, sums + 28);
    }

    /// <summary>Four elements x of A against the rows p … p + 3 of a two-column B (two vectors at b): x permuted as
    /// (0,0,1,1), (2,2,3,3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step2(Vector256<double> x, double* b, ref Vector256<double> s0, ref Vector256<double> s1)
    {
        s0 = Fma.MultiplyAdd(Avx2.Permute4x64(x, 0x50), Vector256.Load(b), s0);
        s1 = Fma.MultiplyAdd(Avx2.Permute4x64(x, 0xFA), Vector256.Load(b + 4), s1);
    }
}
