using System;
using System.Globalization;
using System.Linq;
using Core = Functional.Core;

namespace Functional;

public sealed partial class Tensor
{
    /// <summary>start, start + step, … up to (not including) stop: NumPy's <c>arange</c>, whose count
    /// ⌈(stop − start)/step⌉ is taken in floating point, so a quotient rounded up can add a value at stop itself
    /// (<c>Arange(1, 1.3, 0.1)</c> has 4, as in NumPy and PyTorch).</summary>
    /// <param name="start">The first value.</param>
    /// <param name="stop">The bound, not included.</param>
    /// <param name="step">The step (nonzero; negative counts down).</param>
    /// <returns>A vector.</returns>
    /// <exception cref="ArgumentOutOfRangeException">step is 0 or not finite.</exception>
    /// <exception cref="ArgumentException"><paramref name="start"/> or <paramref name="stop"/> is NaN, or both are the
    /// same infinity.</exception>
    /// <exception cref="MemoryLimitException">The vector would exceed <see cref="Limits.MemoryLimitBytes"/> or
    /// <see cref="Limits.MaxElements"/>.</exception>
    public static Tensor Arange(double start, double stop, double step)
    {
        if (step == 0 || !double.IsFinite(step)) throw new ArgumentOutOfRangeException(nameof(step), step.ToString("R", CultureInfo.InvariantCulture), "Arange needs a finite, nonzero step.");
        double count = Math.Ceiling((stop - start) / step);
        if (double.IsNaN(count)) throw new ArgumentException(FormattableString.Invariant($"Arange({start}, {stop}, {step}) has no length."), nameof(stop));
        Core.Limits.check(Microsoft.FSharp.Core.FuncConvert.FromFunc(() => FormattableString.Invariant($"Arange({start}, {stop}, {step})")), Math.Max(0, count));
        int n = (int)Math.Max(0, count);
        return FromArray(Enumerable.Range(0, n).Select(i => start + i * step).ToArray(), n);
    }

    /// <summary>0, 1, …, stop − 1.</summary>
    /// <param name="stop">How many.</param>
    /// <returns>A vector.</returns>
    /// <exception cref="MemoryLimitException">The vector would exceed <see cref="Limits.MemoryLimitBytes"/> or
    /// <see cref="Limits.MaxElements"/>.</exception>
    public static Tensor Arange(int stop) => Arange(0, stop, 1);

