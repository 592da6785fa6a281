namespace Functional.Core

/// <summary>
/// Einsum, matmul and batched matmul as differentiable contractions. Their gradients come from the
/// index-set derivation: the VJP for operand k is the derived contraction of the output adjoint with
/// the other operands (itself this op again, so every order follows); the JVP replaces operand k by
/// its tangent (einsum is linear in each operand).
/// </summary>
/// <example>
/// <code lang="fsharp">
/// let a = Value.constant (Tensor.random 1 [| 3; 4 |])
/// let b = Value.constant (Tensor.random 2 [| 4; 2 |])
/// let loss (xs: Value[]) = Reduction.sum (Linear.einsum "ij,jk-&gt;ik" xs)
/// let grads = Autodiff.gradMany loss [| a; b |]             // ∇A = G·Bᵀ, ∇B = Aᵀ·G
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Linear =

    /// The op for one extended contraction.
    val contraction: c: Contraction -> Op

    /// Einsum over any number of operands (NumPy/torch semantics).
    /// ∂L/∂X_k = the derived contraction of ∂L/∂Y with the other operands (see Einsum.explain); with three or
    /// more operands it is evaluated along the contraction plan, reusing the forward's intermediates.
    val einsum: equation: string -> operands: Value array -> Value

    /// Matrix product of rank-2 values: C = A·B. ∇A = ∂L/∂C·Bᵀ, ∇B = Aᵀ·∂L/∂C.
    val matmul: a: Value -> b: Value -> Value

    /// Batched matrix product with broadcast batch dimensions: ...ij,...jk->...ik.
    val bmm: a: Value -> b: Value -> Value
