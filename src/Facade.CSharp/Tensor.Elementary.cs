using System;
using System.Linq;
using Core = Functional.Core;

namespace Functional;

public sealed partial class Tensor
{
    // ---- elementary functions ----

    /// <summary>sin x. d/dx = cos x.</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Sin() => Api.Call("Tensor.Sin", "", () => new Tensor(Core.Elementwise.sin(Value)));
    /// <summary>cos x. d/dx = −sin x.</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Cos() => Api.Call("Tensor.Cos", "", () => new Tensor(Core.Elementwise.cos(Value)));
    /// <summary>tan x. d/dx = 1 + tan²x.</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Tan() => Api.Call("Tensor.Tan", "", () => new Tensor(Core.Elementwise.tan(Value)));
    /// <summary>asin x on [−1, 1]. d/dx = 1/√(1 − x²).</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Asin() => Api.Call("Tensor.Asin", "", () => new Tensor(Core.Elementwise.asin(Value)));
    /// <summary>acos x on [−1, 1]. d/dx = −1/√(1 − x²).</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Acos() => Api.Call("Tensor.Acos", "", () => new Tensor(Core.Elementwise.acos(Value)));
    /// <summary>atan x. d/dx = 1/(1 + x²).</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Atan() => Api.Call("Tensor.Atan", "", () => new Tensor(Core.Elementwise.atan(Value)));
    /// <summary>sinh x. d/dx = cosh x.</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Sinh() => Api.Call("Tensor.Sinh", "", () => new Tensor(Core.Elementwise.sinh(Value)));
    /// <summary>cosh x. d/dx = sinh x.</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Cosh() => Api.Call("Tensor.Cosh", "", () => new Tensor(Core.Elementwise.cosh(Value)));
    /// <summary>ln(1 + x), accurate for tiny x. d/dx = 1/(1 + x).</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Log1p() => Api.Call("Tensor.Log1p", "", () => new Tensor(Core.Elementwise.log1p(Value)));
    /// <summary>eˣ − 1, accurate for tiny x. d/dx = eˣ.</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Expm1() => Api.Call("Tensor.Expm1", "", () => new Tensor(Core.Elementwise.expm1(Value)));
    /// <summary>erf x. d/dx = (2/√π)·e^(−x²).</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Erf() => Api.Call("Tensor.Erf", "", () => new Tensor(Core.Elementwise.erf(Value)));
    /// <summary>erfc x = 1 − erf x, accurate in the right tail. d/dx = −(2/√π)·e^(−x²).</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Erfc() => Api.Call("Tensor.Erfc", "", () => new Tensor(Core.Elementwise.erfc(Value)));
    /// <summary>1/x. d/dx = −1/x².</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Reciprocal() => Api.Call("Tensor.Reciprocal", "", () => new Tensor(Core.Elementwise.reciprocal(Value)));
    /// <summary>x². d/dx = 2x.</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Square() => Api.Call("Tensor.Square", "", () => new Tensor(Core.Elementwise.square(Value)));
    /// <summary>sign x: −1, 0 or 1 (NaN at NaN). A constant: d/dx = 0 and no gradient flows.</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Sign() => Api.Call("Tensor.Sign", "", () => new Tensor(Core.Elementwise.sign(Value)));
    /// <summary>SiLU (swish) x·σ(x). d/dx = σ(x)·(1 + x·(1 − σ(x))). At ±∞ the limits: −0 with slope 0 at −∞, +∞
    /// with slope 1 at +∞ (TorchSharp's is NaN at −∞ and its slope NaN at both).</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Silu() => Api.Call("Tensor.Silu", "", () => new Tensor(Core.Activation.silu(Value)));

    // ---- kinks ----

    /// <summary>|x|. d/dx = sign x, and 0 at x = 0 (the midpoint convention: TorchSharp's and DiffSharp's).</summary>
    /// <returns>A new tensor of the same shape.</returns>
    public Tensor Abs() => Abs(KinkConvention.Midpoint);