    /// <summary><paramref name="count"/> evenly spaced values from start to stop, both included exactly: the first
    /// half counted from start, the second back from stop (as PyTorch), with the step computed so that it does not
    /// overflow where stop − start would.</summary>
    /// <param name="start">The first value.</param>
    /// <param name="stop">The last value.</param>
    /// <param name="count">How many (≥ 0).</param>
    /// <returns>A vector.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative, or
    /// <paramref name="start"/> or <paramref name="stop"/> is not finite (the values between would be NaN).</exception>
    /// <exception cref="MemoryLimitException">The vector would exceed <see cref="Limits.MemoryLimitBytes"/> or
    /// <see cref="Limits.MaxElements"/>.</exception>
    public static Tensor Linspace(double start, double stop, int count)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count.ToString(CultureInfo.InvariantCulture), "Linspace needs a count ≥ 0.");
        if (!double.IsFinite(start)) throw new ArgumentOutOfRangeException(nameof(start), start.ToString("R", CultureInfo.InvariantCulture), "Linspace needs finite ends.");
        if (!double.IsFinite(stop)) throw new ArgumentOutOfRangeException(nameof(stop), stop.ToString("R", CultureInfo.InvariantCulture), "Linspace needs finite ends.");
        Core.Limits.check(Microsoft.FSharp.Core.FuncConvert.FromFunc(() => $"Linspace of {count} values"), count);
        if (count == 1) return FromArray(new[] { start }, 1);
        double step = double.IsFinite(stop - start) ? (stop - start) / (count - 1) : stop / (count - 1) - start / (count - 1);
        // The ends as given: with two values over a span past double.MaxValue the step itself overflows (∞·0 = NaN).
        return FromArray(Enumerable.Range(0, count).Select(i => i == 0 ? start : i == count - 1 ? stop : i < count / 2 ? start + step * i : stop - step * (count - 1 - i)).ToArray(), count);
    }

    /// <summary>The n×n identity matrix.</summary>
    /// <param name="n">Its size.</param>
    /// <returns>A matrix.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="n"/> is negative.</exception>
    /// <exception cref="MemoryLimitException">The matrix would exceed <see cref="Limits.MemoryLimitBytes"/> or
    /// <see cref="Limits.MaxElements"/>.</exception>
    public static Tensor Eye(int n)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n.ToString(CultureInfo.InvariantCulture), "Eye needs n ≥ 0.");
        Core.Limits.check(Microsoft.FSharp.Core.FuncConvert.FromFunc(() => $"Eye({n})"), (double)n * n);
        var d = new double[n * n];
        for (int i = 0; i < n; i++) d[i * n + i] = 1;
        return FromArray(d, n, n);
    }

    /// <summary>A tensor of one value. The value comes first (the shape is the <c>params</c> list), unlike
    /// <c>torch.full(size, value)</c>. Made without its elements, as <see cref="Zeros"/>.</summary>
    /// <param name="value">The value.</param>
    /// <param name="shape">The shape.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is null.</exception>
    /// <exception cref="ShapeException"><paramref name="shape"/> has a negative dimension or more than
    /// <see cref="Limits.MaxElements"/> elements.</exception>
    public static Tensor Full(double value, params int[] shape) => Of(Core.TensorModule.full(shape ?? throw new ArgumentNullException(nameof(shape)), value));

    /// <summary>Zeros shaped as <paramref name="like"/>.</summary>
    /// <param name="like">The tensor whose shape is taken.</param>
    /// <returns>Zeros shaped as the argument.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="like"/> is null.</exception>
    public static Tensor ZerosLike(Tensor like) => Zeros(N(like).Shape.ToArray());

    /// <summary>Ones shaped as <paramref name="like"/>.</summary>
    /// <param name="like">The tensor whose shape is taken.</param>
    /// <returns>Ones shaped as the argument.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="like"/> is null.</exception>
    public static Tensor OnesLike(Tensor like) => Ones(N(like).Shape.ToArray());

    /// <summary>Standard normal values from a seeded generator: <c>Tensor.Normal(new[] { 5, 10 }, seed: 5)</c>.</summary>
    /// <param name="shape">The shape.</param>
    /// <param name="seed">The generator's seed: the same seed gives the same values; every seed, negative and
    /// neighbouring ones included, its own.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is null.</exception>
    /// <exception cref="ShapeException"><paramref name="shape"/> has a negative dimension or more than
    /// <see cref="Limits.MaxElements"/> elements.</exception>
    /// <exception cref="MemoryLimitException">The tensor would exceed <see cref="Limits.MemoryLimitBytes"/> or
    /// <see cref="Limits.MaxElements"/>.</exception>
    public static Tensor Normal(int[] shape, int seed) => Of(Core.TensorModule.random(seed, shape ?? throw new ArgumentNullException(nameof(shape))));

    /// <summary>Normal values with a mean and standard deviation.</summary>
    /// <param name="shape">The shape.</param>
    /// <param name="seed">The generator's seed.</param>
    /// <param name="mean">The mean.</param>
    /// <param name="standardDeviation">The standard deviation (≥ 0).</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="standardDeviation"/> is negative, NaN or
    /// infinite, or <paramref name="mean"/> is NaN or infinite.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is null.</exception>
    /// <exception cref="ShapeException"><paramref name="shape"/> has a negative dimension or more than
    /// <see cref="Limits.MaxElements"/> elements.</exception>
    /// <exception cref="MemoryLimitException">The tensor would exceed <see cref="Limits.MemoryLimitBytes"/> or
    /// <see cref="Limits.MaxElements"/>.</exception>
    public static Tensor Normal(int[] shape, int seed, double mean, double standardDeviation)
    {
        if (!(standardDeviation >= 0) || !double.IsFinite(standardDeviation)) throw new ArgumentOutOfRangeException(nameof(standardDeviation), standardDeviation.ToString("R", CultureInfo.InvariantCulture), "A standard deviation must be finite and ≥ 0.");
        if (!double.IsFinite(mean)) throw new ArgumentOutOfRangeException(nameof(mean), mean.ToString("R", CultureInfo.InvariantCulture), "The mean must be finite.");
        return Of(Core.TensorModule.map(Microsoft.FSharp.Core.FuncConvert.FromFunc<double, double>(z => mean + standardDeviation * z), Normal(shape, seed).Value.Tensor));
    }

    /// <summary>Uniform values in [low, high) from a seeded generator.</summary>
    /// <param name="shape">The shape.</param>
    /// <param name="seed">The generator's seed.</param>
    /// <param name="low">The lower bound, included.</param>
    /// <param name="high">The upper bound, excluded (≥ low; equal to low, every value is low).</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="high"/> is less than <paramref name="low"/>, or
    /// either is NaN or infinite.</exception>
    /// <exception cref="ShapeException"><paramref name="shape"/> has a negative dimension or more than
    /// <see cref="Limits.MaxElements"/> elements.</exception>
    /// <exception cref="MemoryLimitException">The tensor would need more memory than
    /// <see cref="Limits.MemoryLimitBytes"/>.</exception>
    public static Tensor Uniform(int[] shape, int seed, double low, double high)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (!double.IsFinite(low)) throw new ArgumentOutOfRangeException(nameof(low), low.ToString("R", CultureInfo.InvariantCulture), "Uniform needs finite bounds.");
        if (!(high >= low) || !double.IsFinite(high)) throw new ArgumentOutOfRangeException(nameof(high), high.ToString("R", CultureInfo.InvariantCulture), "Uniform needs a finite high ≥ low.");
        // The shape and the memory limit are checked by the core's draw, in this member's terms.
        return Api.Call("Tensor.Uniform", "shape", () => Of(Core.TensorModule.uniform(seed, low, high, shape)));
    }

    /// <summary>The index of the largest entry along an axis (the first, at a tie; the first NaN where there is one,
    /// as NumPy and PyTorch), as a constant tensor of indices with the axis removed. It points at what
    /// <see cref="Max()"/> returns: +0 counts as larger than −0, as there (NumPy and PyTorch take the first of two
    /// zeros).</summary>
    /// <param name="axis">The axis (negative counts from the end).</param>
    /// <returns>The indices.</returns>
    /// <exception cref="ShapeException"><paramref name="axis"/> is out of range for this tensor's rank, or that axis
    /// has length 0.</exception>
    public Tensor ArgMax(int axis) => ArgBest("ArgMax", axis, (a, b) => a > b || (a == 0 && b == 0 && double.IsNegative(b) && !double.IsNegative(a)));

    /// <summary>The index of the smallest entry along an axis (the first, at a tie; the first NaN where there is
    /// one, as NumPy and PyTorch). It points at what <see cref="Min()"/> returns: −0 counts as smaller than +0, as
    /// there.</summary>
    /// <param name="axis">The axis (negative counts from the end).</param>
    /// <returns>The indices.</returns>
    /// <exception cref="ShapeException"><paramref name="axis"/> is out of range for this tensor's rank, or that axis
    /// has length 0.</exception>
    public Tensor ArgMin(int axis) => ArgBest("ArgMin", axis, (a, b) => a < b || (a == 0 && b == 0 && double.IsNegative(a) && !double.IsNegative(b)));

    private Tensor ArgBest(string name, int axis, Func<double, double, bool> better)
    {
        int a = Axis(axis, nameof(axis), $"Tensor.{name}");
        var shape = Shape.ToArray();
        int n = shape[a];
        if (n == 0) throw new ShapeException(FormattableString.Invariant($"Tensor.{name}: axis {axis} is empty."), nameof(axis));
        int outer = shape.Take(a).Aggregate(1, (x, y) => x * y), inner = shape.Skip(a + 1).Aggregate(1, (x, y) => x * y);
        var src = ToArray();
        var r = new double[outer * inner];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int best = 0;
                for (int k = 1; k < n && !double.IsNaN(src[(o * n + best) * inner + i]); k++)
                {
                    double v = src[(o * n + k) * inner + i];
                    if (double.IsNaN(v) || better(v, src[(o * n + best) * inner + i])) best = k;
                }
                r[o * inner + i] = best;
            }
        return FromArray(r, shape.Where((_, i) => i != a).ToArray());
    }

    /// <summary>Layer normalisation over the last axis, y = (x − mean)·r with r = 1/√(var + ε) and the biased variance
    /// (no affine part: multiply and add your own), one fused pass per row. Its gradient is
    /// r·(ḡ − mean ḡ − y·mean(y·ḡ)) along each row. A constant row gives 0 (NaN with ε = 0); rows of finite entries
    /// near 1e308, or spread past 1e154, are normalised as smaller ones are.</summary>
    /// <param name="epsilon">ε ≥ 0, added to the variance.</param>
    /// <returns>The normalised tensor.</returns>
    /// <exception cref="ShapeException">This tensor is a scalar, which has no last axis.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epsilon"/> is negative, infinite or NaN.</exception>
    public Tensor LayerNorm(double epsilon)
    {
        // Checked outside Api.Call, which would say these again in its own words and name epsilon for the scalar.
        if (Rank == 0) throw new ShapeException($"Tensor.LayerNorm normalises the last axis; a scalar has none.", "this");
        if (!(epsilon >= 0) || double.IsPositiveInfinity(epsilon))
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon.ToString("R", CultureInfo.InvariantCulture), "Tensor.LayerNorm: epsilon must be finite and at least 0.");
        return Api.Call("Tensor.LayerNorm", "epsilon", () => new Tensor(Core.Normalization.layerNorm(epsilon, Value)));
    }

    /// <summary>RMS normalisation over the last axis, y = x/r with r = √(mean(x²) + ε) (no gain: multiply your own).
    /// VJP over a row of n: ḡ/r − x·⟨ḡ, x⟩/(n·r³).</summary>
    /// <param name="epsilon">ε ≥ 0, added to the mean square.</param>
    /// <returns>The normalised tensor.</returns>
    /// <exception cref="ShapeException">This tensor is a scalar, which has no last axis.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epsilon"/> is negative, infinite or NaN.</exception>
    public Tensor RmsNorm(double epsilon)
    {
        if (Rank == 0) throw new ShapeException("Tensor.RmsNorm normalises the last axis; a scalar has none.", "this");
        if (!(epsilon >= 0) || double.IsPositiveInfinity(epsilon))
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon.ToString("R", CultureInfo.InvariantCulture), "Tensor.RmsNorm: epsilon must be finite and at least 0.");
        return Api.Call("Tensor.RmsNorm", "epsilon", () => this * (Square().Mean(new[] { -1 }, true) + epsilon).Pow(-0.5));
    }
}
