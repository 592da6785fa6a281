namespace Functional.Tests

open Functional.Core
open Functional.Testing

/// The core tests' einsum problems come from the shipped generator (Functional.Testing), with the case's own
/// operands as core tensors.
[<AutoOpen>]
module EinsumCaseExtensions =
    type EinsumCase with
        member c.Tensors = c.Operands |> Array.map (fun t -> t.Value.Tensor)

module EinsumGen =

    /// Einsum problems with every feature on and at most `maxOperands` operands, shrinking structurally.
    let arb (maxOperands: int) = Functional.Testing.FSharp.EinsumGen.arbWith (EinsumOptions(MaxOperands = maxOperands))
