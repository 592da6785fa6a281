namespace Functional.Core

/// A whole equation's derivation.
type EinsumDerivation =
    {
      Spec: EinsumSpec

      /// The symbolic contraction ('...' as one pseudo-label).
      Contraction: Contraction
      Operands: OperandDerivation array
    }

/// <summary>
/// Einsum on raw tensors: evaluation, derived gradients, plans and explanations.
/// </summary>
/// <example>
/// <code lang="fsharp">
/// let c = Einsum.contract "bij,bjk-&gt;bik" [| Tensor.random 1 [| 8; 3; 4 |]; Tensor.random 2 [| 8; 4; 5 |] |]
/// printfn "%s" (Einsum.explain "ij,jk-&gt;ik")                // ∂L/∂A[i,j] = Σ_k ∂L/∂C[i,k] · B[j,k] …
/// let d = Einsum.derive "bij,bjk-&gt;bik"                     // index sets and gradient contractions
/// let p = Einsum.plan "ij,jk,k-&gt;i" [| [| 2000; 2000 |]; [| 2000; 2000 |]; [| 2000 |] |]
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Einsum =

    /// Parses and validates an equation (at most 64 operands, NumPy's limit). Raises EinsumException naming the
    /// fault.
    val parse: equation: string -> EinsumSpec

    /// Binds an equation to operand shapes (a fresh value the caller may keep).
    val bind: equation: string -> shapes: int array array -> BoundEinsum

    /// The same, shared from the cache: internal callers never mutate it.
    val internal bindCached:
      equation: string -> shapes: int array array -> BoundEinsum

    /// Each operand in its squeezed shape (the size-1 dimensions that broadcast dropped), by `reshape` where it
    /// differs: for tensors here, for differentiable values in `Linear.einsum`.
    val internal squeezeWith:
      reshape: (int array -> 'a -> 'a) -> shapeOf: ('a -> int array) -> b: BoundEinsum -> xs: 'a array -> 'a array

    val internal squeeze: b: BoundEinsum -> xs: Tensor array -> Tensor array

    val internal shapesOf: xs: Tensor array -> int array array

    /// Evaluates an einsum equation (NumPy/torch semantics).
    val contract: equation: string -> operands: Tensor array -> Tensor

    /// The gradient of every operand for a given output gradient, each through its derived contraction.
    val gradients:
      equation: string ->
        operands: Tensor array -> outputGradient: Tensor -> Tensor array

    /// The contraction plan for operands of the given shapes.
    val plan: equation: string -> shapes: int array array -> ContractionPlan

    /// The structured derivation of every operand's gradient.
    val derive: equation: string -> EinsumDerivation

    /// A readable derivation with index sets I, J, K and formulas, one block per operand.
    val explain: equation: string -> string

    /// The gradient formulas as LaTeX, one line per operand.
    val explainLatex: equation: string -> string
