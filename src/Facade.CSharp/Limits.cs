using Core = Functional.Core;

namespace Functional;

/// <summary>Process-wide resource settings: limits checked before anything is allocated, and how long idle worker
/// threads spin.</summary>
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
            if (value <= 0)
                throw new System.ArgumentOutOfRangeException(nameof(value), value.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    "Limits.MemoryLimitBytes must be positive.");
            Core.Limits.memoryLimitBytes = value;
        }
    }

    /// <summary>
    /// How long, in milliseconds, the library's worker threads keep spinning for the next operation large enough to
    /// split over the cores before they sleep, so that one following within that time starts on every core at once.
    /// The spinning yields the core to any other thread ready to run on it. 20 by default; 0 sends every split to the
    /// .NET thread pool. Results are the same either way.
    /// </summary>
    /// <exception cref="System.ArgumentOutOfRangeException">The value is below 0, above 1,000 or not a number.</exception>
    public static double WorkerSpinMilliseconds
    {
        get => Core.Limits.workerSpinMilliseconds();
        set => Api.Call("Limits.WorkerSpinMilliseconds", "value", () => { Core.Limits.setWorkerSpinMilliseconds(value); return 0; });
    }

    /// <summary>The most elements one tensor can hold: the largest .NET array of doubles (2,147,483,591).</summary>
    public static int MaxElements => Core.Shape.maxElements;
}
