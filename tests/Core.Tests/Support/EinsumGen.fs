namespace Functional.Tests

open Functional.Core
open Functional.Testing

/// The core tests' einsum problems come from the shipped generator (Functional.Testing), with the operands as core
/// tensors: the same values `EinsumCase.Operands` holds.
[<AutoOpen>]
module EinsumCaseExtensions =
    type EinsumCase with
        member c.Tensors = c.Shapes |> Array.mapi (fun k s -> Tensor.random (c.Seed + 7919 * k) s)

module EinsumGen =

    /// Einsum problems with every feature on and at most `maxOperands` operands, shrinking structurally.
    let arb (maxOperands: int) = Functional.Testing.FSharp.EinsumGen.arbWith (EinsumOptions(MaxOperands = maxOperands))
