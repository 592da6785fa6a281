namespace Functional.Core

/// The derivative assigned where a function has a kink (Leaky ReLU and ELU at 0, |x| at 0, clamp at its bounds, a
/// tie in maximum or minimum): the right derivative, the left one, or their mean. Each op documents its default; the
/// README's kink table shows what PyTorch, JAX and DiffSharp assign.
type KinkConvention =
    /// The right derivative (Leaky ReLU: 1, the original derivation notes' and JAX's choice; |x|: 1, JAX's).
    | RightDerivative = 0
    /// The left derivative (Leaky ReLU and ELU: α, TorchSharp's choice; |x|: −1).
    | LeftDerivative = 1
    /// The mean of both sides (Leaky ReLU: (1 + α)/2, DiffSharp's; |x|: 0 and a tie: ½ each, TorchSharp's).
    | Midpoint = 2

/// Ops whose slopes are constant between kinks (SlopeBits' family), and clamp, which the second derivatives of the
/// elementwise functions and activations use to keep ∞·0 out of their limits at ±∞.
[<RequireQualifiedAccess>]
module internal Slopes =

    /// g·slope(x) as one op (name, attributes) for an op of SlopeBits' family: from the slope bits `saved` for the
    /// tensor they were made from, else `fromX x g`.
    val piecewiseScaled:
      name: string -> attributes: (string * obj) list -> slopes: Functional.Kernels.SlopeBits.Slopes ->
        fromX: (Tensor -> Tensor -> Tensor) -> saved: struct (Tensor * Tensor) voption -> x: Value -> g: Value -> Value

    /// An op of SlopeBits' family (value and slopes in `slopes`); on a reverse-mode tape a large forward keeps the
    /// slopes as bits for its pullback `scaled saved`.
    val piecewiseOp:
      name: string -> attributes: (string * obj) list -> slopes: Functional.Kernels.SlopeBits.Slopes ->
        scaled: (struct (Tensor * Tensor) voption -> Value -> Value -> Value) -> x: Value -> Value

    /// min(max(x, lo), hi) with the slopes kinkLow at lo and kinkHigh at hi (1 inside, 0 outside), as an op named
    /// "clamp" with `attributes`; `Piecewise.clamp` checks the bounds and supplies the convention's slopes.
    val clampOp:
      attributes: (string * obj) list -> lo: double -> hi: double -> kinkLow: double -> kinkHigh: double -> x: Value -> Value

    /// x clamped to [−bound, bound] (the right derivative at each bound), for a higher derivative that is already 0
    /// in float64 beyond ±bound but whose formula meets ∞·0 as x grows: clamped, the formula gives that 0 at ±∞ too.
    val flatBeyond: bound: double -> x: Value -> Value
