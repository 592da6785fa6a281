namespace Functional.Core

/// <summary>
/// The transforms: vjp, grad, valueAndGrad, jvp, jacobian, hessian, hessian-vector product.
/// Each call opens a fresh perturbation tag, so transforms nest freely (grad of grad of …, forward
/// over reverse) without confusing perturbations. Backward passes are iterative: no recursion over
/// graph depth, and nothing of the graph outlives the returned values.
/// </summary>
/// <example>
/// <code lang="fsharp">
/// let f (x: Value) = Reduction.sum (Activation.gelu (Arithmetic.mul x x))
/// let x = Value.constant (Tensor.random 1 [| 4 |])
/// let g = Autodiff.grad f x                                 // ∂f/∂x
/// let h = Autodiff.hessian f x                              // 4 × 4
/// let y, tangent = Autodiff.jvp Activation.gelu x x         // forward mode
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Autodiff =

    /// The value of f at xs and its pullback: a function from an output adjoint to the adjoints of xs.
    val vjpMany:
      f: (Value array -> Value) ->
        xs: Value array -> Value * (Value -> Value array)

    /// The value of f at x and its pullback.
    val vjp: f: (Value -> Value) -> x: Value -> Value * (Value -> Value)

    /// The value of a scalar function and its gradients with respect to every input.
    val valueAndGradMany:
      f: (Value array -> Value) -> xs: Value array -> Value * Value array

    /// The gradients of a scalar function with respect to every input.
    val gradMany:
      f: (Value array -> Value) -> xs: Value array -> Value array

    /// The value of a scalar function and its gradient.
    val valueAndGrad: f: (Value -> Value) -> x: Value -> Value * Value

    /// The gradient of a scalar function (∂f/∂x, shaped as x). Nests: grad (grad f) works.
    val grad: f: (Value -> Value) -> x: Value -> Value

    /// Forward mode over several inputs at once: f's value and its derivative along (v_1, …, v_n).
    val jvpMany:
      f: (Value array -> Value) ->
        xs: Value array -> vs: Value array -> Value * Value

    /// Forward mode: the value of f at x and the directional derivative along v.
    val jvp: f: (Value -> Value) -> x: Value -> v: Value -> Value * Value

    /// The Jacobian of f at x, shaped f(x).shape ++ x.shape (one pullback per output element).
    val jacobian: f: (Value -> Value) -> x: Value -> Value

    /// Hessian-vector product H·v, forward over reverse.
    val hessianVectorProduct:
      f: (Value -> Value) -> x: Value -> v: Value -> Value

    /// The Hessian of a scalar function, shaped x.shape ++ x.shape: element [i, j] is ∂ᵢ(∂f/∂xⱼ), row i the JVP of
    /// the gradient along the i-th unit vector (JAX and torch.autograd.functional give ∂ⱼ(∂f/∂xᵢ); the two are equal
    /// wherever the rules are consistent, which the rule checker's Hessian symmetry check tests, up to rounding).
    val hessian: f: (Value -> Value) -> x: Value -> Value
