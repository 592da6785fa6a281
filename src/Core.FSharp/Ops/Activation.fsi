namespace Functional.Core

/// <summary>
/// Activations. Values and derivatives at ±0, ±∞ and NaN are documented per function.
/// </summary>
/// <example>
/// <code lang="fsharp">
/// let x = Value.constant (Tensor.random 1 [| 6 |])
/// let y = Activation.leakyReluWith 0.01 KinkConvention.LeftDerivative (Activation.gelu x)
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Activation =

    /// The slope of Leaky ReLU at v under a convention.
    val leakyReluSlope:
      alpha: double -> convention: KinkConvention -> v: double -> float

    /// ReLU max(x, 0). d/dx = 1 for x > 0, 0 for x ≤ 0 (0 at the kink). ReLU(±∞) = ∞/0, ReLU(NaN) = NaN, derivative at NaN is NaN.
    /// Forward and pullback are one branch-free pass each; on a reverse-mode tape a large forward keeps the slopes
    /// as one bit per element, which the pullback reads instead of x (the same values, less memory read).
    val relu: x: Value -> Value

    /// Leaky ReLU: x for x > 0, α·x for x < 0. d/dx = 1 (x > 0), α (x < 0), and at x = ±0 the
    /// convention's value (default 1). Values at ±∞ are ±∞·slope; NaN gives NaN for value and derivative.
    /// With α = 0 it is ReLU with the convention's derivative at 0: 0 below 0, at −∞ too (not 0·(−∞) = NaN).
    /// Forward and pullback are one branch-free pass each; on a reverse-mode tape a large forward keeps the slopes
    /// as one bit per element, which the pullback reads instead of x (the same values, less memory read).
    val leakyReluWith:
      alpha: double -> convention: KinkConvention -> x: Value -> Value

    /// An op with Leaky ReLU's slopes (1 above 0, α below, the convention's at ±0) and the value `form` writes; on a
    /// reverse-mode tape a large forward keeps the slopes as bits for its pullback. ReLU, Leaky ReLU and |x|.
    val internal leakySlopesOp:
      name: string -> attributes: (string * obj) list -> alpha: double -> convention: KinkConvention ->
        form: Functional.Kernels.SlopeBits.Form -> x: Value -> Value

    /// Leaky ReLU with the right derivative at 0 (1: the original derivation notes' convention).
    val leakyRelu: alpha: double -> x: Value -> Value

    /// Exact GELU x·Φ(x), computed from x itself (no 1 + erf): full precision in both tails.
    /// d/dx = Φ(x) + x·φ(x); d²/dx² = φ(x)·(2 − x²).
    /// GELU(±0) = ±0, GELU(+∞) = +∞, GELU(−∞) = −0, GELU(NaN) = NaN; derivative 1/2 at 0, 1 at +∞, 0 at −∞.
    /// On a reverse-mode tape the vector path computes GELU' with the value (sharing exp(−x²/2) and the
    /// Mills ratio) and keeps it for the pullback, which is then one multiplication.
    val gelu: x: Value -> Value

    /// The tanh approximation 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) computed as x·σ(2u) with 2u carried in
    /// two parts: no cancellation, overflow or NaN for finite x, and the tail keeps its digits.
    /// d/dx = σ(2u) + x·σ(2u)·σ(−2u)·2u', u' = √(2/π)(1 + 3·0.044715x²). With AVX2 and FMA four lanes at a time
    /// (the vector exponential); on a reverse-mode tape the derivative comes with the value, as for `gelu`.
    /// Every higher derivative is finite at every non-NaN x, ±∞ included, and 0 beyond ±30.
    val geluTanh: x: Value -> Value

    /// softplus(x) = ln(1 + eˣ), a smooth ReLU. d/dx = σ(x), so every order follows from σ's. Exact for every x, where
    /// PyTorch's default returns x beyond x = 20 (a difference of up to e⁻²⁰ ≈ 2·10⁻⁹).
    /// softplus(+∞) = +∞, softplus(−∞) = 0, NaN gives NaN. With AVX2 and FMA one pass of the vector exponential
    /// and logarithm (within a few ulp of the scalar formula); on a reverse-mode tape σ comes with the value, from
    /// the same e^(−|x|), and is kept for the pullback, which is then one multiplication.
    val softplus: x: Value -> Value

    /// SiLU (swish) x·σ(x). d/dx = σ(x)·(1 + x·(1 − σ(x))); d²/dx² = σ(x)·(1 − σ(x))·(2 + x·(1 − 2σ(x))).
    /// With AVX2 and FMA σ comes from the vector exponential (as `Elementwise.sigmoid`, within 3 ulp) in the same
    /// pass as the value, and on a reverse-mode tape the derivative comes with the value and is kept for the
    /// pullback, which is then one multiplication. At ±∞ the limits, where the formulas are ∞·0: SiLU(−∞) = −0 with
    /// slope 0, SiLU(+∞) = +∞ with slope 1 (PyTorch's is NaN at −∞ and its slope NaN at both); the second derivative
    /// there is NaN.
    val silu: x: Value -> Value
