namespace Functional.Core

/// <summary>
/// Normalisation along the last axis, one fused pass per row each way (`Functional.Kernels.LayerNorm`): the rows'
/// means are sums in the fixed order of every other sum, so the bits are the same on every vector width.
/// </summary>
/// <example>
/// <code lang="fsharp">
/// let x = Value.constant (Tensor.random 1 [| 4; 16 |])
/// let y = Normalization.layerNorm 1e-5 x                // each row: mean 0, variance about 1
/// </code>
/// </example>
[<RequireQualifiedAccess>]
module Normalization =

    /// (x − μ)·r along the last axis, μ each row's mean and r = 1/√(var + ε) with var its biased variance (PyTorch's
    /// layer_norm without the affine part). μ is corrected by a second pass (a constant row gives 0, NaN with ε = 0),
    /// and a row of finite entries whose sums overflow is normalised from its entries scaled down (rows near 1e308, or
    /// spread past 1e154, where PyTorch's is NaN or 0). VJP and JVP: r·(v − mean v − y·mean(y·v)) for an adjoint or tangent v
    /// (the Jacobian is symmetric), one op (`layerNormVjp`). ShapeException for a scalar; ArgumentException for ε
    /// negative, infinite or NaN.
    val layerNorm: epsilon: double -> x: Value -> Value

    /// layerNorm's VJP as one op, z = r·(g − mean g − y·mean(g·y)) from its input x, output y and an adjoint g (r
    /// recomputed from x), still differentiable: ḡ is this op again; ȳ = −r·(u·mean(g·y) + g·mean(u·y));
    /// x̄ = −r³·mean(u·h)·(x − μ) with h = g − mean g − y·mean(g·y).
    val internal layerNormVjp: epsilon: double -> x: Value -> y: Value -> g: Value -> Value
