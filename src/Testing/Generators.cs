using System;
using System.Globalization;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;

namespace Functional.Testing;

/// <summary>
/// FsCheck generators for tensor code: einsum problems valid by construction that shrink structurally (drop an
/// operand, drop a subscript, drop the ellipsis, lower a size, drop an output label) to a minimal failing
/// equation; shapes; tensors with a value domain.
/// </summary>
/// <example><code>
/// [Property]
/// public Property Einsum_is_linear_in_its_first_operand() =>
///     Prop.ForAll(Generators.Einsum(), c => { /* Einsum.Contract(c.Equation, c.Operands) … */ });
/// </code></example>
public static class Generators
{
    /// <summary>Einsum problems with every feature on (<see cref="EinsumOptions"/>' defaults), with shrinking.</summary>
    /// <returns>An arbitrary whose cases print as replayable lines.</returns>
    public static Arbitrary<EinsumCase> Einsum() => Einsum(new EinsumOptions());

    /// <summary>Einsum problems with the given features, with structural shrinking.</summary>
    /// <param name="options">What the problems may contain.</param>
    /// <returns>An arbitrary whose cases print as replayable lines.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of its range.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    public static Arbitrary<EinsumCase> Einsum(EinsumOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(nameof(options));
        return Arb.From(EinsumGen(options), c => Shrink(c, options));
    }

    /// <summary>Shapes of rank 0 to <paramref name="maxRank"/>, each size 1 to <paramref name="maxSize"/>: up to
    /// maxSize^maxRank elements, so keep that product small where tensors are made of them (a shape past
    /// <see cref="Limits.MemoryLimitBytes"/> makes its tensor throw inside the property).</summary>
    /// <param name="maxRank">The largest rank (0 to 64).</param>
    /// <param name="maxSize">The largest size (1 or more).</param>
    /// <returns>A generator of shapes.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxRank"/> is outside 0 to 64, or
    /// <paramref name="maxSize"/> is less than 1.</exception>
    public static Gen<int[]> Shape(int maxRank, int maxSize)
    {
        CheckBounds(maxRank, maxSize);
        return Gen.Choose(0, maxRank).SelectMany(rank => Gen.ArrayOf(Gen.Choose(1, maxSize), rank));
    }

    /// <summary>Shapes of rank 0 to <paramref name="maxRank"/>, each size 1 to <paramref name="maxSize"/>, or 0 now
    /// and then when <paramref name="zeroSize"/> (a zero-size dimension: an empty tensor).</summary>
    /// <param name="maxRank">The largest rank (0 to 64).</param>
    /// <param name="maxSize">The largest size (1 or more).</param>
    /// <param name="zeroSize">Whether a dimension may be 0.</param>
    /// <returns>A generator of shapes.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxRank"/> is outside 0 to 64, or
    /// <paramref name="maxSize"/> is less than 1.</exception>
    public static Gen<int[]> Shape(int maxRank, int maxSize, bool zeroSize)
    {
        if (!zeroSize) return Shape(maxRank, maxSize);
        CheckBounds(maxRank, maxSize);
        var size = Gen.Frequency((1, Gen.Constant(0)), (9, Gen.Choose(1, maxSize)));
        return Gen.Choose(0, maxRank).SelectMany(rank => Gen.ArrayOf(size, rank));
    }

    /// <summary>Tensors as <see cref="Tensor(int[], double, double)"/> gives them, shrinking toward simpler values:
    /// blocks of elements (all, halves, quarters, … single ones) to the value in [min, max] nearest 0, then each
    /// element rounded to one decimal. Those are where kinks and poles usually sit (0, ±1, 0.5), so for an op with one
    /// use <see cref="TensorArbitrary(int[], double, double, double, double[])"/>, whose shrinks keep the gap: a
    /// failure away from the kink would otherwise shrink onto it, where a correct rule's check fails too.</summary>
    /// <param name="shape">The shape.</param>
    /// <param name="min">The smallest value.</param>
    /// <param name="max">The largest value.</param>
    /// <returns>An arbitrary of tensors.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="min"/> or <paramref name="max"/> is not finite, or
    /// <paramref name="min"/> is greater than <paramref name="max"/>.</exception>
    /// <exception cref="ShapeException"><paramref name="shape"/> has a negative dimension or more than
    /// <see cref="Limits.MaxElements"/> elements.</exception>
    /// <exception cref="MemoryLimitException">One tensor of <paramref name="shape"/> would exceed
    /// <see cref="Limits.MemoryLimitBytes"/>.</exception>
    public static Arbitrary<Tensor> TensorArbitrary(int[] shape, double min, double max) =>
        Arb.From(Tensor(shape, min, max), t => ShrinkValues(t, Math.Clamp(0.0, min, max), v => Math.Clamp(v, min, max)));

    /// <summary>Tensors as <see cref="Tensor(int[], double, double, double, double[])"/> gives them, shrinking as
    /// <see cref="TensorArbitrary(int[], double, double)"/> does but only to values at least <paramref name="gap"/>
    /// from every avoided point: blocks to the allowed value nearest 0, then elements rounded to one decimal where that
    /// is allowed.</summary>
    /// <param name="shape">The shape.</param>
    /// <param name="min">The smallest value.</param>
    /// <param name="max">The largest value.</param>
    /// <param name="gap">The least distance from every avoided point.</param>
    /// <param name="avoid">The points to keep away from.</param>
    /// <returns>An arbitrary of tensors.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> or <paramref name="avoid"/> is
    /// null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">As for <see cref="Tensor(int[], double, double, double, double[])"/>.</exception>
    /// <exception cref="ShapeException"><paramref name="shape"/> has a negative dimension or more than
    /// <see cref="Limits.MaxElements"/> elements.</exception>
    /// <exception cref="MemoryLimitException">One tensor of <paramref name="shape"/> would exceed
    /// <see cref="Limits.MemoryLimitBytes"/>.</exception>
    public static Arbitrary<Tensor> TensorArbitrary(int[] shape, double min, double max, double gap, params double[] avoid)
    {
        var gen = Tensor(shape, min, max, gap, avoid);
        var allowed = Allowed(min, max, gap, avoid);
        // The allowed value nearest 0; a rounded value is kept only where it is allowed, else the element stays.
        double simplest = allowed.Select(r => Math.Clamp(0.0, r.Lo, r.Hi)).MinBy(Math.Abs);
        return Arb.From(gen, t => ShrinkValues(t, simplest, v => allowed.Any(r => v >= r.Lo && v <= r.Hi) ? v : double.NaN));
    }

    /// <summary>Shrinks of <paramref name="t"/>'s values: blocks to <paramref name="simplest"/>, then each element
    /// rounded to one decimal and passed through <paramref name="admit"/> (NaN: not admitted).</summary>
    private static IEnumerable<Tensor> ShrinkValues(Tensor t, double simplest, Func<double, double> admit)
    {
        var values = t.ToArray();
        var shape = t.Shape.ToArray();
        int n = values.Length;
        bool Simplest(int from, int to)
        {
            for (int i = from; i < to; i++) if (values[i] != simplest) return false;
            return true;
        }
        // Blocks to the simplest value: all at once, then halves, quarters, … down to single elements (as QuickCheck
        // shrinks a list). A failure that needs k elements loses the others in about k·log n rounds; element by
        // element would take n rounds of up to 2n candidates each.
        for (int block = n; block >= 1; block /= 2)
            for (int start = 0; start < n; start += block)
            {
                int end = Math.Min(n, start + block);
                if (Simplest(start, end)) continue;
                var to = (double[])values.Clone();
                Array.Fill(to, simplest, start, end - start);
                yield return Functional.Tensor.FromArray(to, shape);
            }
        // Then each element to one decimal.
        for (int i = 0; i < n; i++)
        {
            double rounded = admit(Math.Round(values[i], 1));
            if (double.IsNaN(rounded) || rounded == values[i] || values[i] == simplest) continue;
            var r = (double[])values.Clone();
            r[i] = rounded;
            yield return Functional.Tensor.FromArray(r, shape);
        }
    }

    /// <summary>Shapes as <see cref="Shape(int, int)"/> gives them, shrinking by dropping a dimension or lowering a size.</summary>
    /// <param name="maxRank">The largest rank (0 to 64).</param>
    /// <param name="maxSize">The largest size (1 or more).</param>
    /// <returns>An arbitrary of shapes.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxRank"/> is outside 0 to 64, or
    /// <paramref name="maxSize"/> is less than 1.</exception>
    public static Arbitrary<int[]> ShapeArbitrary(int maxRank, int maxSize) =>
        Arb.From(Shape(maxRank, maxSize), ShrinkShape);

    /// <summary><paramref name="count"/> shapes that broadcast together by NumPy's rules: a common shape, from which
    /// each takes a suffix and shows some dimensions as 1.</summary>
    /// <param name="count">How many shapes (1 to 1,024).</param>
    /// <param name="maxRank">The common shape's largest rank (0 to 64).</param>
    /// <param name="maxSize">The largest size.</param>
    /// <returns>A generator of shape arrays, each one broadcastable with the others.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is outside 1 to 1,024,
    /// <paramref name="maxRank"/> outside 0 to 64, or <paramref name="maxSize"/> is less than 1.</exception>
    public static Gen<int[][]> BroadcastShapes(int count, int maxRank, int maxSize)
    {
        if (count is < 1 or > MaxCount) throw new ArgumentOutOfRangeException(nameof(count), count.ToString(CultureInfo.InvariantCulture), $"The shape count must be 1 to {MaxCount}.");
        return Shape(maxRank, maxSize).SelectMany(common => Gen.Choose(0, int.MaxValue).Select(seed =>
        {
            var rng = new Random(seed);
            return Enumerable.Range(0, count).Select(_ =>
            {
                int drop = rng.Next(common.Length + 1);
                return common.Skip(drop).Select(d => rng.NextDouble() < 0.3 ? 1 : d).ToArray();
            }).ToArray();
        }));
    }

    /// <summary>The largest rank a shape generator takes: NumPy's and PyTorch's limit on dimensions.</summary>
    private const int MaxRank = 64;

    /// <summary>The most shapes one draw of <see cref="BroadcastShapes"/> makes.</summary>
    private const int MaxCount = 1024;

    private static void CheckBounds(int maxRank, int maxSize)
    {
        if (maxRank is < 0 or > MaxRank) throw new ArgumentOutOfRangeException(nameof(maxRank), maxRank.ToString(CultureInfo.InvariantCulture), $"The rank bound must be 0 to {MaxRank}.");
        if (maxSize < 1) throw new ArgumentOutOfRangeException(nameof(maxSize), maxSize.ToString(CultureInfo.InvariantCulture), "The size bound must be 1 or more.");
    }

    private static IEnumerable<int[]> ShrinkShape(int[] shape)
    {
        for (int d = 0; d < shape.Length; d++) yield return shape.Take(d).Concat(shape.Skip(d + 1)).ToArray();
        for (int d = 0; d < shape.Length; d++)
            if (shape[d] > 1)
            {
                var smaller = (int[])shape.Clone();
                smaller[d] = 1;
                yield return smaller;
            }
    }

    /// <summary>Tensors of a shape with every element uniform in [<paramref name="min"/>, <paramref name="max"/>)
    /// (<paramref name="max"/> itself only when it equals <paramref name="min"/>).</summary>
    /// <param name="shape">The shape.</param>
    /// <param name="min">The smallest value.</param>
    /// <param name="max">The largest value (at least <paramref name="min"/>).</param>
    /// <returns>A generator of tensors.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="min"/> or <paramref name="max"/> is not finite, or
    /// <paramref name="min"/> is greater than <paramref name="max"/>.</exception>
    /// <exception cref="ShapeException"><paramref name="shape"/> has a negative dimension or more than
    /// <see cref="Limits.MaxElements"/> elements.</exception>
    /// <exception cref="MemoryLimitException">One tensor of <paramref name="shape"/> would exceed
    /// <see cref="Limits.MemoryLimitBytes"/>.</exception>
    public static Gen<Tensor> Tensor(int[] shape, double min, double max)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (!(min <= max) || !double.IsFinite(min) || !double.IsFinite(max))
            throw new ArgumentOutOfRangeException(nameof(max), max.ToString("R", CultureInfo.InvariantCulture), "The bounds must be finite with min ≤ max.");
        // Negative dimensions and too many elements, in this member's terms.
        int n = Api.Call("Generators.Tensor", "shape", () => Functional.Core.Shape.numel(shape));
        // Every draw allocates the whole tensor: a shape above the memory limit is refused here, once.
        Functional.Core.Limits.check(Microsoft.FSharp.Core.FuncConvert.FromFunc(() => $"Generators.Tensor of shape [{string.Join(", ", shape)}]"), n);
        var copy = (int[])shape.Clone();
        // Tensor.Uniform's draw (the same values for a seed), which stays within bounds near ±double.MaxValue.
        return Gen.Choose(int.MinValue, int.MaxValue).Select(seed => Functional.Tensor.Uniform(copy, seed, min, max));
    }

    /// <summary>Tensors of a shape with values uniform in [min, max) but at least <paramref name="gap"/> away from
    /// each of <paramref name="avoid"/> (kinks and poles, where a derivative does not exist or finite differences
    /// straddle it).</summary>
    /// <param name="shape">The shape.</param>
    /// <param name="min">The smallest value.</param>
    /// <param name="max">The largest value.</param>
    /// <param name="gap">The least distance from every avoided point.</param>
    /// <param name="avoid">The points to keep away from.</param>
    /// <returns>A generator of tensors.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> or <paramref name="avoid"/> is
    /// null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="gap"/> is negative or NaN, <paramref name="min"/>
    /// or <paramref name="max"/> is not finite, <paramref name="min"/> is greater than <paramref name="max"/>, or
    /// no value in [<paramref name="min"/>, <paramref name="max"/>] lies <paramref name="gap"/> or more from every
    /// avoided point.</exception>
    /// <exception cref="ShapeException"><paramref name="shape"/> has a negative dimension or more than
    /// <see cref="Limits.MaxElements"/> elements.</exception>
    /// <exception cref="MemoryLimitException">One tensor of <paramref name="shape"/> would exceed
    /// <see cref="Limits.MemoryLimitBytes"/>.</exception>
    public static Gen<Tensor> Tensor(int[] shape, double min, double max, double gap, params double[] avoid)
    {
        ArgumentNullException.ThrowIfNull(avoid);
        if (!(gap >= 0)) throw new ArgumentOutOfRangeException(nameof(gap), gap.ToString("R", CultureInfo.InvariantCulture), "The gap must be 0 or more.");
        if (!(min <= max) || !double.IsFinite(min) || !double.IsFinite(max))
            throw new ArgumentOutOfRangeException(nameof(max), max.ToString("R", CultureInfo.InvariantCulture), "The bounds must be finite with min ≤ max.");
        // Uniform over what is left of [min, max] once the open intervals (p − gap, p + gap) are taken out: pushing
        // a value off one avoided point could leave [min, max] or land near another.
        var allowed = Allowed(min, max, gap, avoid);
        if (allowed.Count == 0)
            throw new ArgumentOutOfRangeException(nameof(gap), gap.ToString("R", CultureInfo.InvariantCulture), FormattableString.Invariant($"No value in [{min}, {max}] is {gap} or more from every avoided point."));
        // Lengths in halves where the whole width overflows (bounds near ±double.MaxValue); otherwise the plain lengths.
        double scale = double.IsFinite(allowed.Sum(r => r.Hi - r.Lo)) ? 1 : 0.5;
        double total = allowed.Sum(r => r.Hi * scale - r.Lo * scale);
        return Tensor(shape, 0, 1).Select(t => Functional.Tensor.FromArray(t.ToArray().Select(u =>
        {
            double at = u * total;
            foreach (var (lo, hi) in allowed)
            {
                double length = hi * scale - lo * scale;
                if (at <= length) return (lo * scale + at) / scale;
                at -= length;
            }
            return allowed[^1].Hi;
        }).ToArray(), t.Shape.ToArray()));
    }

    /// <summary>[min, max] without the open intervals (p − gap, p + gap), as closed intervals in order.</summary>
    private static List<(double Lo, double Hi)> Allowed(double min, double max, double gap, double[] avoid)
    {
        var allowed = new List<(double Lo, double Hi)>();
        double from = min;
        foreach (var (lo, hi) in avoid.Where(p => !double.IsNaN(p)).Select(p => (Lo: p - gap, Hi: p + gap)).OrderBy(c => c.Lo))
        {
            if (lo >= from && from <= max) allowed.Add((from, Math.Min(lo, max)));
            from = Math.Max(from, hi);
        }
        if (from <= max) allowed.Add((from, max));
        return allowed;
    }

    // ---- einsum problems ----

    private static readonly char[] Pool = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".ToCharArray();

    /// <summary>A case built from one seed (FsCheck's random stream picks the seed; the seed builds the case), so
    /// that any case is rebuilt from the number it prints.</summary>
    private static Gen<EinsumCase> EinsumGen(EinsumOptions options) =>
        Gen.Choose(0, int.MaxValue).Select(seed => Build(seed, options));

    internal static EinsumCase Build(int seed, EinsumOptions o)
    {
        var rng = new Random(seed);
        bool Chance(double p) => rng.NextDouble() < p;
        int Size()
        {
            double r = rng.NextDouble();
            // The largest sizes reach MaxSize (4 or 5 at the default of 5).
            int s = o.ZeroSize && r < 0.08 ? 0 : r < 0.35 ? 1 : r < 0.8 ? rng.Next(2, 4) : 4 + rng.Next(Math.Max(o.MaxSize, 5) - 3);
            return Math.Min(s, o.MaxSize);
        }
        int nLabels = rng.Next(1, 7);
        var letters = Pool.OrderBy(_ => rng.Next()).Take(nLabels).ToImmutableArray();
        var sizes = Enumerable.Range(0, nLabels).Select(_ => Size()).ToImmutableArray();
        bool useEllipsis = o.Ellipsis && Chance(0.3);
        int ellipsisRank = useEllipsis ? rng.Next(0, Math.Min(2, o.MaxRank) + 1) : 0;
        var ellipsisSizes = Enumerable.Range(0, ellipsisRank)
            .Select(_ => o.ZeroSize && Chance(0.1) ? 0 : Chance(0.2) ? 1 : Math.Min(rng.Next(2, 4), o.MaxSize)).ToImmutableArray();
        int nOperands = rng.Next(1, o.MaxOperands + 1);
        var operands = ImmutableArray.CreateBuilder<OperandSpec>();
        for (int k = 0; k < nOperands; k++)
        {
            int rank = rng.Next(0, o.MaxRank + 1);
            var labels = new List<int>();
            for (int d = 0; d < rank; d++)
            {
                int l = rng.Next(nLabels);
                if (!o.RepeatedLabels && labels.Contains(l))
                {
                    var free = Enumerable.Range(0, nLabels).Where(x => !labels.Contains(x)).ToList();
                    if (free.Count == 0) break;
                    l = free[rng.Next(free.Count)];
                }
                labels.Add(l);
            }
            bool withEllipsis = useEllipsis && Chance(0.6);
            int er = withEllipsis ? rng.Next(0, ellipsisRank + 1) : 0;
            if (withEllipsis) labels.Insert(rng.Next(labels.Count + 1), EinsumCase.EllipsisItem);
            var ones = o.Broadcasting
                ? labels.Where(l => l >= 0 && sizes[l] > 1).Distinct().Where(_ => Chance(0.12)).ToImmutableHashSet()
                : ImmutableHashSet<int>.Empty;
            var ellipsisOnes = o.Broadcasting
                ? Enumerable.Range(ellipsisRank - er, er).Where(d => ellipsisSizes[d] > 1 && Chance(0.25)).ToImmutableHashSet()
                : ImmutableHashSet<int>.Empty;
            operands.Add(new OperandSpec(labels.ToImmutableArray(), er, ones, ellipsisOnes));
        }
        var ops = operands.ToImmutable();
        ImmutableArray<int>? output = null;
        if (!(o.ImplicitOutput && Chance(0.25)))
        {
            var present = ops.SelectMany(x => x.Items).Where(i => i >= 0).Distinct().OrderBy(_ => rng.Next()).ToList();
            var chosen = present.Take(rng.Next(present.Count + 1)).ToList();
            if (ops.Any(x => x.Items.Contains(EinsumCase.EllipsisItem)) && Chance(0.85))
                chosen.Insert(rng.Next(chosen.Count + 1), EinsumCase.EllipsisItem);
            output = chosen.ToImmutableArray();
        }
        return new EinsumCase(letters, sizes, ellipsisSizes, ops, output, seed);
    }

    /// <summary>Smaller cases, each still valid and within the options: fewer operands, fewer subscripts, no ellipsis,
    /// smaller sizes, fewer output labels, simpler values.</summary>
    internal static IEnumerable<EinsumCase> Shrink(EinsumCase c, EinsumOptions options)
    {
        var ops = c.Specs;
        if (ops.Length > 1)
            for (int k = 0; k < ops.Length; k++)
                yield return c.With(operands: ops.RemoveAt(k));
        if (ops.Any(o => o.Items.Contains(EinsumCase.EllipsisItem)))
            yield return c.With(ellipsisSizes: ImmutableArray<int>.Empty,
                operands: ops.Select(o => o with { Items = o.Items.Remove(EinsumCase.EllipsisItem), EllipsisRank = 0, EllipsisOnes = ImmutableHashSet<int>.Empty }).ToImmutableArray(),
                changeOutput: true, output: c.Output?.Remove(EinsumCase.EllipsisItem));
        for (int k = 0; k < ops.Length; k++)
            for (int j = 0; j < ops[k].Items.Length; j++)
            {
                var o = ops[k];
                bool ellipsis = o.Items[j] == EinsumCase.EllipsisItem;
                var items = o.Items.RemoveAt(j);
                var smaller = o with
                {
                    Items = items,
                    // A label the operand no longer shows has no size-1 showing in it.
                    Ones = ellipsis || items.Contains(o.Items[j]) ? o.Ones : o.Ones.Remove(o.Items[j]),
                    EllipsisRank = ellipsis ? 0 : o.EllipsisRank,
                    EllipsisOnes = ellipsis ? ImmutableHashSet<int>.Empty : o.EllipsisOnes,
                };
                yield return c.With(operands: ops.SetItem(k, smaller));
            }
        // Only sizes some operand shows at full size: any other size changes nothing in the case, so it is no smaller.
        var labelsUsed = ops.SelectMany(o => o.Items).Where(i => i >= 0).Distinct().OrderBy(i => i).ToArray();
        foreach (int i in labelsUsed)
            if (c.Sizes[i] > 1 && ops.Any(o => o.Items.Contains(i) && !o.Ones.Contains(i)))
            {
                yield return c.With(sizes: c.Sizes.SetItem(i, 1), operands: ops.Select(o => o with { Ones = o.Ones.Remove(i) }).ToImmutableArray());
                if (c.Sizes[i] > 2) yield return c.With(sizes: c.Sizes.SetItem(i, c.Sizes[i] - 1));
            }
        for (int d = 0; d < c.EllipsisSizes.Length; d++)
            if (c.EllipsisSizes[d] > 1 && ops.Any(o => o.Items.Contains(EinsumCase.EllipsisItem) && d >= c.EllipsisSizes.Length - o.EllipsisRank && !o.EllipsisOnes.Contains(d)))
                yield return c.With(ellipsisSizes: c.EllipsisSizes.SetItem(d, 1), operands: ops.Select(o => o with { EllipsisOnes = o.EllipsisOnes.Remove(d) }).ToImmutableArray());
        // Two labels merged into one (the first's size, its size-1 showings kept).
        for (int a = 0; a < labelsUsed.Length; a++)
            for (int b = a + 1; b < labelsUsed.Length; b++)
            {
                int keep = labelsUsed[a], gone = labelsUsed[b];
                // Merged inside one operand they would make a diagonal, which the options may exclude.
                if (!options.RepeatedLabels && ops.Any(o => o.Items.Contains(keep) && o.Items.Contains(gone))) continue;
                var merged = ops.Select(o => o with
                {
                    Items = o.Items.Select(i => i == gone ? keep : i).ToImmutableArray(),
                    Ones = o.Ones.Remove(gone).Remove(keep),
                }).ToImmutableArray();
                var mergedOutput = c.Output?.Select(i => i == gone ? keep : i).Distinct().ToImmutableArray();
                yield return c.With(operands: merged, changeOutput: true, output: mergedOutput);
            }
        if (c.Output is { Length: > 0 } output)
            for (int j = 0; j < output.Length; j++)
                yield return c.With(changeOutput: true, output: output.RemoveAt(j));
        if (c.Seed != 0) yield return c.With(seed: 0);
    }
}
