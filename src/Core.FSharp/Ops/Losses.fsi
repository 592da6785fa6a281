namespace Functional.Core

/// <summary>
/// Elementwise losses of a prediction and a target, fused into one pass each way (`Functional.Kernels.Huber`, the
/// logistic lanes): the forward reads both once and writes the losses; the pullback reads both once and writes the
/// gradient.
/// Reduce them with `Reduction.mean` or `Reduction.sum`.
/// </summary>
/// <example>
/// <code lang="fsharp">
/// let p = Value.constant (Tensor.vector [| 0.5; 3.0 |])
/// let t = Value.constant (Tensor.vector [| 0.0; 0.0 |])
/// let l = Losses.huber 1.0 p t                          // [0.125; 2.5]
/// let b = Losses.bceWithLogits p (Value.constant (Tensor.vector [| 1.0; 0.0 |]))   // [0.4741; 3.0486]
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Losses =

    /// Huber's function of d = prediction − target, elementwise: ½d² where |d| ≤ δ, δ(|d| − ½δ) beyond (the two
    /// agree at |d| = δ; PyTorch's huber_loss without reduction). ∂/∂prediction = clamp(d, −δ, δ) = −∂/∂target:
    /// continuous, so no convention is needed; the second derivative is 1 inside, 0 outside and ½ at |d| = δ (the
    /// midpoint of its one-sided values, as the facade's `Clamp(min, max)` takes by default). NaN gives NaN. ShapeException unless both have one shape;
    /// ArgumentException unless δ is positive (δ = ∞ gives ½d² everywhere).
    val huber: delta: double -> prediction: Value -> target: Value -> Value

    /// huber's derivative times an adjoint or tangent g, as one op: g·clamp(prediction − target, −δ, δ), the
    /// prediction's part of a VJP or JVP (the target's is its negation). Differentiable again: ∂/∂g is this op,
    /// ∂/∂prediction = −∂/∂target = g·clamp′(d) with clamp′ 1 inside, 0 outside, ½ at |d| = δ.
    val internal huberSlope: delta: double -> prediction: Value -> target: Value -> g: Value -> Value

    /// Binary cross-entropy from logits x and targets t, elementwise: softplus(x) − x·t = −t·ln σ(x) − (1 − t)·ln(1 − σ(x))
    /// (PyTorch's binary_cross_entropy_with_logits without reduction), computed as (max(x, 0) − x·t) + ln(1 + e^(−|x|))
    /// so that the logarithm survives where the rest cancels (t = 1 and x = 40: 4.2e-18, where softplus(x) − x·t
    /// rounds to 0); the bits of `(relu x − x·t) + softplus(−|x|)` composed, without their passes. ∂/∂x = σ(x) − t, ∂/∂t = −x; ∂²/∂x² = σ(x)(1 − σ(x)). NaN gives NaN, and so does
    /// x = ±∞ where x·t is infinite or 0·∞: x = +∞ with t = 1 or t = 0, and x = −∞ with t = 0 (PyTorch's is NaN at
    /// the first and last too, and +∞ at x = +∞, t = 0). ShapeException unless both have one shape.
    val bceWithLogits: logits: Value -> targets: Value -> Value

    /// bceWithLogits' derivative in the logits times an adjoint or tangent g, as one op: g·(σ(x) − t). Differentiable
    /// again: ∂/∂g is this op, ∂/∂x = g·σ(x)(1 − σ(x)), ∂/∂t = −g.
    val internal bceSlope: logits: Value -> targets: Value -> g: Value -> Value
