using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Functional.Kernels;

/// <summary>The packed product's register tiles: one Mr×Nr block of C summed over a panel of k, for full tiles in
/// place and edge tiles through a zero-padded buffer.</summary>
internal static unsafe partial class PackedGemm
{
    /// <summary>One Mr×Nr tile from packed panels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile(bool wide, double* aPanel, double* bPanel, int kc, double* c, int ldc, bool first) =>
        Tile(wide, aPanel, 1, Mr, bPanel, Nr, kc, c, ldc, first);

    /// <summary>One Mr×Nr tile, A[r, p] at a + r·rs + p·ps, B[p, ·] at b + p·bs: the Vector512 kernel (8×16) or
    /// the Vector256 one (6×8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile(bool wide, double* a, nint rs, nint ps, double* b, nint bs, int kc, double* c, int ldc, bool first)
    {
        if (wide) Kernel(a, rs, ps, b, bs, kc, c, ldc, first);
        else Kernel256<SixRows>(a, rs, ps, b, bs, kc, c, ldc, first);
    }

    /// <summary>A tile with fewer than Mr rows or Nr columns of C, through the zero-padded tile buffer: the rows and
    /// columns of C that exist are copied in first when a previous k block left sums there, and copied back after.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void EdgeTile(bool wide, double* a, nint rs, nint ps, double* b, nint bs, int kc, double* c, int ldc, int h, int w, bool first, double* tile)
    {
        int nr = Nr;
        if (!first)
        {
            new Span<double>(tile, Mr * nr).Clear();
            for (int r = 0; r < h; r++)
                for (int jj = 0; jj < w; jj++) tile[r * nr + jj] = c[(long)r * ldc + jj];
        }
        Tile(wide, a, rs, ps, b, bs, kc, tile, nr, first);
        for (int r = 0; r < h; r++)
            for (int jj = 0; jj < w; jj++) c[(long)r * ldc + jj] = tile[r * nr + jj];
    }

