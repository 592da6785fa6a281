using System.Reflection;
using System.Text;
using Functional.CrossCheck;
using Microsoft.FSharp.Core;
using TorchSharp;
using Xunit;
using TT = TorchSharp.torch.Tensor;

namespace Functional.Facade.Tests;

/// <summary>
/// One row per facade op: its derivative, its kink convention, the TorchSharp function it is checked against, and the
/// check itself (value and gradient under TorchSharp autograd). Reflection finds every public op of Tensor, Linalg and
/// Loss; one without a row fails. The README's op table is rendered from these rows.
/// </summary>
public class OpTableTests
{
    public sealed record Row(string Key, string Derivative, string Kink, string TorchSharp, Func<Tensor[], Tensor> Ours, Func<TT[], TT> Theirs, params Tensor[] Inputs);

    private static Tensor R(int seed, params int[] shape) => Tensor.Random(seed, shape);
    private static Tensor Positive(int seed, params int[] shape) => R(seed, shape).Abs() + 0.5;
    private static Tensor Unit(int seed, params int[] shape) => R(seed, shape).Tanh() * 0.9;
    private static TT F(torch.Tensor t) => t.to_type(torch.ScalarType.Float64);
    private static TT Spd(TT m) => torch.einsum("ij,kj->ik", m, m) + torch.eye(m.shape[0], m.shape[0], torch.ScalarType.Float64) * m.shape[0];
    private static Tensor Spd(Tensor m) => m.MatMul(m.Transpose()) + Tensor.Eye(m.Shape[0]) * m.Shape[0];
    private static TT Cond(TT a) => a + torch.eye(a.shape[^1], a.shape[^1], torch.ScalarType.Float64) * 3.0;
    private static Tensor Cond(Tensor a) => a + Tensor.Eye(a.Shape[^1]) * 3;
    private static readonly int[] Labels = { 2, 0, 1, 2 };
    private static TT LabelsT() => torch.tensor(Labels.Select(l => (long)l).ToArray());
    private static readonly double[] ClassWeights = { 0.5, 2.0, 1.5 };
    private static Tensor WeightsOf() => Tensor.FromArray(ClassWeights, 3);
    private static TT WeightsT() => torch.tensor(ClassWeights);

