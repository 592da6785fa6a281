namespace Functional.Tests

open Xunit

/// Tests that change or measure process-wide state run in this collection, alone, after the parallel ones: a
/// lowered Limits.memoryLimitBytes or a flipped Tuning switch is seen by every test running at the same time
/// (a fresh-clone CI run once refused a GEMM test's operand under another test's 1 MiB limit), and while other
/// tests run their allocations land in the same working set.
[<CollectionDefinition("process-wide state", DisableParallelization = true)>]
type ProcessWideStateCollection() = class end
