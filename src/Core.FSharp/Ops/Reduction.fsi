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

    /// Mean over the given axes.
    val meanAxes: axes: int array -> keepDims: bool -> x: Value -> Value

    /// Mean of every element, a scalar.
    val mean: x: Value -> Value
