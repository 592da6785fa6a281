using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;

namespace Functional.Kernels;

/// <summary>Runs made of pieces: sums over axes that are not one block (all but a channel axis, as batch
/// normalisation takes), read where the data is instead of through a copy that lays each run end to end.</summary>
internal static unsafe partial class Reduce
{
    /// <summary>dst[o] = the sum of the run whose piece s (of <paramref name="length"/> ≥ 32 contiguous elements) starts at
    /// src[starts[o] + offsets[s]]: the same additions in the same order as <see cref="Run"/> on the pieces laid end
    /// to end (a 32-element chunk that straddles two pieces is gathered first; the run's remainder is added in
    /// order), so the same bits as <see cref="SumRuns"/> over such a copy.</summary>
    public static void SumPieces(double[] src, long[] starts, long[] offsets, int length, double[] dst)
    {
        if (length < 32) throw new ArgumentException($"Pieces of {length} elements: a piece holds at least one 32-element chunk.");
        if (starts.Length > dst.Length) throw new ArgumentException($"{starts.Length} runs do not fit {dst.Length} outputs.");
        if (starts.Length > 0 && offsets.Length > 0)
        {
            long first = 0, last = 0;
            for (int r = 0; r < starts.Length; r++) { first = r == 0 ? starts[r] : Math.Min(first, starts[r]); last = r == 0 ? starts[r] : Math.Max(last, starts[r]); }
            long lowest = first + offsets[0], highest = last + offsets[0];
            foreach (long s in offsets) { lowest = Math.Min(lowest, first + s); highest = Math.Max(highest, last + s); }
            if (lowest < 0 || highest + length > src.Length)
                throw new ArgumentException($"Pieces from {lowest} to {highest + length} do not fit {src.Length} inputs.");
        }
        int outputs = starts.Length, pieces = offsets.Length;
        fixed (double* ps = src, pd = dst)
        fixed (long* po = offsets)
        {
            nint s = (nint)ps, d = (nint)pd, o = (nint)po;
            if ((long)outputs * pieces * length >= 1L << 18 && outputs >= 2 && Environment.ProcessorCount > 1)
                Parallel.For(0, outputs, r => ((double*)d)[r] = Pieces((double*)s + starts[r], (long*)o, pieces, length));
            else
                for (int r = 0; r < outputs; r++) pd[r] = Pieces(ps + starts[r], po, pieces, length);
        }
    }

    /// <summary><see cref="Blocks256"/>, <see cref="Lanes(Vector256{double}, Vector256{double})"/> and the remainder, as
    /// <see cref="Blocked"/> adds them, over the pieces at p + offsets[s]: each 8-lane sum as two Vector256 halves,
    /// which gives the bits of the Vector512 path too.</summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double Pieces(double* p, long* offsets, int pieces, int length)
    {
        var lows = stackalloc Vector256<double>[32];
        var highs = stackalloc Vector256<double>[32];
        var gathered = stackalloc double[32];
        int count = 0, piece = 0, within = 0;
        long n = (long)pieces * length;
        long remaining = n / 32;
        while (remaining > 0)
        {
            Vector256<double> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector256<double> b0 = default, b1 = default, b2 = default, b3 = default;
            int chunks = (int)Math.Min(32, remaining);
            remaining -= chunks;
            for (int c = 0; c < chunks; c++)
            {
                double* q;
                if (within + 32 <= length)
                {
                    q = p + offsets[piece] + within;
                    within += 32;
                    if (within == length) { within = 0; piece++; }
                }
                else
                {
                    // The chunk straddles two pieces (a piece holds at least 32): the end of this one and the start
                    // of the next, in order, into a buffer of its own.
                    int first = length - within;
                    Buffer.MemoryCopy(p + offsets[piece] + within, gathered, 32 * sizeof(double), first * sizeof(double));
                    piece++;
                    within = 32 - first;
                    Buffer.MemoryCopy(p + offsets[piece], gathered + first, (32 - first) * sizeof(double), within * sizeof(double));
                    q = gathered;
                }
                a0 += Vector256.Load(q); b0 += Vector256.Load(q + 4);
                a1 += Vector256.Load(q + 8); b1 += Vector256.Load(q + 12);
                a2 += Vector256.Load(q + 16); b2 += Vector256.Load(q + 20);
                a3 += Vector256.Load(q + 24); b3 += Vector256.Load(q + 28);
            }
            Push(lows, highs, ref count, (a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3));
        }
        var (accLo, accHi) = Levels(lows, highs, count);
        double total = Lanes(accLo, accHi);
        for (long e = n / 32 * 32; e < n; e++)
        {
            total += p[offsets[piece] + within];
            if (++within == length) { within = 0; piece++; }
        }
        return total;
    }
}