    public static readonly Row[] Rows =
    {
        new("Tensor.op_Addition(Tensor, Tensor)", "∂/∂a = 1, ∂/∂b = 1 (summed over broadcast axes)", "", "+", x => x[0] + x[1], t => t[0] + t[1], R(1, 3, 4), R(2, 4)),
        new("Tensor.op_Addition(Tensor, Double)", "1", "", "+", x => x[0] + 2.5, t => t[0] + 2.5, R(1, 3)),
        new("Tensor.op_Addition(Double, Tensor)", "1", "", "+", x => 2.5 + x[0], t => 2.5 + t[0], R(1, 3)),
        new("Tensor.op_Subtraction(Tensor, Tensor)", "∂/∂a = 1, ∂/∂b = −1", "", "−", x => x[0] - x[1], t => t[0] - t[1], R(1, 3, 4), R(2, 3, 1)),
        new("Tensor.op_Subtraction(Tensor, Double)", "1", "", "−", x => x[0] - 2.5, t => t[0] - 2.5, R(1, 3)),
        new("Tensor.op_Subtraction(Double, Tensor)", "−1", "", "−", x => 2.5 - x[0], t => 2.5 - t[0], R(1, 3)),
        new("Tensor.op_Multiply(Tensor, Tensor)", "∂/∂a = b, ∂/∂b = a", "", "*", x => x[0] * x[1], t => t[0] * t[1], R(1, 3, 4), R(2, 4)),
        new("Tensor.op_Multiply(Tensor, Double)", "c", "", "*", x => x[0] * 2.5, t => t[0] * 2.5, R(1, 3)),
        new("Tensor.op_Multiply(Double, Tensor)", "c", "", "*", x => 2.5 * x[0], t => 2.5 * t[0], R(1, 3)),
        new("Tensor.op_Division(Tensor, Tensor)", "∂/∂a = 1/b, ∂/∂b = −a/b²", "", "/", x => x[0] / x[1], t => t[0] / t[1], R(1, 3, 4), Positive(2, 4)),
        new("Tensor.op_Division(Tensor, Double)", "1/c", "", "/", x => x[0] / 2.5, t => t[0] / 2.5, R(1, 3)),
        new("Tensor.op_Division(Double, Tensor)", "−c/x²", "", "/", x => 2.5 / x[0], t => 2.5 / t[0], Positive(1, 3)),
        new("Tensor.op_UnaryNegation(Tensor)", "−1", "", "neg", x => -x[0], t => -t[0], R(1, 3)),
        new("Tensor.get_Item(TensorIndex[])", "the adjoint written into zeros at the slice", "", "select, narrow", x => x[0][.., 1] + x[0][1..^1, 2..].Sum() + x[0][^1].Sum(),
            t => t[0].select(1, 1) + t[0].narrow(0, 1, 2).narrow(1, 2, 2).sum() + t[0].select(0, 3).sum(), R(1, 4, 4)),
        new("Tensor.Sum()", "1", "", "sum", x => x[0].Sum(), t => t[0].sum(), R(1, 3, 4)),
        new("Tensor.Sum(Int32[])", "1, broadcast back", "", "sum(dims)", x => x[0].Sum(0), t => t[0].sum(new long[] { 0 }), R(1, 3, 4)),
        new("Tensor.Sum(Int32[], Boolean)", "1, broadcast back", "", "sum(dims, keepdim)", x => x[0].Sum(new[] { -1 }, true), t => t[0].sum(new long[] { -1 }, true), R(1, 3, 4)),
        new("Tensor.Mean()", "1/n", "", "mean", x => x[0].Mean(), t => t[0].mean(), R(1, 3, 4)),
        new("Tensor.Mean(Int32[])", "1/n along the axes", "", "mean(dims)", x => x[0].Mean(1), t => t[0].mean(new long[] { 1 }), R(1, 3, 4)),
        new("Tensor.Mean(Int32[], Boolean)", "1/n along the axes", "", "mean(dims, keepdim)", x => x[0] - x[0].Mean(new[] { -1 }, true), t => t[0] - t[0].mean(new long[] { -1 }, true), R(1, 4, 4)),
        new("Tensor.Exp()", "eˣ", "", "exp", x => x[0].Exp(), t => t[0].exp(), R(1, 3)),
        new("Tensor.Log()", "1/x", "", "log", x => x[0].Log(), t => t[0].log(), Positive(1, 3)),
        new("Tensor.Sqrt()", "1/(2√x)", "", "sqrt", x => x[0].Sqrt(), t => t[0].sqrt(), Positive(1, 3)),
        new("Tensor.Pow(Double)", "p·xᵖ⁻¹", "", "pow", x => x[0].Pow(2.5), t => t[0].pow(2.5), Positive(1, 3)),
        new("Tensor.Tanh()", "1 − tanh²x", "", "tanh", x => x[0].Tanh(), t => t[0].tanh(), R(1, 3)),
        new("Tensor.Sigmoid()", "σ(x)(1 − σ(x))", "", "sigmoid", x => x[0].Sigmoid(), t => t[0].sigmoid(), R(1, 3)),
        new("Tensor.Softplus()", "σ(x)", "", "softplus", x => x[0].Softplus(), t => torch.nn.functional.softplus(t[0]), R(1, 3)),
        new("Tensor.Relu()", "1 (x > 0), 0 (x < 0)", "0 at 0 (as TorchSharp, JAX)", "relu", x => x[0].Relu(), t => torch.nn.functional.relu(t[0]), R(1, 3)),
        new("Tensor.Gelu()", "Φ(x) + x·φ(x)", "", "gelu", x => x[0].Gelu(), t => torch.nn.functional.gelu(t[0]), R(1, 3)),
        new("Tensor.Gelu(GeluApproximation)", "σ(2u) + x·σ(2u)σ(−2u)·2u′ (tanh form)", "", "gelu(approximate: tanh)", x => x[0].Gelu(GeluApproximation.Tanh),
            t => torch.nn.functional.gelu(t[0], TorchSharp.Modules.GELU.Approximate.tanh), R(1, 3)),
        new("Tensor.LeakyRelu(Double)", "1 (x > 0), α (x < 0)", "1 at 0 (right; TorchSharp: α)", "leaky_relu", x => x[0].LeakyRelu(0.1), t => torch.nn.functional.leaky_relu(t[0], 0.1), R(1, 3)),
        new("Tensor.LeakyRelu(Double, KinkConvention)", "1 (x > 0), α (x < 0)", "chosen: 1, α or (1 + α)/2", "leaky_relu", x => x[0].LeakyRelu(0.1, KinkConvention.LeftDerivative), t => torch.nn.functional.leaky_relu(t[0], 0.1), R(1, 3)),
        new("Tensor.Softmax(Int32)", "y·(ḡ − Σ ḡ·y)", "", "softmax", x => x[0].Softmax(1), t => torch.nn.functional.softmax(t[0], 1), R(1, 3, 4)),
        new("Tensor.LogSoftmax(Int32)", "ḡ − softmax(x)·Σ ḡ", "", "log_softmax", x => x[0].LogSoftmax(1), t => torch.nn.functional.log_softmax(t[0], 1), R(1, 3, 4)),
        new("Tensor.MatMul(Tensor)", "the index-set rule: ∇A = G·Bᵀ, ∇B = Aᵀ·G", "", "matmul", x => x[0].MatMul(x[1]), t => torch.matmul(t[0], t[1]), R(1, 3, 4), R(2, 4, 2)),
        new("Tensor.MatMul(Tensor)", "matrix·vector", "", "matmul", x => x[0].MatMul(x[1]), t => torch.matmul(t[0], t[1]), R(1, 3, 4), R(2, 4)),
        new("Tensor.MatMul(Tensor)", "vector·matrix", "", "matmul", x => x[0].MatMul(x[1]), t => torch.matmul(t[0], t[1]), R(1, 4), R(2, 4, 3)),
        new("Tensor.MatMul(Tensor)", "vector·vector", "", "matmul", x => x[0].MatMul(x[1]), t => torch.matmul(t[0], t[1]), R(1, 4), R(2, 4)),
        new("Tensor.MatMul(Tensor)", "batched, broadcast", "", "matmul", x => x[0].MatMul(x[1]), t => torch.matmul(t[0], t[1]), R(1, 2, 1, 3, 4), R(2, 3, 4, 2)),
        new("Tensor.Reshape(Int32[])", "reshaped back", "", "reshape", x => x[0].Reshape(4, -1), t => t[0].reshape(4, -1), R(1, 2, 6)),
        new("Tensor.Transpose(Int32[])", "permuted back", "", "permute", x => x[0].Transpose(2, 0, 1), t => t[0].permute(2, 0, 1), R(1, 2, 3, 4)),
        new("Tensor.Transpose(Int32, Int32)", "swapped back", "", "transpose", x => x[0].Transpose(0, -1), t => t[0].transpose(0, 2), R(1, 2, 3, 4)),
        new("Tensor.Permute(Int32[])", "permuted back", "", "permute", x => x[0].Permute(2, 0, -2), t => t[0].permute(2, 0, 1), R(1, 2, 3, 4)),
        new("Tensor.Sin()", "cos x", "", "sin", x => x[0].Sin(), t => t[0].sin(), R(1, 3)),
        new("Tensor.Cos()", "−sin x", "", "cos", x => x[0].Cos(), t => t[0].cos(), R(1, 3)),
        new("Tensor.Tan()", "1 + tan²x", "", "tan", x => x[0].Tan(), t => t[0].tan(), Unit(1, 3)),
        new("Tensor.Asin()", "1/√(1 − x²)", "", "asin", x => x[0].Asin(), t => t[0].asin(), Unit(1, 3)),
        new("Tensor.Acos()", "−1/√(1 − x²)", "", "acos", x => x[0].Acos(), t => t[0].acos(), Unit(1, 3)),
        new("Tensor.Atan()", "1/(1 + x²)", "", "atan", x => x[0].Atan(), t => t[0].atan(), R(1, 3)),
        new("Tensor.Sinh()", "cosh x", "", "sinh", x => x[0].Sinh(), t => t[0].sinh(), R(1, 3)),
        new("Tensor.Cosh()", "sinh x", "", "cosh", x => x[0].Cosh(), t => t[0].cosh(), R(1, 3)),
        new("Tensor.Log1p()", "1/(1 + x)", "", "log1p", x => x[0].Log1p(), t => t[0].log1p(), Positive(1, 3)),
        new("Tensor.Expm1()", "eˣ", "", "expm1", x => x[0].Expm1(), t => t[0].expm1(), R(1, 3)),
        new("Tensor.Erf()", "(2/√π)e^(−x²)", "", "special.erf", x => x[0].Erf(), t => torch.special.erf(t[0]), R(1, 3)),
        new("Tensor.Erfc()", "−(2/√π)e^(−x²)", "", "special.erfc", x => x[0].Erfc(), t => torch.special.erfc(t[0]), R(1, 3)),
        new("Tensor.Reciprocal()", "−1/x²", "", "reciprocal", x => x[0].Reciprocal(), t => t[0].reciprocal(), Positive(1, 3)),
        new("Tensor.Square()", "2x", "", "square", x => x[0].Square(), t => t[0].square(), R(1, 3)),
        new("Tensor.Sign()", "0 (a constant)", "", "sign", x => x[0].Sign() * x[0], t => t[0].sign() * t[0], R(1, 3)),
        new("Tensor.Silu()", "σ(x)(1 + x(1 − σ(x)))", "", "silu", x => x[0].Silu(), t => torch.nn.functional.silu(t[0]), R(1, 3)),
        new("Tensor.Abs()", "sign x", "0 at 0 (midpoint; as TorchSharp, DiffSharp; JAX: 1)", "abs", x => x[0].Abs(), t => t[0].abs(), R(1, 3)),
        new("Tensor.Abs(KinkConvention)", "sign x", "chosen: 1, −1 or 0", "abs", x => x[0].Abs(KinkConvention.RightDerivative), t => t[0].abs(), R(1, 3)),
        new("Tensor.Maximum(Tensor)", "1 to the larger", "½ each at a tie (as TorchSharp, JAX, DiffSharp)", "maximum", x => x[0].Maximum(x[1]), t => torch.maximum(t[0], t[1]), R(1, 3, 4), R(2, 4)),
        new("Tensor.Maximum(Tensor, KinkConvention)", "1 to the larger", "chosen: ½ (midpoint), 1 (right) or 0 (left) each at a tie", "maximum", x => x[0].Maximum(x[1], KinkConvention.RightDerivative), t => torch.maximum(t[0], t[1]), R(1, 3, 4), R(2, 4)),
        new("Tensor.Minimum(Tensor)", "1 to the smaller", "½ each at a tie", "minimum", x => x[0].Minimum(x[1]), t => torch.minimum(t[0], t[1]), R(1, 3, 4), R(2, 3, 1)),
        new("Tensor.Minimum(Tensor, KinkConvention)", "1 to the smaller", "chosen: ½ (midpoint), 0 (right) or 1 (left) each at a tie", "minimum", x => x[0].Minimum(x[1], KinkConvention.LeftDerivative), t => torch.minimum(t[0], t[1]), R(1, 3, 4), R(2, 3, 1)),
        new("Tensor.Clamp(Double, Double)", "1 inside, 0 outside", "½ at each bound (as jnp.clip; TorchSharp: 1)", "clamp", x => x[0].Clamp(-0.5, 0.5), t => t[0].clamp(-0.5, 0.5), R(1, 3, 4)),
        new("Tensor.Clamp(Double, Double, KinkConvention)", "1 inside, 0 outside", "chosen at each bound", "clamp", x => x[0].Clamp(-0.5, 0.5, KinkConvention.LeftDerivative), t => t[0].clamp(-0.5, 0.5), R(1, 3, 4)),
        new("Tensor.HardTanh()", "1 inside (−1, 1), 0 outside", "½ at ±1 (TorchSharp: 0; JAX: 1)", "clamp(−1, 1) (its hardtanh returns the input unchanged in 0.107)", x => x[0].HardTanh(), t => t[0].clamp(-1.0, 1.0), R(1, 3, 4) * 2),
        new("Tensor.Elu(Double)", "1 (x > 0), α·eˣ (x < 0)", "α at 0 (left; as TorchSharp, JAX)", "elu", x => x[0].Elu(0.7), t => torch.nn.functional.elu(t[0], 0.7), R(1, 3, 4)),
        new("Tensor.Elu(Double, KinkConvention)", "1 (x > 0), α·eˣ (x < 0)", "chosen: α, 1 or (1 + α)/2", "elu", x => x[0].Elu(0.7, KinkConvention.RightDerivative), t => torch.nn.functional.elu(t[0], 0.7), R(1, 3, 4)),
        new("Tensor.GreaterThan(Tensor)", "0 (a constant mask)", "", "gt", x => x[0].GreaterThan(x[1]) * x[0], t => F(t[0].gt(t[1])) * t[0], R(1, 3, 4), R(2, 4)),
        new("Tensor.GreaterThanOrEqual(Tensor)", "0 (a constant mask)", "", "ge", x => x[0].GreaterThanOrEqual(x[1]) * x[0], t => F(t[0].ge(t[1])) * t[0], R(1, 3, 4), R(2, 4)),
        new("Tensor.LessThan(Tensor)", "0 (a constant mask)", "", "lt", x => x[0].LessThan(x[1]) * x[0], t => F(t[0].lt(t[1])) * t[0], R(1, 3, 4), R(2, 4)),
        new("Tensor.LessThanOrEqual(Tensor)", "0 (a constant mask)", "", "le", x => x[0].LessThanOrEqual(x[1]) * x[0], t => F(t[0].le(t[1])) * t[0], R(1, 3, 4), R(2, 4)),
        new("Tensor.EqualTo(Tensor)", "0 (a constant mask)", "", "eq", x => x[0].EqualTo(x[0].Relu()) * x[0], t => F(t[0].eq(torch.nn.functional.relu(t[0]))) * t[0], R(1, 3, 4)),
        new("Tensor.HardTanh(KinkConvention)", "1 inside (−1, 1), 0 outside", "chosen at ±1", "clamp(−1, 1)", x => x[0].HardTanh(KinkConvention.RightDerivative), t => t[0].clamp(-1.0, 1.0), R(1, 3, 4) * 2),
        new("Tensor.Relu(KinkConvention)", "1 (x > 0), 0 (x < 0)", "chosen: 0, 1 or ½", "relu", x => x[0].Relu(KinkConvention.Midpoint), t => torch.nn.functional.relu(t[0]), R(1, 3)),
        new("Tensor.Max()", "1 to the largest", "1/k each at a tie of k (midpoint; as TorchSharp's amax, JAX)", "amax", x => x[0].Max(), t => t[0].amax(new long[] { 0, 1 }), R(1, 3, 4)),
        new("Tensor.Max(Int32[], Boolean)", "1 to the largest of each run", "1/k each at a tie of k", "amax(dims, keepdim)", x => x[0].Max(new[] { 1 }, true), t => t[0].amax(new long[] { 1 }, true), R(1, 3, 4)),
        new("Tensor.Max(Int32[], Boolean, KinkConvention)", "1 to the largest of each run", "chosen: 1/k (midpoint), 1 (right) or 0 (left) each", "amax(dims)", x => x[0].Max(new[] { 0 }, false, KinkConvention.RightDerivative), t => t[0].amax(new long[] { 0 }), R(1, 3, 4)),
        new("Tensor.Min()", "1 to the smallest", "1/k each at a tie of k", "amin", x => x[0].Min(), t => t[0].amin(new long[] { 0, 1 }), R(1, 3, 4)),
        new("Tensor.Min(Int32[], Boolean)", "1 to the smallest of each run", "1/k each at a tie of k", "amin(dims, keepdim)", x => x[0].Min(new[] { -1 }, false), t => t[0].amin(new long[] { -1 }), R(1, 3, 4)),
        new("Tensor.Min(Int32[], Boolean, KinkConvention)", "1 to the smallest of each run", "chosen: 1/k (midpoint), 0 (right) or 1 (left) each", "amin(dims)", x => x[0].Min(new[] { 0 }, true, KinkConvention.LeftDerivative), t => t[0].amin(new long[] { 0 }, true), R(1, 3, 4)),
        new("Tensor.Select(Int32, Int32)", "the adjoint written into zeros at the entry", "", "select", x => x[0].Select(1, -1), t => t[0].select(1, -1), R(1, 3, 4)),
        new("Linalg.SolveTriangular(Tensor, Tensor, Boolean)", "B̄ = T⁻ᵀ·Ḡ, Ā = −B̄·Xᵀ masked to the triangle T (summed over broadcast batch dimensions)", "", "linalg.solve_triangular", x => Linalg.SolveTriangular(Cond(x[0]), x[1], true),
            t => torch.linalg.solve_triangular(Cond(t[0]), t[1], upper: true), R(1, 3, 3), R(2, 2, 3, 2)),
        new("Tensor.Gather(Int32, Tensor)", "a scatter-add of the adjoint", "", "gather", x => x[0].Gather(1, Tensor.FromArray(new double[] { 3, 0, 0, 1, 2, 2 }, 2, 3)),
            t => t[0].gather(1, torch.tensor(new long[] { 3, 0, 0, 1, 2, 2 }, new long[] { 2, 3 })), R(1, 2, 4)),
        new("Tensor.ScatterAdd(Int32, Tensor, Int32[])", "a gather of the adjoint", "", "scatter_add", x => x[0].ScatterAdd(1, Tensor.FromArray(new double[] { 3, 0, 0, 1, 2, 2 }, 2, 3), 2, 4),
            t => torch.zeros(new long[] { 2, 4 }, torch.ScalarType.Float64).scatter_add(1, torch.tensor(new long[] { 3, 0, 0, 1, 2, 2 }, new long[] { 2, 3 }), t[0]), R(1, 2, 3)),
        new("Tensor.Narrow(Int32, Int32, Int32)", "the adjoint written into zeros (pad)", "", "narrow", x => x[0].Narrow(1, 1, 2), t => t[0].narrow(1, 1, 2), R(1, 3, 4)),
        new("Tensor.Concat(Int32, Tensor[])", "each input's slice of the adjoint", "", "cat", x => Tensor.Concat(0, x), t => torch.cat(t, 0), R(1, 2, 4), R(2, 3, 4)),
        new("Tensor.Stack(Int32, Tensor[])", "each input's slice of the adjoint", "", "stack", x => Tensor.Stack(1, x), t => torch.stack(t, 1), R(1, 2, 4), R(2, 2, 4)),
        new("Tensor.Split(Int32, Int32[])", "the parts' adjoints joined", "", "split", x => x[0].Split(1, 1, 3)[1], t => t[0].narrow(1, 1, 3), R(1, 2, 4)),
        new("Tensor.Unsqueeze(Int32)", "reshaped back", "", "unsqueeze", x => x[0].Unsqueeze(1), t => t[0].unsqueeze(1), R(1, 2, 4)),
        new("Tensor.Squeeze(Int32[])", "reshaped back", "", "squeeze (an axis given whose length is not 1 is refused; torch leaves it)", x => x[0].Squeeze(), t => t[0].squeeze(), R(1, 2, 1, 4)),
        new("Tensor.Flip(Int32)", "flipped back", "", "flip", x => x[0].Flip(-1), t => t[0].flip(-1), R(1, 2, 4)),
        new("Tensor.IndexSelect(Int32, Int32[])", "a scatter-add of the adjoint (IndexAdd)", "", "index_select", x => x[0].IndexSelect(1, new[] { 3, 0, 3 }), t => t[0].index_select(1, torch.tensor(new long[] { 3, 0, 3 })), R(1, 2, 4)),
        new("Tensor.IndexAdd(Int32, Int32[], Int32)", "a gather of the adjoint (IndexSelect)", "", "index_add", x => x[0].IndexAdd(0, new[] { 1, 1, 0 }, 2),
            t => torch.zeros(new long[] { 2, 4 }, torch.ScalarType.Float64).index_add(0, torch.tensor(new long[] { 1, 1, 0 }), t[0], 1.0), R(1, 3, 4)),
        new("Tensor.Where(Tensor, Tensor, Tensor)", "the adjoint where each side was taken; none into the mask", "", "where", x => Tensor.Where(x[0].GreaterThan(Tensor.Scalar(0)), x[0], x[1]),
            t => torch.where(t[0].gt(0.0), t[0], t[1]), R(1, 3, 4), R(2, 4)),
        new("Tensor.BroadcastTo(Int32[])", "summed back", "", "expand", x => x[0].BroadcastTo(3, 4), t => t[0].expand(3, 4), R(1, 4)),
        new("Tensor.ArgMax(Int32)", "0 (indices are constants)", "first index at a tie", "argmax", x => x[0].ArgMax(1) + 0 * x[0].Sum(), t => F(t[0].argmax(1)) + 0 * t[0].sum(), R(1, 3, 4)),
        new("Tensor.ArgMin(Int32)", "0 (indices are constants)", "first index at a tie", "argmin", x => x[0].ArgMin(1) + 0 * x[0].Sum(), t => F(t[0].argmin(1)) + 0 * t[0].sum(), R(1, 3, 4)),
        new("Tensor.ZerosLike(Tensor)", "0", "", "zeros_like", x => Tensor.ZerosLike(x[0]) + x[0], t => torch.zeros_like(t[0]) + t[0], R(1, 3)),
        new("Tensor.OnesLike(Tensor)", "0", "", "ones_like", x => Tensor.OnesLike(x[0]) * x[0], t => torch.ones_like(t[0]) * t[0], R(1, 3)),
        new("Tensor.LayerNorm(Double)", "r·(ḡ − mean ḡ − y·mean(y·ḡ)), r = 1/√(var + ε)", "", "layer_norm", x => x[0].LayerNorm(1e-5), t => torch.nn.functional.layer_norm(t[0], new long[] { 4 }, eps: 1e-5), R(1, 3, 4)),
        new("Tensor.RmsNorm(Double)", "through the mean square", "", "x·rsqrt(mean(x²) + ε)", x => x[0].RmsNorm(1e-6), t => t[0] * (t[0].square().mean(new long[] { -1 }, true) + 1e-6).rsqrt(), R(1, 3, 4)),
        new("Linalg.Solve(Tensor, Tensor)", "B̄ = solve(Aᵀ, Ḡ), Ā = −B̄·Xᵀ (summed over broadcast batch dimensions)", "", "linalg.solve", x => Linalg.Solve(Cond(x[0]), x[1]), t => torch.linalg.solve(Cond(t[0]), t[1]), R(1, 2, 3, 3), R(2, 3, 2)),
        new("Linalg.Inverse(Tensor)", "−A⁻ᵀ·Ḡ·A⁻ᵀ", "", "linalg.inv", x => Linalg.Inverse(Cond(x[0])), t => torch.linalg.inv(Cond(t[0])), R(1, 3, 3)),
        new("Linalg.Det(Tensor)", "ḡ·adj(A)ᵀ (det A·A⁻ᵀ where invertible)", "", "linalg.det", x => Linalg.Det(Cond(x[0])), t => torch.linalg.det(Cond(t[0])), R(1, 2, 3, 3)),
        new("Linalg.LogDet(Tensor)", "A⁻ᵀ (of ln |det A|)", "", "linalg.slogdet", x => Linalg.LogDet(Cond(x[0]) * -1), t => torch.linalg.slogdet(Cond(t[0]) * -1).Item2, R(1, 3, 3)),
        new("Linalg.SignDet(Tensor)", "0 (a constant)", "", "linalg.slogdet", x => Linalg.SignDet(Cond(x[0]) * -1) * x[0].Sum(), t => torch.linalg.slogdet(Cond(t[0]) * -1).Item1 * t[0].sum(), R(1, 3, 3)),
        new("Linalg.Cholesky(Tensor)", "½(S + Sᵀ), S = L⁻ᵀΦ(LᵀL̄)L⁻¹", "", "linalg.cholesky", x => Linalg.Cholesky(Spd(x[0])), t => torch.linalg.cholesky(Spd(t[0])), R(1, 3, 3)),
        new("Linalg.Trace(Tensor)", "I", "", "trace", x => Linalg.Trace(x[0]), t => t[0].trace(), R(1, 3, 3)),
        new("Linalg.Norm(Tensor)", "x/‖x‖", "", "linalg.vector_norm", x => Linalg.Norm(x[0]), t => torch.linalg.vector_norm(t[0]), R(1, 3, 3)),
        new("Linalg.Norm(Tensor, Double)", "sign(x)|x|ᵖ⁻¹/‖x‖ₚᵖ⁻¹", "", "linalg.vector_norm(ord)", x => Linalg.Norm(x[0], 3), t => torch.linalg.vector_norm(t[0], 3), R(1, 3, 3)),
        new("Loss.Mse(Tensor, Tensor)", "2(p − t)/n", "", "mse_loss", x => Loss.Mse(x[0], x[1]), t => torch.nn.functional.mse_loss(t[0], t[1]), R(1, 4, 3), R(2, 4, 3)),
        new("Loss.L1(Tensor, Tensor)", "sign(p − t)/n", "0 where p = t (as TorchSharp)", "l1_loss", x => Loss.L1(x[0], x[1]), t => torch.nn.functional.l1_loss(t[0], t[1]), R(1, 4, 3), R(2, 4, 3)),
        new("Loss.Huber(Tensor, Tensor, Double)", "clamp(p − t, −δ, δ)/n", "continuous at |d| = δ", "huber_loss", x => Loss.Huber(x[0], x[1], 0.7), t => torch.nn.functional.huber_loss(t[0], t[1], delta: 0.7), R(1, 4, 3), R(2, 4, 3)),
        new("Loss.CrossEntropy(Tensor, Int32[])", "(softmax − onehot)/N", "", "cross_entropy", x => Loss.CrossEntropy(x[0], Labels), t => torch.nn.functional.cross_entropy(t[0], LabelsT()), R(1, 4, 3)),
        new("Loss.CrossEntropy(Tensor, Tensor)", "(softmax − p)/N", "", "cross_entropy (probabilities)", x => Loss.CrossEntropy(x[0], x[1].Softmax(1)),
            t => torch.nn.functional.cross_entropy(t[0], torch.nn.functional.softmax(t[1], 1)), R(1, 4, 3), R(2, 4, 3)),
        new("Loss.CrossEntropy(Tensor, Int32[], Tensor)", "w[y]·(softmax − onehot)/Σ w[y]", "", "cross_entropy(weight)", x => Loss.CrossEntropy(x[0], Labels, WeightsOf()),
            t => torch.nn.functional.cross_entropy(t[0], LabelsT(), WeightsT()), R(1, 4, 3)),
        new("Loss.CrossEntropy(Tensor, Int32[], Int32)", "(softmax − onehot)/K over the K rows kept", "", "cross_entropy(ignore_index)", x => Loss.CrossEntropy(x[0], Labels, 1),
            t => torch.nn.functional.cross_entropy(t[0], LabelsT(), ignore_index: 1), R(1, 4, 3)),
        new("Loss.CrossEntropy(Tensor, Int32[], Tensor, Int32)", "w[y]·(softmax − onehot)/Σ w[y] over the rows kept", "", "cross_entropy(weight, ignore_index)", x => Loss.CrossEntropy(x[0], Labels, WeightsOf(), 0),
            t => torch.nn.functional.cross_entropy(t[0], LabelsT(), WeightsT(), ignore_index: 0), R(1, 4, 3)),
        new("Loss.Nll(Tensor, Int32[], Tensor)", "−w[y]·onehot/Σ w[y]", "", "nll_loss(weight)", x => Loss.Nll(x[0].LogSoftmax(1), Labels, WeightsOf()),
            t => torch.nn.functional.nll_loss(torch.nn.functional.log_softmax(t[0], 1), LabelsT(), WeightsT()), R(1, 4, 3)),
        new("Loss.Nll(Tensor, Int32[], Int32)", "−onehot/K over the K rows kept", "", "cross_entropy(ignore_index) (TorchSharp 0.107's nll_loss has no ignore_index)", x => Loss.Nll(x[0].LogSoftmax(1), Labels, 2),
            t => torch.nn.functional.cross_entropy(t[0], LabelsT(), ignore_index: 2), R(1, 4, 3)),
        new("Loss.Nll(Tensor, Int32[], Tensor, Int32)", "−w[y]·onehot/Σ w[y] over the rows kept", "", "cross_entropy(weight, ignore_index)", x => Loss.Nll(x[0].LogSoftmax(1), Labels, WeightsOf(), 1),
            t => torch.nn.functional.cross_entropy(t[0], LabelsT(), WeightsT(), ignore_index: 1), R(1, 4, 3)),
        new("Loss.Nll(Tensor, Int32[])", "−onehot/N", "", "nll_loss", x => Loss.Nll(x[0].LogSoftmax(1), Labels), t => torch.nn.functional.nll_loss(torch.nn.functional.log_softmax(t[0], 1), LabelsT()), R(1, 4, 3)),
        new("Loss.BinaryCrossEntropyWithLogits(Tensor, Tensor)", "(σ(x) − y)/n", "", "binary_cross_entropy_with_logits", x => Loss.BinaryCrossEntropyWithLogits(x[0], x[1].Sigmoid()),
            t => torch.nn.functional.binary_cross_entropy_with_logits(t[0], t[1].sigmoid()), R(1, 4, 3), R(2, 4, 3)),
        new("Loss.OneHot(Int32[], Int32)", "0 (a constant)", "", "one_hot", x => Loss.OneHot(Labels, 3) * x[0], t => F(torch.nn.functional.one_hot(LabelsT(), 3)) * t[0], R(1, 4, 3)),
    };

