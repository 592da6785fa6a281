using System.Threading;

namespace Functional.Kernels;

/// <summary>Memory helpers for kernels that write fresh arrays from several threads.</summary>
internal static class Memory
{
    /// <summary>Touches every page of a (typically fresh) output once, on this thread, before tasks write it.
    /// Each value is read and written back unchanged. On this VM a first touch costs about 1.3 µs per 4 KB page
    /// alone but several times that when two cores fault into the same process at once: measured 1024²
    /// product 32 → 25 ms, 32×128² batch 5.9 → 2.4 ms.</summary>
    public static void Prefault(double[] c)
    {
        for (long i = 0; i < c.LongLength; i += 512) Volatile.Write(ref c[i], Volatile.Read(ref c[i]));
    }
}
