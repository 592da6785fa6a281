namespace Functional.Core

/// Which optimizer's steps made a state: the moments mean different things to each.
[<RequireQualifiedAccess>]
type OptimizerFamily =
    /// `Optimizers.init`'s state, before any step: any optimizer may take it.
    | Unstepped
    /// `Optimizers.sgd`: the velocity in `First`.
    | Sgd
    /// `Optimizers.adam`, decoupled or not (Adam and AdamW keep the same moments): the first and second moments.
    | Adam

/// What an optimizer carries from one step to the next: a step count, per parameter its moment buffers (the
/// velocity for momentum SGD; the first and second moments for Adam), and which optimizer made it. A step refuses
/// another optimizer's state (SGD's velocity is not Adam's first moment) and a count outside [0, Int32.MaxValue).
type OptimizerState =
    { Steps: int
      First: Tensor array
      Second: Tensor array
      Family: OptimizerFamily }

/// <summary>
/// Optimizers as pure functions: a step takes parameters, gradients and a state, and returns new parameters and a
/// new state; nothing is mutated. The update formulas are PyTorch's (torch.optim), so results can be compared.
/// Each entry of `parameters` is its own parameter with its own moments, even when two entries are the same tensor
/// (tensors are values); torch.optim, whose parameters are mutable objects, would step a repeated one twice.
/// </summary>
/// <example>
/// <code lang="fsharp">
/// let ps = [| Tensor.random 1 [| 3 |] |]
/// let gs = [| Tensor.ones [| 3 |] |]
/// let ps2, state = Optimizers.adam false 0.01 0.9 0.999 1e-8 0.0 ps gs (Optimizers.init ps)
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Optimizers =

    /// The state before the first step (zero buffers shaped as the parameters).
    val init: parameters: Tensor array -> OptimizerState

    /// SGD: g ← g + λ·p; with momentum μ, b ← μ·b + g (b = g at the first step) and g ← b, or g + μ·b with
    /// Nesterov; p ← p − η·g. η ≥ 0, as torch.optim (η = 0 starts a warm-up: the momentum and the step count advance).
    val sgd:
      learningRate: float -> momentum: float -> nesterov: bool -> weightDecay: float ->
        parameters: Tensor array -> gradients: Tensor array -> state: OptimizerState -> Tensor array * OptimizerState

    /// Adam (decoupled = false: weight decay added to the gradient, as torch.optim.Adam) or AdamW (decoupled:
    /// p ← p·(1 − η·λ) first). m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², p ← p − η·m̂/(√v̂ + ε) with
    /// m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ), computed in torch.optim's order, p − (η/c₁)·m/(√v/√c₂ + ε) (v/c₂ itself
    /// would overflow for |g| near 1e155 where √v/√c₂ does not). η ≥ 0 and ε ≥ 0, as torch.optim.
    val adam:
      decoupled: bool -> learningRate: float -> beta1: float -> beta2: float -> epsilon: float -> weightDecay: float ->
        parameters: Tensor array -> gradients: Tensor array -> state: OptimizerState -> Tensor array * OptimizerState

    /// The gradients scaled by min(1, maxNorm/(‖g‖ + 1e-6)) with ‖g‖ the 2-norm over all of them together
    /// (torch.nn.utils.clip_grad_norm_'s rule), and that norm: computed without overflow or underflow (torch's sum
    /// of squares overflows from |g| ≈ 1e154). maxNorm = ∞ clips nothing, whatever the gradients hold (torch's
    /// ∞/(∞ + 1e-6) makes every gradient NaN where the norm is ∞ or NaN). Under a finite
    /// maxNorm a non-finite norm scales as torch's default does: by 0 where the norm is ∞ (an ∞ element becomes NaN),
    /// by NaN where it is NaN.
    val clipByNorm: maxNorm: float -> gradients: Tensor array -> Tensor array * float