    private static string KeyOf(MethodInfo m) => $"{m.DeclaringType!.Name}.{m.Name}({string.Join(", ", m.GetParameters().Select(p => p.ParameterType.Name))})";

    /// <summary>The public ops: methods of Tensor, Linalg and Loss that return a tensor from tensors.</summary>
    public static string[] PublicOps() =>
        new[] { typeof(Tensor), typeof(Linalg), typeof(Loss) }
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Where(m => (m.ReturnType == typeof(Tensor) || m.ReturnType == typeof(Tensor[]))
                        && (!m.IsStatic || m.GetParameters().Any(p => p.ParameterType == typeof(Tensor) || p.ParameterType == typeof(Tensor[]) || p.ParameterType == typeof(int[]) && m.DeclaringType == typeof(Loss))))
            .Select(KeyOf).Distinct().OrderBy(k => k, StringComparer.Ordinal).ToArray();

    [Fact]
    public void Every_public_op_has_a_TorchSharp_check()
    {
        var ops = PublicOps();
        Assert.True(ops.Length > 90, $"only {ops.Length} ops found");
        var missing = ops.Where(k => Rows.All(r => r.Key != k)).ToArray();
        Assert.True(missing.Length == 0, "ops with no TorchSharp check in OpTableTests.Rows: " + string.Join(", ", missing));
        var stale = Rows.Select(r => r.Key).Distinct().Where(k => !ops.Contains(k)).ToArray();
        Assert.True(stale.Length == 0, "rows for no public op: " + string.Join(", ", stale));
    }

