using Core = Functional.Core;

namespace Functional;

/// <summary>Process-wide resource limits, checked before anything is allocated.</summary>
public static class Limits
{
    /// <summary>
    /// Results and intermediates larger than this many bytes (a contraction's steps, a broadcast, a Jacobian or
    /// Hessian, a materialised tensor) are refused with a <see cref="MemoryLimitException"/> before anything is
    /// allocated. 8 GiB by default; set it at start-up, not per call.
    /// </summary>
    /// <exception cref="System.ArgumentOutOfRangeException">The value is not positive.</exception>
    public static long MemoryLimitBytes
    {
        get => Core.Limits.memoryLimitBytes;
        set
        {
            System.ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
            Core.Limits.memoryLimitBytes = value;
        }
    }

    /// <summary>The most elements one tensor can hold: the largest .NET array of doubles (2,147,483,591).</summary>
    public static int MaxElements => Core.Shape.maxElements;
}
