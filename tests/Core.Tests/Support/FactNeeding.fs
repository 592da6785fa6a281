namespace Functional.Tests

open System.Runtime.Intrinsics.X86
open Xunit
open Functional.Core

/// What a test of one vector path needs of this machine, as the kernels decide it at start-up.
type Need =
    /// AVX-512, or AVX2 and FMA: GELU's, exp's, tanh's and σ's lanes (`Cpu.lanes`).
    | VectorLanes = 0
    /// AVX2 and FMA: the four-lane formulas (`Cpu.fourLanes`).
    | FourLanes = 1
    /// AVX-512 with the eight-lane switch on (`Cpu.wide ()`).
    | EightLanes = 2
    /// AVX-512, AVX2 and FMA: both widths on one machine, one held to the other.
    | EightAndFourLanes = 3
    /// Vector512, or Vector256 with FMA: the packed GEMM kernel (`PackedGemm.Supported`).
    | PackedGemm = 4
    /// Two cores or more (DOTNET_PROCESSOR_COUNT may say fewer): the kernels' split over cores.
    | TwoCores = 5

/// Whether this process has a vector path, and the skip reason where it has not.
module Needs =

    /// Whether the path runs here.
    let has (need: Need) =
        match need with
        | Need.VectorLanes -> Cpu.lanes
        | Need.FourLanes -> Cpu.fourLanes
        | Need.EightLanes -> Cpu.wide ()
        | Need.EightAndFourLanes -> Cpu.supported && Avx2.IsSupported && Fma.IsSupported
        | Need.PackedGemm -> Functional.Kernels.PackedGemm.Supported
        | Need.TwoCores -> System.Environment.ProcessorCount >= 2
        | _ -> invalidArg (nameof need) (sprintf "No such need: %d." (int need))

    /// The reason a test is reported skipped where the path does not run.
    let reason (need: Need) =
        let what =
            match need with
            | Need.VectorLanes -> "AVX-512, or AVX2 and FMA (vector lanes)"
            | Need.FourLanes -> "AVX2 and FMA (four lanes)"
            | Need.EightLanes -> "AVX-512 (eight lanes)"
            | Need.EightAndFourLanes -> "AVX-512, AVX2 and FMA (eight lanes and four)"
            | Need.PackedGemm -> "Vector512, or Vector256 with FMA (the packed GEMM kernel)"
            | _ -> string need
        if need = Need.TwoCores then "not run: needs two cores or more; this process has one (DOTNET_PROCESSOR_COUNT)"
        else sprintf "not run: needs %s, absent or switched off here (DOTNET_EnableAVX512, DOTNET_EnableAVX2, DOTNET_EnableHWIntrinsic)" what

/// A fact about one vector path (or the split over cores): where it does not run (the CPU lacks it, or CI's runs
/// switch it off), the test is reported skipped with the reason instead of passing without checking anything. xunit
/// reads Skip when it discovers the test, in the test process, where those switches apply.
type FactNeedingAttribute(need: Need) =
    inherit FactAttribute()

    /// What the test needs.
    member _.Need = need

    /// Null (run) where the path runs here, else why not; a Skip given in the attribute is ignored.
    override _.Skip
        with get () = if Needs.has need then null else Needs.reason need
        and set (_: string) = ()