    public static IEnumerable<object[]> RowIndices() => Rows.Select((r, i) => new object[] { i, r.Key });

    [Theory]
    [MemberData(nameof(RowIndices))]
    public void The_op_agrees_with_TorchSharp_autograd(int row, string key)
    {
        var r = Rows[row];
        var report = TorchSharpCheck.Compare(r.Ours, r.Theirs, r.Inputs);
        Assert.True(report.Passed, $"{key}: {report}");
    }

    /// <summary>Rows whose TorchSharp side is written for the row's own shapes (fixed indices, a fixed normalised
    /// shape): not comparable at other shapes.</summary>
    /// <summary>Rows whose other arguments name their input's shape (indices, a target shape, split sizes, class
    /// labels), so that no other shape is valid for them.</summary>
    private static readonly HashSet<string> ShapeBound = new()
    {
        "Tensor.get_Item(TensorIndex[])", "Tensor.LayerNorm(Double)", "Tensor.IndexAdd(Int32, Int32[], Int32)",
        "Tensor.Reshape(Int32[])", "Tensor.ScatterAdd(Int32, Tensor, Int32[])", "Tensor.Split(Int32, Int32[])",
        "Loss.CrossEntropy(Tensor, Int32[])", "Loss.CrossEntropy(Tensor, Int32[], Tensor)", "Loss.CrossEntropy(Tensor, Int32[], Int32)",
        "Loss.CrossEntropy(Tensor, Int32[], Tensor, Int32)", "Loss.Nll(Tensor, Int32[])", "Loss.Nll(Tensor, Int32[], Tensor)",
        "Loss.Nll(Tensor, Int32[], Int32)", "Loss.Nll(Tensor, Int32[], Tensor, Int32)",
    };