    /// <summary>The 8×16 register tile: C[8×16 at c, row stride ldc] += Σ_p A[0..7, p] ⊗ B[p, 0..15]
    /// (the sums start from +0 when <paramref name="first"/>, else from C), A[r, p] at a + r·rs + p·ps and B[p, 0..15] at b + p·bs:
    /// packed panels (rs = 1, ps = MR, bs = NR) or operands in place (A stored m×k: rs = k, ps = 1; stored k×m:
    /// rs = 1, ps = m; B stored k×n: bs = n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel(double* a, nint rs, nint ps, double* b, nint bs, int kc, double* c, int ldc, bool first)
    {
        Vector512<double> c00 = Start(c, first), c01 = Start(c + 8, first), c10 = Start(c + (long)ldc, first), c11 = Start(c + (long)ldc + 8, first);
        Vector512<double> c20 = Start(c + 2L * ldc, first), c21 = Start(c + 2L * ldc + 8, first), c30 = Start(c + 3L * ldc, first), c31 = Start(c + 3L * ldc + 8, first);
        Vector512<double> c40 = Start(c + 4L * ldc, first), c41 = Start(c + 4L * ldc + 8, first), c50 = Start(c + 5L * ldc, first), c51 = Start(c + 5L * ldc + 8, first);
        Vector512<double> c60 = Start(c + 6L * ldc, first), c61 = Start(c + 6L * ldc + 8, first), c70 = Start(c + 7L * ldc, first), c71 = Start(c + 7L * ldc + 8, first);
        nint r2 = 2 * rs, r3 = 3 * rs, r4 = 4 * rs, r5 = 5 * rs, r6 = 6 * rs, r7 = 7 * rs;
        for (int p = 0; p < kc; p++, a += ps, b += bs)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 8);
            var x = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[rs]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[r2]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[r3]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[r4]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[r5]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a[r6]);
            c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a[r7]);
            c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
        }
        Put(c, c00, c01); c += ldc;
        Put(c, c10, c11); c += ldc;
        Put(c, c20, c21); c += ldc;
        Put(c, c30, c31); c += ldc;
        Put(c, c40, c41); c += ldc;
        Put(c, c50, c51); c += ldc;
        Put(c, c60, c61); c += ldc;
        Put(c, c70, c71);
    }

    /// <summary>Asks for the lines of a C tile of h rows × w doubles (w = 8 or 16: at most three lines a row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchTile(double* c, int ldc, int h, int w)
    {
        if (!Sse.IsSupported) return;
        for (int r = 0; r < h; r++, c += ldc)
        {
            Sse.Prefetch0(c);
            Sse.Prefetch0(c + w - 1);
            if (w > 8) Sse.Prefetch0(c + 8);
        }
    }

    /// <summary>The Vector256 tile's height as a type: the JIT compiles each height as its own kernel, the other
    /// height's rows folded away.</summary>
    private interface ITileRows { static abstract bool Six { get; } }

    /// <summary>Six rows: the packed panels' tile.</summary>
    private readonly struct SixRows : ITileRows { public static bool Six => true; }

    /// <summary>Four rows: the rows six-row tiles leave in place.</summary>
    private readonly struct FourRows : ITileRows { public static bool Six => false; }

    /// <summary>The 6×8 Vector256 tile (12 accumulators, BLIS's Haswell shape) or its first four rows: C[h×8 at c]
    /// += Σ_p A[0..h−1, p] ⊗ B[p, 0..7], A[r, p] at a + r·rs + p·ps, B[p, ·] at b + p·bs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel256<TRows>(double* a, nint rs, nint ps, double* b, nint bs, int kc, double* c, int ldc, bool first)
        where TRows : struct, ITileRows
    {
        Vector256<double> c00 = Start256(c, first), c01 = Start256(c + 4, first), c10 = Start256(c + (long)ldc, first), c11 = Start256(c + (long)ldc + 4, first);
        Vector256<double> c20 = Start256(c + 2L * ldc, first), c21 = Start256(c + 2L * ldc + 4, first), c30 = Start256(c + 3L * ldc, first), c31 = Start256(c + 3L * ldc + 4, first);
        Vector256<double> c40 = default, c41 = default, c50 = default, c51 = default;
        if (TRows.Six)
        {
            c40 = Start256(c + 4L * ldc, first); c41 = Start256(c + 4L * ldc + 4, first);
            c50 = Start256(c + 5L * ldc, first); c51 = Start256(c + 5L * ldc + 4, first);
        }
        nint r2 = 2 * rs, r3 = 3 * rs, r4 = 4 * rs, r5 = 5 * rs;
        for (int p = 0; p < kc; p++, a += ps, b += bs)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 4);
            var x = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[rs]);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[r2]);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[r3]);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            if (TRows.Six)
            {
                x = Vector256.Create(a[r4]);
                c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
                x = Vector256.Create(a[r5]);
                c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            }
        }
        Put(c, c00, c01); c += ldc;
        Put(c, c10, c11); c += ldc;
        Put(c, c20, c21); c += ldc;
        Put(c, c30, c31);
        if (TRows.Six)
        {
            c += ldc;
            Put(c, c40, c41); c += ldc;
            Put(c, c50, c51);
        }
    }

    // The first block of k starts every sum from +0 (so a sum is never −0, as a cleared C would give); a later
    // block resumes from the C tile the earlier one stored, so each element is one sum in order p = 0, 1, …, k−1
    // whatever the blocks.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> Start(double* p, bool first) => first ? Vector512<double>.Zero : Vector512.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Start256(double* p, bool first) => first ? Vector256<double>.Zero : Vector256.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(double* row, Vector512<double> lo, Vector512<double> hi)
    {
        Vector512.Store(lo, row);
        Vector512.Store(hi, row + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(double* row, Vector256<double> lo, Vector256<double> hi)
    {
        Vector256.Store(lo, row);
        Vector256.Store(hi, row + 4);
    }
}
