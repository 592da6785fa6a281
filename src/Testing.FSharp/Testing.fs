namespace Functional.Testing.FSharp

open System
open FsCheck
open Functional
open Functional.Testing

/// Einsum problems valid by construction, shrinking structurally to a minimal equation (`Generators.Einsum`).
[<RequireQualifiedAccess>]
module EinsumGen =

    /// Every feature on.
    let arb : Arbitrary<EinsumCase> = Generators.Einsum()

    /// With the given features, e.g. `EinsumOptions(MaxOperands = 3, ZeroSize = false)`.
    let arbWith (options: EinsumOptions) : Arbitrary<EinsumCase> = Generators.Einsum(options)

    /// The generator of `arb`, without shrinking.
    let gen : Gen<EinsumCase> = arb.Generator

/// Shapes and shapes that broadcast together.
[<RequireQualifiedAccess>]
module ShapeGen =

    /// Rank 0 to maxRank, each size 1 to maxSize.
    let gen (maxRank: int) (maxSize: int) : Gen<int[]> = Generators.Shape(maxRank, maxSize)

    /// Rank 0 to maxRank, each size 1 to maxSize or, with `zeroSize`, now and then 0.
    let genWithZero (maxRank: int) (maxSize: int) (zeroSize: bool) : Gen<int[]> = Generators.Shape(maxRank, maxSize, zeroSize)

    /// The same as `gen`, shrinking by dropping a dimension or lowering a size.
    let arb (maxRank: int) (maxSize: int) : Arbitrary<int[]> = Generators.ShapeArbitrary(maxRank, maxSize)

    /// `count` shapes that broadcast together by NumPy's rules.
    let broadcasting (count: int) (maxRank: int) (maxSize: int) : Gen<int[][]> = Generators.BroadcastShapes(count, maxRank, maxSize)

/// Tensors with a value domain.
[<RequireQualifiedAccess>]
module TensorGen =

    /// Every element uniform in [min, max) (max itself only when it equals min).
    let uniform (shape: int[]) (min: double) (max: double) : Gen<Tensor> = Generators.Tensor(shape, min, max)

    /// The same as `uniform`, shrinking each element toward the simplest value in [min, max].
    let arb (shape: int[]) (min: double) (max: double) : Arbitrary<Tensor> = Generators.TensorArbitrary(shape, min, max)

    /// Uniform in [min, max) but at least `gap` away from each of `points` (kinks, poles).
    let awayFrom (shape: int[]) (min: double) (max: double) (gap: double) (points: double list) : Gen<Tensor> =
        Generators.Tensor(shape, min, max, gap, Array.ofList points)

    /// The same as `awayFrom`, its shrinks keeping the gap (a failure away from a kink does not shrink onto it).
    let arbAwayFrom (shape: int[]) (min: double) (max: double) (gap: double) (points: double list) : Arbitrary<Tensor> =
        Generators.TensorArbitrary(shape, min, max, gap, Array.ofList points)

/// An op's derivative rules against finite differences and each other (`RuleCheck`), and einsum's metamorphic checks.
[<RequireQualifiedAccess>]
module Rules =

    /// JVP, VJP, adjoint identity, second order, Hessian symmetry and the JVP's own derivative with the default options.
    let check (op: Tensor[] -> Tensor) (inputs: Tensor[]) : RuleCheckReport = RuleCheck.Run(Func<Tensor[], Tensor>(op), inputs)

    /// The same with the given steps, tolerances, full-Jacobian limit and seed.
    let checkWith (options: RuleCheckOptions) (op: Tensor[] -> Tensor) (inputs: Tensor[]) : RuleCheckReport =
        RuleCheck.Run(Func<Tensor[], Tensor>(op), options, inputs)

    /// An op over core values as one over facade tensors (a null result stays null, which `RuleCheck` names), and
    /// core inputs as facade tensors.
    let private lifted (op: Functional.Core.Value[] -> Functional.Core.Value) (inputs: Functional.Core.Tensor[]) =
        if isNull (box op) then nullArg "op"
        if isNull inputs then nullArg "inputs"
        inputs |> Array.iteri (fun i t -> if isNull (box t) then invalidArg "inputs" (sprintf "Input %d is null." i))
        let f (xs: Tensor[]) = match box (op (xs |> Array.map (fun x -> x.Value))) with | null -> null | y -> Tensor(unbox y)
        Func<Tensor[], Tensor>(f), inputs |> Array.map (fun t -> Tensor(Functional.Core.Value.constant t))

    /// The same for an op written against the F# core (`Value[] -> Value`, e.g. `Op.apply` of an `Op.create`) at
    /// core tensors: its rules are checked as `check` checks a facade op's, through the same values.
    let checkValues (op: Functional.Core.Value[] -> Functional.Core.Value) (inputs: Functional.Core.Tensor[]) : RuleCheckReport =
        let f, xs = lifted op inputs
        RuleCheck.Run(f, xs)

    /// `checkValues` with the given steps, tolerances, full-Jacobian limit and seed.
    let checkValuesWith (options: RuleCheckOptions) (op: Functional.Core.Value[] -> Functional.Core.Value) (inputs: Functional.Core.Tensor[]) : RuleCheckReport =
        let f, xs = lifted op inputs
        RuleCheck.Run(f, options, xs)

    /// The problem with its operands reordered, labels renamed and output permuted gives the same answer.
    let metamorphic (c: EinsumCase) : RuleCheckReport = EinsumCheck.Metamorphic c
