namespace Functional.Core

/// <summary>
/// Reshape and permute. Their VJPs undo the move; their JVPs repeat it.
/// </summary>
/// <example>
/// <code lang="fsharp">
/// let x = Value.constant (Tensor.random 1 [| 2; 3; 4 |])
/// let y = Layout.permute [| 2; 0; 1 |] (Layout.reshape [| 2; 12 |] x |&gt; Layout.reshape [| 2; 3; 4 |])
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Layout =

    /// Same elements, new shape (one -1 is inferred). VJP: reshape back. JVP: reshape the tangent.
    /// A constant is reshaped directly (what the op would give, without building it).
    val reshape: shape: int array -> x: Value -> Value

    /// Axis i of the result is axis perm.[i] of x (negative entries count from the end). VJP: the inverse
    /// permutation. JVP: the same permutation.
    val permute: perm: int array -> x: Value -> Value

    /// Reverses the axes.
    val transpose: x: Value -> Value

    /// Row i of x along axis 0 (the axis removed; negative i counts from the end). VJP: the adjoint embedded as row i of zeros. JVP: row i of the tangent.
    val select: i: int -> x: Value -> Value

    /// x as row i of an otherwise zero tensor with `rows` rows. VJP: row i of the adjoint. JVP: the tangent embedded.
    /// A row outside 0 .. rows − 1 is refused (ShapeException), a result past the memory limit too (MemoryLimitException).
    val embed: i: int -> rows: int -> x: Value -> Value

    /// Stacks same-shaped values along a new leading axis. VJP: row k of the adjoint for input k.
    val stack: xs: Value array -> Value
