namespace Functional;

/// <summary>Which GELU to compute.</summary>
public enum GeluApproximation
{
    /// <summary>Exact: x·Φ(x), computed from x itself (full precision in both tails).</summary>
    None = 0,
    /// <summary>0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))), computed as x·σ(2u).</summary>
    Tanh = 1,
}

/// <summary>The derivative assigned to Leaky ReLU at exactly 0, where it does not exist.</summary>
public enum KinkConvention
{
    /// <summary>1, the right derivative: the seed notes' choice and JAX's (the default).</summary>
    RightDerivative = 0,
    /// <summary>α, the left derivative: TorchSharp's (and PyTorch's) choice.</summary>
    LeftDerivative = 1,
    /// <summary>(1 + α)/2, the mean of both sides: DiffSharp's choice.</summary>
    Midpoint = 2,
}