    /// <summary>|x| with an explicit derivative at 0: 1 (right), −1 (left) or 0 (midpoint). d/dx = sign x elsewhere.</summary>
    /// <param name="convention">The derivative at 0.</param>
    /// <returns>A new tensor of the same shape.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="convention"/> is not a defined
    /// <see cref="KinkConvention"/> value.</exception>
    public Tensor Abs(KinkConvention convention) => Api.Call("Tensor.Abs", "convention", () => new Tensor(Core.Piecewise.abs(Interop.Convert(convention), Value)));

    /// <summary>max(x, y) elementwise with broadcasting. The gradient goes to the larger; at a tie ½ to each (the
    /// midpoint convention, as PyTorch, JAX and DiffSharp split it).</summary>
    /// <param name="other">The other side.</param>
    /// <returns>The elementwise maximum.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    /// <exception cref="ShapeException">The shapes of this tensor and <paramref name="other"/> do not
    /// broadcast.</exception>
    public Tensor Maximum(Tensor other) => Maximum(other, KinkConvention.Midpoint);

    /// <summary>max(x, y) with an explicit derivative at a tie: ½ each (midpoint), 1 each (right) or 0 each (left).</summary>
    /// <param name="other">The other side.</param>
    /// <param name="convention">Each side's derivative at a tie.</param>
    /// <returns>The elementwise maximum.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="convention"/> is not a defined
    /// <see cref="KinkConvention"/> value.</exception>
    /// <exception cref="ShapeException">The shapes of this tensor and <paramref name="other"/> do not
    /// broadcast.</exception>
    public Tensor Maximum(Tensor other, KinkConvention convention) =>
        Api.Call("Tensor.Maximum", "other,convention", () => new Tensor(Core.Piecewise.maximum(Interop.Convert(convention), Value, N(other).Value)));

    /// <summary>min(x, y) elementwise with broadcasting; at a tie ½ to each.</summary>
    /// <param name="other">The other side.</param>
    /// <returns>The elementwise minimum.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    /// <exception cref="ShapeException">The shapes of this tensor and <paramref name="other"/> do not
    /// broadcast.</exception>
    public Tensor Minimum(Tensor other) => Minimum(other, KinkConvention.Midpoint);

    /// <summary>min(x, y) with an explicit derivative at a tie: ½ each (midpoint), 0 each (right: raising one side leaves
    /// the min where it is) or 1 each (left).</summary>
    /// <param name="other">The other side.</param>
    /// <param name="convention">Each side's derivative at a tie.</param>
    /// <returns>The elementwise minimum.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="convention"/> is not a defined
    /// <see cref="KinkConvention"/> value.</exception>
    /// <exception cref="ShapeException">The shapes of this tensor and <paramref name="other"/> do not
    /// broadcast.</exception>
    public Tensor Minimum(Tensor other, KinkConvention convention) =>
        Api.Call("Tensor.Minimum", "other,convention", () => new Tensor(Core.Piecewise.minimum(Interop.Convert(convention), Value, N(other).Value)));

    /// <summary>min(max(x, min), max). d/dx = 1 inside, 0 outside, ½ at either bound (the midpoint convention, as
    /// <c>jnp.clip</c>; TorchSharp gives 1 at both bounds), but 1 at an infinite bound (x = ±∞ there: clamp is x on that
    /// side); 0 everywhere when min = max (a constant).</summary>
    /// <param name="min">The lower bound.</param>
    /// <param name="max">The upper bound (≥ min).</param>
    /// <returns>The clamped tensor.</returns>
    /// <exception cref="ArgumentException">min &gt; max, or a bound is NaN.</exception>
    public Tensor Clamp(double min, double max) => Clamp(min, max, KinkConvention.Midpoint);

    /// <summary>min(max(x, min), max) with an explicit derivative at the bounds: at min 0 (left), 1 (right) or ½, at
    /// max 1 (left), 0 (right) or ½; 1 at an infinite bound under every convention (no kink there); 0 everywhere when
    /// min = max (a constant, both one-sided derivatives 0).</summary>
    /// <param name="min">The lower bound.</param>
    /// <param name="max">The upper bound (≥ min).</param>
    /// <param name="convention">The derivative at the bounds.</param>
    /// <returns>The clamped tensor.</returns>
    /// <exception cref="ArgumentException">min &gt; max, or a bound is NaN.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="convention"/> is not a defined
    /// <see cref="KinkConvention"/> value.</exception>
    public Tensor Clamp(double min, double max, KinkConvention convention) =>
        Api.Call("Tensor.Clamp", "min|lo,max|hi,convention", () => new Tensor(Core.Piecewise.clamp(Interop.Convert(convention), min, max, Value)));