    /// <summary>The rows of one and two inputs again, at shapes that cross the kernels' vector tails, size-1 and
    /// broadcast axes and the element counts where work is split over the cores (the rows' own shapes are small).
    /// A shape the op refuses is skipped; every other must agree with TorchSharp, and every row must take at least one.</summary>
    [Fact]
    public void The_ops_agree_with_TorchSharp_at_shapes_across_vector_tails_broadcasts_and_core_splits()
    {
        int[][] two = { new[] { 1, 1 }, new[] { 1, 7 }, new[] { 5, 1 }, new[] { 3, 17 }, new[] { 67, 33 }, new[] { 701, 151 }, new[] { 2, 70001 } };
        int[][] three = { new[] { 1, 1, 1 }, new[] { 2, 1, 9 }, new[] { 3, 5, 17 }, new[] { 9, 67, 33 }, new[] { 3, 300, 151 } };
        var pairs = new (int[], int[])[] {
            (new[] { 1, 1 }, new[] { 1, 1 }), (new[] { 3, 17 }, new[] { 17 }), (new[] { 3, 17 }, new[] { 3, 1 }), (new[] { 67, 33 }, new[] { 67, 33 }),
            (new[] { 701, 151 }, new[] { 151 }), (new[] { 701, 151 }, new[] { 701, 1 }), (new[] { 701, 151 }, new[] { 701, 151 }), (new[] { 1, 151 }, new[] { 701, 1 }),
            (new[] { 2, 70001 }, new[] { 2, 70001 }), (new[] { 9, 1, 33 }, new[] { 1, 67, 33 }) };
        // Inputs in each row's domain, as its own inputs are.
        static Tensor InDomain(string key, Tensor x) =>
            new[] { "Log()", "Sqrt", "Log1p", "Pow", "Reciprocal", "op_Division(Double" }.Any(key.Contains) ? x.Abs() + 0.5
            : new[] { "Asin", "Acos", "Tan()" }.Any(key.Contains) ? x.Tanh() * 0.9 : x;
        var failures = new List<string>();
        int compared = 0;
        var comparedOf = new Dictionary<string, int>();
        void Compare(Row r, string at, params Tensor[] xs)
        {
            comparedOf.TryAdd(r.Key, 0);
            try { r.Ours(xs); } catch (ArgumentException) { return; }
            compared++;
            comparedOf[r.Key]++;
            var c = TorchSharpCheck.Compare(r.Ours, r.Theirs, 1e-9, 1e-11, xs);
            if (!c.Passed) failures.Add($"{r.Key} at {at}: {c}");
        }
        foreach (var r in Rows.Where(r => !ShapeBound.Contains(r.Key)))
        {
            if (r.Inputs.Length == 1 && r.Inputs[0].Rank is 2 or 3)
                foreach (var s in r.Inputs[0].Rank == 2 ? two : three)
                    Compare(r, $"[{string.Join(", ", s)}]", InDomain(r.Key, Tensor.Random(7, s)));
            // Binary ops with broadcasting; products, solves, joins and losses need shapes of their own.
            else if (r.Inputs.Length == 2 && !new[] { "MatMul", "Solve", "Loss.", "Concat", "Stack" }.Any(r.Key.Contains))
                foreach (var (a, b) in pairs)
                    Compare(r, $"[{string.Join(", ", a)}] and [{string.Join(", ", b)}]", Tensor.Random(7, a),
                        r.Key.Contains("op_Division(Tensor, Tensor)") ? Tensor.Random(8, b).Abs() + 0.5 : Tensor.Random(8, b));
        }
        Assert.True(compared > 300, $"only {compared} comparisons ran");
        // A row that refused every shape here would never be compared at large shapes.
        var never = comparedOf.Where(p => p.Value == 0).Select(p => p.Key).ToList();
        Assert.True(never.Count == 0, "rows refused at every shape: " + string.Join("; ", never));
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static TT Leaf(Tensor t, bool grad) =>
        torch.tensor(t.ToArray(), t.Shape.Select(d => (long)d).ToArray(), torch.ScalarType.Float64, requires_grad: grad);

    /// <summary>A TorchSharp gradient's values; an absent one (an unused input) or libtorch's storage-less zero
    /// tensor reads as zeros.</summary>
    private static double[] Values(TT? t, Tensor like)
    {
        if (t is null || t.IsInvalid) return new double[like.Count];
        using var z = torch.zeros(t.shape, torch.ScalarType.Float64).add(t.detach());
        return z.data<double>().ToArray();
    }

    private const double FdAbsolute = 1e-7, FdRelative = 1e-6;

    private static void Close(string what, double[] ours, double[] theirs)
    {
        Assert.Equal(theirs.Length, ours.Length);
        for (int e = 0; e < ours.Length; e++)
            Assert.True((double.IsNaN(ours[e]) && double.IsNaN(theirs[e])) || Math.Abs(ours[e] - theirs[e]) <= 1e-12 + 1e-10 * Math.Abs(theirs[e]),
                $"{what}, element {e}: ours {ours[e]:R}, TorchSharp {theirs[e]:R}");
    }

    /// <summary>Second order against TorchSharp (the gradient of ⟨∇⟨f(x), v⟩, w⟩, through create_graph), and first and
    /// second order against central differences.</summary>
    [Theory]
    [MemberData(nameof(RowIndices))]
    public void The_op_agrees_with_TorchSharp_at_second_order_and_with_finite_differences(int row, string key)
    {
        var r = Rows[row];
        var v = Tensor.Random(77, r.Ours(r.Inputs).Shape.ToArray());
        var ws = r.Inputs.Select((x, k) => Tensor.Random(88 + k, x.Shape.ToArray())).ToArray();
        Tensor Projected(Tensor[] xs) => (r.Ours(xs) * v).Sum();
        Tensor Second(Tensor[] xs) => Autodiff.Grad(Projected, xs).Select((g, k) => (g * ws[k]).Sum()).Aggregate((a, b) => a + b);
        var ours = Autodiff.Grad(Second, r.Inputs);
        // Self-contained, so it may run once more if LibTorch reads a freed Scalar (docs/ENVIRONMENT.md).
        var theirs = Torch.scopedRetryingFreedScalar(FuncConvert.FromFunc(() =>
        {
            var xs = r.Inputs.Select(x => Leaf(x, true)).ToArray();
            var y = r.Theirs(xs);
            var gs = y.requires_grad ? torch.autograd.grad(new[] { y }, xs, new[] { Leaf(v, false) }, retain_graph: true, create_graph: true, allow_unused: true) : null;
            var live = gs is null ? new List<TT>() : gs.Select((g, k) => (g, k)).Where(p => p.g is not null && !p.g.IsInvalid && p.g.requires_grad).Select(p => (p.g * Leaf(ws[p.k], false)).sum()).ToList();
            var second = live.Count == 0 ? null : torch.autograd.grad(new[] { live.Aggregate((a, b) => a + b) }, xs, allow_unused: true);
            return Enumerable.Range(0, xs.Length).Select(k => second is null ? new double[r.Inputs[k].Count] : Values(second[k], r.Inputs[k])).ToArray();
        }));
        for (int k = 0; k < theirs.Length; k++)
            Close($"{key}: second order, input {k}", ours[k].ToArray(), theirs[k]);
        // Tighter than the defaults (atol 1e-5, rtol 1e-3, which a derivative 0.05 % wrong passes): central
        // differences with steps of 1e-6 err by about 1e-10 of the function's size here.
        var first = GradientCheck.Run(Projected, 1e-6, FdAbsolute, FdRelative, r.Inputs);
        Assert.True(first.Passed, $"{key}: first order against finite differences: {first}");
        var secondFd = GradientCheck.Run(Second, 1e-6, FdAbsolute, FdRelative, r.Inputs);
        Assert.True(secondFd.Passed, $"{key}: second order against finite differences: {secondFd}");
    }

    /// <summary>The README's op table is these rows, rendered; a change to the rows shows as a difference here.</summary>
    [Fact]
    public void The_README_op_table_is_the_checked_table()
    {
        var sb = new StringBuilder();
        sb.AppendLine("| op | derivative | at the kink | checked against TorchSharp's |");
        sb.AppendLine("| --- | --- | --- | --- |");
        foreach (var g in Rows.GroupBy(r => r.Key))
        {
            var r = g.First();
            string name = r.Key.Replace("op_Addition", "operator +").Replace("op_Subtraction", "operator −").Replace("op_Multiply", "operator *")
                .Replace("op_Division", "operator /").Replace("op_UnaryNegation", "operator − (unary)").Replace("get_Item", "this[]");
            static string Cell(string text) => text.Replace("|", "\\|");
            sb.AppendLine($"| `{name}` | {Cell(string.Join("; ", g.Select(x => x.Derivative).Distinct()))} | {Cell(r.Kink)} | `{Cell(r.TorchSharp)}` |");
        }
        string table = sb.ToString().TrimEnd();
        string root = ReadmeRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        const string begin = "<!-- op table: rendered by tests/Facade.Tests/OpTableTests.cs -->", end = "<!-- end of op table -->";
        int i = readme.IndexOf(begin, StringComparison.Ordinal), j = readme.IndexOf(end, StringComparison.Ordinal);
        string current = i >= 0 && j > i ? readme.Substring(i + begin.Length, j - i - begin.Length).Trim() : "";
        if (current != table) File.WriteAllText(Path.Combine(root, "docs", "op-table.received.md"), table + "\n");
        Assert.True(current == table, "The README's op table differs from the checked rows; the rendered table is in docs/op-table.received.md: put it between the README's op-table markers.");
    }

    private static string ReadmeRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Functional.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Functional.sln not found above " + AppContext.BaseDirectory);
    }
}
