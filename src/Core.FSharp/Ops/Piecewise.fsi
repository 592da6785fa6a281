namespace Functional.Core

/// <summary>
/// Functions with kinks, each taking the KinkConvention that fixes its derivative at the kink: the right
/// derivative, the left one, or their mean. Between kinks each is smooth and its derivative exact.
/// </summary>
/// <example>
/// <code lang="fsharp">
/// let x = Value.constant (Tensor.vector [| -1.0; 0.0; 2.0 |])
/// let g = Autodiff.grad (fun v -&gt; Reduction.sum (Piecewise.abs KinkConvention.Midpoint v)) x
/// // g = [-1; 0; 1]: the midpoint convention gives 0 at the kink
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Piecewise =

    /// The derivative at a kink from its one-sided derivatives: left, right, or their mean.
    val kinkValue: convention: KinkConvention -> left: double -> right: double -> double

    /// |x|. d/dx = sign x, and at 0 the convention's value: 1 (right), −1 (left) or 0 (midpoint). NaN gives NaN.
    val abs: convention: KinkConvention -> x: Value -> Value

    /// min(max(x, lo), hi). d/dx = 1 inside (lo, hi), 0 outside; at x = lo the convention picks 0 (left), 1
    /// (right) or 1/2, at x = hi 1 (left), 0 (right) or 1/2; 1 at an infinite bound (no kink: clamp is x on that
    /// side); 0 everywhere when lo = hi (a constant). NaN gives NaN. lo > hi or a NaN bound is refused.
    val clamp: convention: KinkConvention -> lo: double -> hi: double -> x: Value -> Value

    /// clamp's slopes at lo and at hi under a convention (0 at both when lo = hi, 1 at an infinite bound); the
    /// cross-check engine's too.
    val internal clampKinks: convention: KinkConvention -> lo: double -> hi: double -> double * double

    /// Each side's derivative at a tie of max(a, b) (isMax) or min(a, b) under the convention: raising one side moves
    /// a max (right derivative 1, left 0), not a min (right 0, left 1); the midpoint ½. The one-sided value is also a
    /// tied entry's share in `maxAxes` and `minAxes`.
    val internal tieSlope: isMax: bool -> convention: KinkConvention -> double

    /// max(a, b) elementwise with broadcasting. The gradient goes to the larger; at a tie each side's derivative
    /// is the convention's: 1/2 each (midpoint, as PyTorch and JAX split it), 1 each (right) or 0 each (left).
    /// NaN in either gives NaN.
    val maximum: convention: KinkConvention -> a: Value -> b: Value -> Value

    /// min(a, b) elementwise with broadcasting. The gradient goes to the smaller; at a tie 1/2 each (midpoint), 0 each
    /// (right: raising one side leaves the min where it is) or 1 each (left). NaN in either gives NaN.
    val minimum: convention: KinkConvention -> a: Value -> b: Value -> Value

    /// ELU: x for x > 0, α·(eˣ − 1) for x ≤ 0. d/dx = 1 (x > 0), α·eˣ (x < 0), and at 0 the convention's value
    /// between α (left) and 1 (right); d²/dx² = α·eˣ below 0 and 0 above, so every order follows. ELU(±∞) = +∞
    /// and −α, NaN gives NaN. With AVX2 and FMA eˣ − 1 comes from the vector exponential's reduction (nothing
    /// cancels near 0; eˣ − 1 and eˣ within 1 ulp of a high-precision reference, tested), and on a reverse-mode
    /// tape the derivative comes with the value and the pullback is one multiplication.
    val elu: alpha: double -> convention: KinkConvention -> x: Value -> Value

    /// The largest entry over `axes` (keeping them with length 1 when keepDims). The gradient goes to the largest;
    /// at a tie of k entries each gets the convention's share: 1/k (midpoint, the centre of the subgradients, as
    /// PyTorch's amax and JAX), 1 (right) or 0 (left). +0 is larger than −0 (as `maximum`), whatever their order.
    /// NaN anywhere in a run gives NaN. An empty axis is refused.
    val maxAxes: convention: KinkConvention -> axes: int array -> keepDims: bool -> x: Value -> Value

    /// The smallest entry over `axes`; at a tie of k entries each gets 1/k (midpoint), 0 (right: raising one tied entry
    /// leaves the min where it is) or 1 (left). −0 is smaller than +0 (as `minimum`), whatever their order. NaN
    /// anywhere in a run gives NaN. An empty axis is refused.
    val minAxes: convention: KinkConvention -> axes: int array -> keepDims: bool -> x: Value -> Value
