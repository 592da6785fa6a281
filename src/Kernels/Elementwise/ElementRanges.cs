using System;

namespace Functional.Kernels;

/// <summary>What one-pass elementwise kernels share: the check that n elements fit their arrays, and the split of
/// [0, n) into ranges over the cores (<see cref="Fork.PerTask"/>'s chunks, each starting on a cache line).</summary>
internal static class ElementRanges
{
    /// <summary>Throws unless n ≥ 0 and every array holds n elements at least.</summary>
    public static void Check(int n, params double[]?[] arrays)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "A count cannot be negative.");
        foreach (var a in arrays)
            if (a is null || a.Length < n) throw new ArgumentException($"{n} elements do not fit an array of {a?.Length ?? 0}.");
    }

    /// <summary>range(i0, i1) over ranges covering [0, n), on the cores when there is enough work.</summary>
    public static void Split(int n, Action<int, int> range)
    {
        if (n == 0) return;
        int per = Fork.PerTask(n, 1);
        if (Fork.Pieces(n, per) <= 1 || Fork.Cores < 2) { range(0, n); return; }
        Fork.ForPieces(n, per, range);
    }
}