    /// <summary>Hard tanh, clamp to [−1, 1]: d/dx = 1 inside, 0 outside, ½ at ±1.</summary>
    /// <returns>The clamped tensor.</returns>
    public Tensor HardTanh() => Clamp(-1, 1);

    /// <summary>Hard tanh with an explicit derivative at ±1 (as <see cref="Clamp(double, double, KinkConvention)"/>).</summary>
    /// <param name="convention">The derivative at the bounds.</param>
    /// <returns>The clamped tensor.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="convention"/> is not a defined
    /// <see cref="KinkConvention"/> value.</exception>
    public Tensor HardTanh(KinkConvention convention) => Clamp(-1, 1, convention);

    /// <summary>ReLU with an explicit derivative at 0: 0 (left, the default of <see cref="Relu()"/>), 1 (right) or ½.</summary>
    /// <param name="convention">The derivative at 0.</param>
    /// <returns>A new tensor of the same shape.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="convention"/> is not a defined
    /// <see cref="KinkConvention"/> value.</exception>
    public Tensor Relu(KinkConvention convention) => LeakyRelu(0, convention);

    // ---- max and min over axes ----

    /// <summary>The largest entry. The gradient goes to it; at a tie of k entries 1/k to each (the midpoint: the
    /// centre of the subgradients, as PyTorch's amax and JAX).</summary>
    /// <returns>A scalar.</returns>
    /// <exception cref="ShapeException">The tensor is empty.</exception>
    public Tensor Max() => Count == 0 ? throw new ShapeException($"Tensor.Max of an empty tensor (shape {Shape}): there is no largest entry.", "this") : Max(Enumerable.Range(0, Rank).ToArray(), false, KinkConvention.Midpoint);

    /// <summary>The largest entry over axes; at a tie of k entries 1/k of the gradient to each.</summary>
    /// <param name="axes">The axes (negative counts from the end). An empty array reduces over no axis and gives the
    /// values unchanged, as NumPy's <c>axis=()</c> (PyTorch's <c>amax(dim=())</c> reduces over every axis).</param>
    /// <param name="keepDims">Keep the reduced axes with length 1.</param>
    /// <returns>The maxima; +0 counts as larger than −0.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="axes"/> is null.</exception>
    /// <exception cref="ShapeException">An axis in <paramref name="axes"/> is out of range, given twice, or
    /// empty.</exception>
    public Tensor Max(int[] axes, bool keepDims) => Max(axes, keepDims, KinkConvention.Midpoint);

    /// <summary>The largest entry over axes with an explicit share at a tie of k entries: 1/k each (midpoint), 1 each
    /// (right) or 0 each (left).</summary>
    /// <param name="axes">The axes (negative counts from the end). An empty array reduces over no axis and gives the
    /// values unchanged, as NumPy's <c>axis=()</c> (PyTorch's <c>amax(dim=())</c> reduces over every axis).</param>
    /// <param name="keepDims">Keep the reduced axes with length 1.</param>
    /// <param name="convention">Each tied entry's share.</param>
    /// <returns>The maxima; +0 counts as larger than −0.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="axes"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="convention"/> is not a defined
    /// <see cref="KinkConvention"/> value.</exception>
    /// <exception cref="ShapeException">An axis in <paramref name="axes"/> is out of range, given twice, or
    /// empty.</exception>
    public Tensor Max(int[] axes, bool keepDims, KinkConvention convention) =>
        Api.Call("Tensor.Max", "axes,keepDims,convention", () => new Tensor(Core.Piecewise.maxAxes(Interop.Convert(convention), axes ?? throw new ArgumentNullException(nameof(axes)), keepDims, Value)));

