namespace Functional.Core

/// <summary>
/// Sums and means over all or some axes.
/// </summary>
/// <example>
/// <code lang="fsharp">
/// let x = Value.constant (Tensor.random 1 [| 2; 3 |])
/// let rows = Reduction.sumAxes [| 1 |] false x              // shape [2]
/// let m = Reduction.mean x                                  // a scalar
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Reduction =

    /// Σ over the given axes. VJP: the adjoint broadcast back along them. JVP: the tangent summed.
    val sumAxes: axes: int array -> keepDims: bool -> x: Value -> Value

    /// Σ of every element, a scalar.
    val sum: x: Value -> Value

    /// Mean over the given axes: the sum divided by the count (so the mean of n equal values is that value). Finite
    /// values whose sum overflows (near 1e308) are summed scaled down by a power of two, so their mean is finite
    /// (PyTorch and NumPy give ∞ there). An empty axis gives NaN, a constant.
    val meanAxes: axes: int array -> keepDims: bool -> x: Value -> Value

    /// Mean of every element, a scalar (as `meanAxes` over every axis).
    val mean: x: Value -> Value
