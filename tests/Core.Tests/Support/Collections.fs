namespace Functional.Tests

open Xunit

/// Tests that change or measure process-wide state run in this collection, alone, after the parallel ones: a
/// lowered Limits.memoryLimitBytes or a flipped Tuning switch is seen by every test running at the same time
/// (a fresh-clone CI run once refused a GEMM test's operand under another test's 1 MiB limit), and while other
/// tests run their allocations land in the same working set.
[<CollectionDefinition("process-wide state", DisableParallelization = true)>]
type ProcessWideStateCollection() = class end

/// Flipped Tuning switches, put back after.
module TuningSwitches =

    /// Runs f with every large-result switch at its most streaming (`NonTemporalBytes` 0: every result counts as
    /// large; `StreamRunsFrom` 0: runs of every length), then restores those two and `StreamPlainResults`, which f
    /// may flip. For tests in the "process-wide state" collection.
    let withEveryResultStreamed (f: unit -> unit) =
        let saved = Functional.Kernels.Tuning.NonTemporalBytes
        let savedPlain = Functional.Kernels.Tuning.StreamPlainResults
        let savedRuns = Functional.Kernels.Tuning.StreamRunsFrom
        try
            Functional.Kernels.Tuning.NonTemporalBytes <- 0L
            Functional.Kernels.Tuning.StreamRunsFrom <- 0
            f ()
        finally
            Functional.Kernels.Tuning.NonTemporalBytes <- saved
            Functional.Kernels.Tuning.StreamPlainResults <- savedPlain
            Functional.Kernels.Tuning.StreamRunsFrom <- savedRuns

    /// Runs f with every array going back to a pool filled with NaN (`PoisonPooledArrays`), so that a kernel reading
    /// an output before writing it gives a visibly wrong answer; then puts the switch back.
    let withPoisonedPool (f: unit -> 'a) : 'a =
        let saved = Functional.Kernels.Tuning.PoisonPooledArrays
        try
            Functional.Kernels.Tuning.PoisonPooledArrays <- true
            f ()
        finally
            Functional.Kernels.Tuning.PoisonPooledArrays <- saved