    /// <summary>The smallest entry; at a tie of k entries 1/k of the gradient to each.</summary>
    /// <returns>A scalar.</returns>
    /// <exception cref="ShapeException">The tensor is empty.</exception>
    public Tensor Min() => Count == 0 ? throw new ShapeException($"Tensor.Min of an empty tensor (shape {Shape}): there is no smallest entry.", "this") : Min(Enumerable.Range(0, Rank).ToArray(), false, KinkConvention.Midpoint);

    /// <summary>The smallest entry over axes; at a tie of k entries 1/k of the gradient to each.</summary>
    /// <param name="axes">The axes (negative counts from the end). An empty array reduces over no axis and gives the
    /// values unchanged, as NumPy's <c>axis=()</c> (PyTorch's <c>amin(dim=())</c> reduces over every axis).</param>
    /// <param name="keepDims">Keep the reduced axes with length 1.</param>
    /// <returns>The minima; −0 counts as smaller than +0.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="axes"/> is null.</exception>
    /// <exception cref="ShapeException">An axis in <paramref name="axes"/> is out of range, given twice, or
    /// empty.</exception>
    public Tensor Min(int[] axes, bool keepDims) => Min(axes, keepDims, KinkConvention.Midpoint);

    /// <summary>The smallest entry over axes with an explicit share at a tie of k entries: 1/k each (midpoint), 0 each
    /// (right: raising one tied entry leaves the min where it is) or 1 each (left).</summary>
    /// <param name="axes">The axes (negative counts from the end). An empty array reduces over no axis and gives the
    /// values unchanged, as NumPy's <c>axis=()</c> (PyTorch's <c>amin(dim=())</c> reduces over every axis).</param>
    /// <param name="keepDims">Keep the reduced axes with length 1.</param>
    /// <param name="convention">Each tied entry's share.</param>
    /// <returns>The minima; −0 counts as smaller than +0.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="axes"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="convention"/> is not a defined
    /// <see cref="KinkConvention"/> value.</exception>
    /// <exception cref="ShapeException">An axis in <paramref name="axes"/> is out of range, given twice, or
    /// empty.</exception>
    public Tensor Min(int[] axes, bool keepDims, KinkConvention convention) =>
        Api.Call("Tensor.Min", "axes,keepDims,convention", () => new Tensor(Core.Piecewise.minAxes(Interop.Convert(convention), axes ?? throw new ArgumentNullException(nameof(axes)), keepDims, Value)));

    /// <summary>ELU: x for x &gt; 0, α(eˣ − 1) below. d/dx = 1 (x &gt; 0), α·eˣ (x &lt; 0), and α at 0 (the left
    /// derivative: TorchSharp's and JAX's).</summary>
    /// <param name="alpha">α, the negative saturation.</param>
    /// <returns>A new tensor of the same shape.</returns>
    /// <exception cref="ArgumentException"><paramref name="alpha"/> is NaN.</exception>
    public Tensor Elu(double alpha) => Elu(alpha, KinkConvention.LeftDerivative);

    /// <summary>ELU with an explicit derivative at 0: α (left), 1 (right) or (1 + α)/2.</summary>
    /// <param name="alpha">α, the negative saturation.</param>
    /// <param name="convention">The derivative at 0.</param>
    /// <returns>A new tensor of the same shape.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="convention"/> is not a defined
    /// <see cref="KinkConvention"/> value.</exception>
    /// <exception cref="ArgumentException"><paramref name="alpha"/> is NaN.</exception>
    public Tensor Elu(double alpha, KinkConvention convention) => Api.Call("Tensor.Elu", "alpha,convention", () => new Tensor(Core.Piecewise.elu(alpha, Interop.Convert(convention), Value)));

    // ---- comparisons: masks of 1 and 0, constants (no gradient) ----

