namespace Functional.Core

/// <summary>
/// + − × ÷ and negation with NumPy broadcasting; gradients sum over broadcast dimensions.
/// Each op's forward, VJP and JVP sit together.
/// </summary>
/// <example>
/// <code lang="fsharp">
/// let a = Value.constant (Tensor.random 1 [| 3; 4 |])
/// let b = Value.constant (Tensor.random 2 [| 4 |])
/// let y = Arithmetic.div (Arithmetic.add a b) (Arithmetic.addScalar 2.0 (Arithmetic.mul b b))
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Arithmetic =

    /// Broadcast to a shape. VJP: sum back (sumTo). JVP: broadcast the tangent.
    val broadcastTo: shape: int array -> x: Value -> Value

    /// Sum a broadcast value back to `shape`. VJP: broadcast. JVP: sum the tangent.
    val sumTo: shape: int array -> x: Value -> Value

    /// a + b. ∂/∂a = 1, ∂/∂b = 1 (summed over broadcast dimensions).
    val add: a: Value -> b: Value -> Value

    /// −x. ∂/∂x = −1.
    val neg: x: Value -> Value

    /// k·x for a constant k. ∂/∂x = k.
    val scale: k: double -> x: Value -> Value

    /// a − b. ∂/∂a = 1, ∂/∂b = −1.
    val sub: a: Value -> b: Value -> Value

    /// a · b elementwise. ∂/∂a = b, ∂/∂b = a. One value times itself is `square` (the same bits, and one pass
    /// back instead of two products and their sum).
    val mul: a: Value -> b: Value -> Value

    /// x² = x·x. d/dx = 2x. The VJP and JVP are one pass (`squareScaled`).
    val square: x: Value -> Value

    /// g·(2x) in one pass: x²'s VJP and JVP (the bits of g·x + g·x, 2·(g·x) being exact but for
    /// subnormal products, where one rounding is closer). ∂/∂x = 2g, ∂/∂g = 2x.
    val internal squareScaled: x: Value -> g: Value -> Value

    /// a / b elementwise. ∂/∂a = 1/b, ∂/∂b = −a/b² = −(a/b)/b.
    val div: a: Value -> b: Value -> Value

    /// x + c for a constant c.
    val addScalar: c: double -> x: Value -> Value

    /// c − x for a constant c.
    val rsubScalar: c: double -> x: Value -> Value
