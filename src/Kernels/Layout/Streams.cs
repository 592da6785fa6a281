using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Functional.Kernels;

/// <summary>
/// Contiguous copies and clears written around the caches (aligned non-temporal stores), for large results whose
/// arrays are in no cache (plain results, recycled after a collection). Written through the caches, each line would
/// first be read from memory. Only whole cache lines go around the caches: the elements before the first 64-byte
/// boundary and after the last go through ordinary stores, so that a line shared with the next run (a pad's zeros
/// and its block, a gather's rows) never takes both kinds (a line written partly around the caches costs more than
/// it saves). The caller ends a task's stores with <see cref="Fence"/>.
/// </summary>
internal static unsafe class Streams
{
    /// <summary>Whether this machine has the stores (otherwise <see cref="Copy(double*, double*, long)"/> and <see cref="Clear(double*, long)"/> store
    /// through the caches).</summary>
    public static bool Supported => Avx.IsSupported;

    /// <summary>d[0 .. n) = s[0 .. n); the ranges do not overlap.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Copy(double* s, double* d, long n)
    {
        if (!Avx.IsSupported || n < 16)
        {
            Buffer.MemoryCopy(s, d, n * 8, n * 8);
            return;
        }
        long i = 0;
        while (i < n && ((nint)(d + i) & 63) != 0) { d[i] = s[i]; i++; }
        for (; i <= n - 16; i += 16)
        {
            var a = Vector256.Load(s + i);
            var b = Vector256.Load(s + i + 4);
            var c = Vector256.Load(s + i + 8);
            var e = Vector256.Load(s + i + 12);
            Avx.StoreAlignedNonTemporal(d + i, a);
            Avx.StoreAlignedNonTemporal(d + i + 4, b);
            Avx.StoreAlignedNonTemporal(d + i + 8, c);
            Avx.StoreAlignedNonTemporal(d + i + 12, e);
        }
        for (; i <= n - 8; i += 8)
        {
            Avx.StoreAlignedNonTemporal(d + i, Vector256.Load(s + i));
            Avx.StoreAlignedNonTemporal(d + i + 4, Vector256.Load(s + i + 4));
        }
        for (; i < n; i++) d[i] = s[i];
    }

    /// <summary>d[0 .. n) = s[0 .. n) + 0 (−0 becomes +0, as in a sum from +0); the ranges do not overlap.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddZero(double* s, double* d, long n)
    {
        long i = 0;
        if (Avx.IsSupported && n >= 16)
        {
            while (i < n && ((nint)(d + i) & 63) != 0) { d[i] = s[i] + 0.0; i++; }
            var z = Vector256<double>.Zero;
            for (; i <= n - 8; i += 8)
            {
                var a = Vector256.Load(s + i) + z;
                var b = Vector256.Load(s + i + 4) + z;
                Avx.StoreAlignedNonTemporal(d + i, a);
                Avx.StoreAlignedNonTemporal(d + i + 4, b);
            }
        }
        for (; i < n; i++) d[i] = s[i] + 0.0;
    }

    /// <summary><see cref="Copy(double*, double*, long)"/> between arrays, bounds checked.</summary>
    public static void Copy(double[] src, int srcOff, double[] dst, int dstOff, int count)
    {
        Within(src, srcOff, count, "Copying");
        Within(dst, dstOff, count, "Copying");
        fixed (double* s = src, d = dst) Copy(s + srcOff, d + dstOff, count);
    }

    /// <summary><see cref="AddZero(double*, double*, long)"/> between arrays, bounds checked.</summary>
    public static void AddZero(double[] src, int srcOff, double[] dst, int dstOff, int count)
    {
        Within(src, srcOff, count, "Adding");
        Within(dst, dstOff, count, "Adding");
        fixed (double* s = src, d = dst) AddZero(s + srcOff, d + dstOff, count);
    }

    /// <summary><see cref="Clear(double*, long)"/> in an array, bounds checked.</summary>
    public static void Clear(double[] dst, int offset, int count)
    {
        Within(dst, offset, count, "Clearing");
        fixed (double* d = dst) Clear(d + offset, count);
    }

    /// <summary>Refuses a range [offset, offset + count) that does not lie in <paramref name="a"/>.</summary>
    private static void Within(double[] a, int offset, int count, string doing)
    {
        if ((uint)offset > (uint)a.Length || (uint)count > (uint)(a.Length - offset))
            throw new ArgumentOutOfRangeException(nameof(count), $"{doing} {count} elements at {offset} of an array of {a.Length}.");
    }

    /// <summary>d[0 .. n) = +0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Clear(double* d, long n)
    {
        if (!Avx.IsSupported || n < 16)
        {
            new Span<double>(d, (int)Math.Min(n, int.MaxValue)).Clear();
            if (n > int.MaxValue) new Span<double>(d + int.MaxValue, (int)(n - int.MaxValue)).Clear();
            return;
        }
        long i = 0;
        while (i < n && ((nint)(d + i) & 63) != 0) d[i++] = 0.0;
        var z = Vector256<double>.Zero;
        for (; i <= n - 8; i += 8)
        {
            Avx.StoreAlignedNonTemporal(d + i, z);
            Avx.StoreAlignedNonTemporal(d + i + 4, z);
        }
        for (; i < n; i++) d[i] = 0.0;
    }

    /// <summary>Orders a task's non-temporal stores before whatever it does next (they are weakly ordered).</summary>
    public static void Fence()
    {
        if (Sse.IsSupported) Sse.StoreFence();
    }
}