    /// <summary>1 where x &gt; y, else 0 (broadcast; a constant mask for <see cref="Where"/>).</summary>
    /// <param name="other">The other operand, broadcast against this one.</param>
    /// <returns>A mask of 1 and 0 (a constant).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    /// <exception cref="ShapeException">The shapes of this tensor and <paramref name="other"/> do not
    /// broadcast.</exception>
    public Tensor GreaterThan(Tensor other) => Api.Call("Tensor.GreaterThan", "other", () => new Tensor(Core.Elementwise.greater(Value, N(other).Value)));
    /// <summary>1 where x ≥ y, else 0.</summary>
    /// <param name="other">The other operand, broadcast against this one.</param>
    /// <returns>A mask of 1 and 0 (a constant).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    /// <exception cref="ShapeException">The shapes of this tensor and <paramref name="other"/> do not
    /// broadcast.</exception>
    public Tensor GreaterThanOrEqual(Tensor other) => Api.Call("Tensor.GreaterThanOrEqual", "other", () => new Tensor(Core.Elementwise.greaterOrEqual(Value, N(other).Value)));
    /// <summary>1 where x &lt; y, else 0.</summary>
    /// <param name="other">The other operand, broadcast against this one.</param>
    /// <returns>A mask of 1 and 0 (a constant).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    /// <exception cref="ShapeException">The shapes of this tensor and <paramref name="other"/> do not
    /// broadcast.</exception>
    public Tensor LessThan(Tensor other) => Api.Call("Tensor.LessThan", "other", () => new Tensor(Core.Elementwise.less(Value, N(other).Value)));
    /// <summary>1 where x ≤ y, else 0.</summary>
    /// <param name="other">The other operand, broadcast against this one.</param>
    /// <returns>A mask of 1 and 0 (a constant).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    /// <exception cref="ShapeException">The shapes of this tensor and <paramref name="other"/> do not
    /// broadcast.</exception>
    public Tensor LessThanOrEqual(Tensor other) => Api.Call("Tensor.LessThanOrEqual", "other", () => new Tensor(Core.Elementwise.lessOrEqual(Value, N(other).Value)));
    /// <summary>1 where x = y, else 0.</summary>
    /// <param name="other">The other operand, broadcast against this one.</param>
    /// <returns>A mask of 1 and 0 (a constant).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    /// <exception cref="ShapeException">The shapes of this tensor and <paramref name="other"/> do not
    /// broadcast.</exception>
    public Tensor EqualTo(Tensor other) => Api.Call("Tensor.EqualTo", "other", () => new Tensor(Core.Elementwise.equal(Value, N(other).Value)));

    // ---- reductions that keep their axes ----

    /// <summary>Σ over the given axes, keeping them with length 1 when <paramref name="keepDims"/> (so the result
    /// broadcasts against this tensor). ∂/∂x = 1, broadcast back.</summary>
    /// <param name="axes">The axes (negative counts from the end). An empty array sums over no axis and gives the values
    /// unchanged, as NumPy's <c>axis=()</c> (PyTorch's <c>sum(dim=[])</c> sums every axis).</param>
    /// <param name="keepDims">Keep the summed axes with length 1.</param>
    /// <returns>The sums.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="axes"/> is null.</exception>
    /// <exception cref="ShapeException">An axis in <paramref name="axes"/> is out of range or given twice.</exception>
    public Tensor Sum(int[] axes, bool keepDims) => Api.Call("Tensor.Sum", "axes,keepDims", () => new Tensor(Core.Reduction.sumAxes(axes ?? throw new ArgumentNullException(nameof(axes)), keepDims, Value)));

    /// <summary>Mean over the given axes, keeping them with length 1 when <paramref name="keepDims"/>:
    /// <c>x - x.Mean(new[] { -1 }, true)</c> centres each row. ∂/∂x = 1/n along them.</summary>
    /// <param name="axes">The axes (negative counts from the end). An empty array averages over no axis and gives the
    /// values unchanged, as NumPy's <c>axis=()</c> (PyTorch's <c>mean(dim=[])</c> averages every axis).</param>
    /// <param name="keepDims">Keep the averaged axes with length 1.</param>
    /// <returns>The means.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="axes"/> is null.</exception>
    /// <exception cref="ShapeException">An axis in <paramref name="axes"/> is out of range or given twice.</exception>
    public Tensor Mean(int[] axes, bool keepDims) => Api.Call("Tensor.Mean", "axes,keepDims", () => new Tensor(Core.Reduction.meanAxes(axes ?? throw new ArgumentNullException(nameof(axes)), keepDims, Value)));
}
