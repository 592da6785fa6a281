namespace Functional;

/// <summary>Which GELU to compute.</summary>
public enum GeluApproximation
{
    /// <summary>Exact: x·Φ(x), computed from x itself (full precision in both tails).</summary>
    None = 0,
    /// <summary>0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))), computed as x·σ(2u).</summary>
    Tanh = 1,
}

/// <summary>
/// The derivative assigned where a function has a kink (Leaky ReLU and ELU at 0, |x| at 0, clamp at its bounds, a tie
/// in maximum or minimum): the right derivative, the left one, or their mean. Each op documents its default; the
/// README's kink table shows what PyTorch, JAX and DiffSharp assign.
/// </summary>
public enum KinkConvention
{
    /// <summary>The right derivative (Leaky ReLU: 1, the original derivation notes' and JAX's choice; |x|: 1, JAX's).</summary>
    RightDerivative = 0,
    /// <summary>The left derivative (Leaky ReLU and ELU: α, TorchSharp's choice; |x|: −1).</summary>
    LeftDerivative = 1,
    /// <summary>The mean of both sides (Leaky ReLU: (1 + α)/2, DiffSharp's; |x|: 0 and a tie: ½ each, TorchSharp's).</summary>
    Midpoint = 2,
}
