namespace Functional.Core

open System.Runtime.Intrinsics
open System.Runtime.Intrinsics.X86

/// What this machine's vector units can run, decided once at start-up (and `Tuning.EightLanes` for tests).
module internal Cpu =

    let supported = Avx512F.IsSupported && Avx512DQ.IsSupported

    /// Whether the four-lane formulas can run here (AVX2 and FMA).
    let internal narrow = Avx2.IsSupported && Fma.IsSupported

    /// Whether GELU and exp have a vector path here (eight lanes or four).
    let lanes = supported || narrow

    /// Eight lanes where AVX-512 runs and `Tuning.EightLanes` is on (tests switch it off to hold the four-lane
    /// formulas to the eight-lane ones, bit for bit, on the same machine).
    let internal wide () = supported && Functional.Kernels.Tuning.EightLanes

    /// Elementwise steps around the exponential (σ's and tanh's) run four lanes at a time on every vector machine:
    /// they are bound by memory and L1, not by arithmetic, and elementwise, so the same bits at any width.
    /// (Softmax's steps take eight where `wide ()`: measured faster on Zen 5, whose AVX-512 is full width.)
    let internal v256 = Vector256.IsHardwareAccelerated

    /// Whether the four-lane formulas (ln, GELU's tanh form) run here: AVX2 and FMA.
    let fourLanes = narrow
