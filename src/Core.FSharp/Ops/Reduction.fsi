namespace Functional.Core

/// Sums and means over all or some axes.
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
