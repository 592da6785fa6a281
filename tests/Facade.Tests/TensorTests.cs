using Functional;
using Xunit;

namespace Functional.Facade.Tests;

public class TensorTests
{
    private static readonly Tensor M = Tensor.FromArray(new double[] { 1, 2, 3, 4, 5, 6 }, 2, 3);

    [Fact]
    public void Creation_and_access()
    {
        Assert.Equal(new[] { 2, 3 }, M.Shape);
        Assert.Equal(2, M.Rank);
        Assert.Equal(6.0, M.ValueAt(1, 2));
        Assert.Equal(0, Tensor.Scalar(4).Rank);
        Assert.Equal(4.0, Tensor.Scalar(4).ToScalar());
        Assert.Equal(new double[6], Tensor.Zeros(2, 3).ToArray());
        Assert.Equal(new double[] { 1, 1 }, Tensor.Ones(2).ToArray());
        Assert.Equal(Tensor.Random(7, 3, 4).ToArray(), Tensor.Random(7, 3, 4).ToArray());
        Assert.Equal(0, Tensor.Zeros(3, 0).Count);
    }

    [Fact]
    public void Narrow_counts_a_negative_start_from_the_end_as_torch_narrow()
    {
        // M is [[1 2 3] [4 5 6]]: columns from -2 are columns 1 and 2.
        Assert.Equal(new double[] { 2, 3, 5, 6 }, M.Narrow(1, -2, 2).ToArray());
        Assert.Equal(M.Narrow(1, 1, 2).ToArray(), M.Narrow(-1, -2, 2).ToArray());
        Assert.Equal(new double[] { 4, 5, 6 }, M.Narrow(0, -1, 1).ToArray());
        Assert.Equal(new[] { 2, 0 }, M.Narrow(1, 3, 0).Shape);
        Assert.Equal(new[] { 2, 0 }, M.Narrow(1, -3, 0).Shape);
        // The gradient lands where the elements came from.
        Assert.Equal(new double[] { 0, 1, 1, 0, 1, 1 }, Autodiff.Grad(t => t.Narrow(1, -2, 2).Sum(), M).ToArray());
        var before = Assert.Throws<ShapeException>(() => M.Narrow(1, -4, 1));
        Assert.Equal("start", before.ParamName);
        Assert.Contains("Tensor.Narrow", before.Message);
        Assert.Equal("start", Assert.Throws<ShapeException>(() => M.Narrow(1, 4, 0)).ParamName);
        Assert.Equal("length", Assert.Throws<ShapeException>(() => M.Narrow(1, -1, 2)).ParamName);
        Assert.Equal("length", Assert.Throws<ShapeException>(() => M.Narrow(1, 0, -1)).ParamName);
    }

    [Fact]
    public void Split_into_parts_of_unequal_sizes_takes_each_at_its_own_offset()
    {
        // Columns 0..5 of a 2×6 tensor in parts of 1, 3, 0 and 2: each part starts where the ones before it end.
        var x = Tensor.FromArray(Enumerable.Range(0, 12).Select(i => (double)i).ToArray(), 2, 6);
        var parts = x.Split(1, 1, 3, 0, 2);
        Assert.Equal(new double[] { 0, 6 }, parts[0].ToArray());
        Assert.Equal(new double[] { 1, 2, 3, 7, 8, 9 }, parts[1].ToArray());
        Assert.Equal(new[] { 2, 0 }, parts[2].Shape);
        Assert.Equal(new double[] { 4, 5, 10, 11 }, parts[3].ToArray());
        // Each part's gradient lands at its own columns: weights 1, 2 and 4 for the three non-empty parts.
        var g = Autodiff.Grad(t => { var p = t.Split(-1, 1, 3, 0, 2); return p[0].Sum() + 2 * p[1].Sum() + 4 * p[3].Sum(); }, x);
        Assert.Equal(new double[] { 1, 2, 2, 2, 4, 4, 1, 2, 2, 2, 4, 4 }, g.ToArray());
    }

    [Fact]
    public void Empty_tensors_whose_other_axes_exceed_an_array_reduce_reshape_and_solve_to_empty_results()
    {
        // The products of the other axes alone (2³² here) were formed and refused as too large for an array.
        var wide = Tensor.Zeros(0, 65536, 65536);
        Assert.Equal(new[] { 0 }, wide.Sum(1, 2).Shape);
        Assert.Equal(new[] { 0 }, wide.Mean(1, 2).Shape);
        Assert.Equal(new[] { 0, 1, 1 }, wide.Sum(new[] { 1, 2 }, true).Shape);
        Assert.Equal(new[] { 65536, 65536, 0 }, Tensor.Zeros(65536, 65536, 0, 0).Sum(2).Shape);
        Assert.Equal(wide.Shape, wide.Softmax(0).Shape);
        Assert.Equal(wide.Shape, wide.LogSoftmax(2).Shape);
        Assert.Equal(wide.Shape, Autodiff.Grad(x => x.Softmax(0).Sum(), wide).Shape);
        Assert.Equal(new[] { 1, 1, 0 }, Autodiff.Grad(y => (Tensor.Zeros(65536, 65536, 0) + y).Sum(), Tensor.Zeros(1, 1, 0)).Shape);
        Assert.Equal(new[] { 0, 65536, 65536 }, Tensor.Zeros(0, 65536).Reshape(-1, 65536, 65536).Shape);
        Assert.Equal(new[] { 3, 50000, 0, 50000 }, Linalg.Solve(Tensor.Zeros(3, 1, 0, 0), Tensor.Zeros(1, 50000, 0, 50000)).Shape);
        // indexSelect's gradient added into another use's, over an axis of 2³¹ − 1: its index table wrapped.
        Assert.Equal(new[] { 0, int.MaxValue }, Autodiff.Grad(t => t.IndexSelect(1, new[] { 0, 0 }).Sum() + t.Sum(), Tensor.Zeros(0, int.MaxValue)).Shape);
        // A result that is not empty is still refused when it does not fit.
        Assert.Throws<ShapeException>(() => Tensor.Zeros(65536, 65536, 0).Sum(2));
    }

    [Fact]
    public void ToArray_is_a_copy()
    {
        var a = M.ToArray();
        a[0] = 100;
        Assert.Equal(1.0, M.ValueAt(0, 0));
    }

    [Fact]
    public void Operators_broadcast_and_take_doubles_on_either_side()
    {
        var col = Tensor.FromArray(new double[] { 10, 20 }, 2, 1);
        Assert.Equal(new double[] { 11, 12, 13, 24, 25, 26 }, (M + col).ToArray());
        Assert.Equal(new double[] { 2, 3, 4, 5, 6, 7 }, (M + 1).ToArray());
        Assert.Equal(new double[] { 0, -1, -2, -3, -4, -5 }, (1 - M).ToArray());
        Assert.Equal(new double[] { 2, 4, 6, 8, 10, 12 }, (2 * M).ToArray());
        Assert.Equal(new double[] { 0.5, 1, 1.5, 2, 2.5, 3 }, (M / 2).ToArray());
        Assert.Equal(new double[] { -1, -2, -3, -4, -5, -6 }, (-M).ToArray());
        Assert.Equal(new double[] { 1, 1, 1, 1, 1, 1 }, (M / M).ToArray());
    }

    [Fact]
    public void Reductions_layout_and_matmul()
    {
        Assert.Equal(21.0, M.Sum().ToScalar());
        Assert.Equal(new double[] { 5, 7, 9 }, M.Sum(0).ToArray());
        Assert.Equal(3.5, M.Mean().ToScalar());
        Assert.Equal(new[] { 3, 2 }, M.Transpose().Shape);
        Assert.Equal(new double[] { 1, 4, 2, 5, 3, 6 }, M.Transpose(1, 0).ToArray());
        // Two axes swap, as torch.transpose: Transpose(0, 1) of a matrix is its transpose (read as a permutation it
        // would be the identity), and negative axes count from the end.
        Assert.Equal(new double[] { 1, 4, 2, 5, 3, 6 }, M.Transpose(0, 1).ToArray());
        Assert.Equal(new double[] { 1, 4, 2, 5, 3, 6 }, M.Transpose(-1, -2).ToArray());
        Assert.Equal(M.ToArray(), M.Transpose(1, 1).ToArray());
        Assert.Equal(new[] { 4, 3, 2 }, Tensor.Zeros(2, 3, 4).Transpose(0, 2).Shape);
        Assert.Equal("axis1", Assert.Throws<ShapeException>(() => M.Transpose(0, 2)).ParamName);
        // Permute reads its arguments as a permutation, whatever their count.
        Assert.Equal(M.ToArray(), M.Permute(0, 1).ToArray());
        Assert.Equal(new[] { 4, 2, 3 }, Tensor.Zeros(2, 3, 4).Permute(-1, 0, 1).Shape);
        Assert.Equal("axes", Assert.Throws<ShapeException>(() => M.Permute(0)).ParamName);
        Assert.Equal("axes", Assert.Throws<ShapeException>(() => M.Permute(0, 0)).ParamName);
        // An array argument is a permutation too, with negative axes as Permute's.
        Assert.Equal(new[] { 4, 2, 3 }, Tensor.Zeros(2, 3, 4).Transpose(new[] { 2, -3, 1 }).Shape);
        Assert.Equal("permutation", Assert.Throws<ShapeException>(() => Tensor.Zeros(2, 3, 4).Transpose(new[] { 0, 0, 1 })).ParamName);
        // A scalar has no axes, and says so.
        var scalar = Assert.Throws<ShapeException>(() => Tensor.Scalar(1).ArgMax(0));
        Assert.Contains("a scalar (rank 0) has no axes", scalar.Message);
        Assert.Equal(new[] { 3, 2 }, M.Reshape(3, -1).Shape);
        var p = M.MatMul(M.Transpose());
        Assert.Equal(new double[] { 14, 32, 32, 77 }, p.ToArray());
        Assert.Throws<ShapeException>(() => M.MatMul(M));
    }

    [Fact]
    public void Activations()
    {
        var x = Tensor.FromArray(new double[] { -1, 0, 2 }, 3);
        Assert.Equal(new double[] { 0, 0, 2 }, x.Relu().ToArray());
        Assert.Equal(new double[] { -0.01, 0, 2 }, x.LeakyRelu(0.01).ToArray());
        Assert.Equal(-0.15865525393145705, x.Gelu().ValueAt(0), 15);
        Assert.Equal(x.Gelu(GeluApproximation.Tanh).ValueAt(2), 2 * (1 / (1 + Math.Exp(-2 * Math.Sqrt(2 / Math.PI) * (2 + 0.044715 * 8)))), 14);
        Assert.Equal(1 / (1 + Math.E), x.Sigmoid().ValueAt(0), 15);
        Assert.Equal(Math.Tanh(2), x.Tanh().ValueAt(2), 15);
        Assert.Equal(Math.Exp(2), x.Exp().ValueAt(2), 12);
        Assert.Equal(1.0, x.Softmax(0).Sum().ToScalar(), 14);
    }

    [Fact]
    public void ToString_is_numpy_like()
    {
        Assert.Equal("tensor([[1, 2, 3],\n        [4, 5, 6]], shape=[2, 3])", M.ToString());
        Assert.Contains("...", Tensor.Zeros(5000).ToString());
    }
}

/// <summary>Ways in and out of a tensor, shapes that print, and comparisons by value.</summary>
public class TensorInteropTests
{
    [Fact]
    public void Rectangular_jagged_span_and_float_arrays_round_trip()
    {
        var m = Tensor.FromArray(new double[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        Assert.Equal("[2, 3]", m.Shape.ToString());
        Assert.Equal(new double[,] { { 1, 2, 3 }, { 4, 5, 6 } }, m.ToArray2D());
        Assert.Equal(m.ToArray(), Tensor.FromArray(new[] { new[] { 1.0, 2, 3 }, new[] { 4.0, 5, 6 } }).ToArray());
        Assert.Equal(new[] { 4.0, 5, 6 }, m.ToJaggedArray()[1]);
        var c = Tensor.FromArray(new double[,,] { { { 1, 2 } }, { { 3, 4 } } });
        Assert.Equal("[2, 1, 2]", c.Shape.ToString());
        Assert.Equal(4.0, c.ToArray3D()[1, 0, 1]);
        Assert.Equal(new[] { 1.5, 2.5 }, Tensor.FromSpan(new[] { 1.5, 2.5 }.AsSpan(), 2).ToArray());
        Assert.Equal(new[] { 0.5f, 2f }, Tensor.FromArray(new[] { 0.5f, 2f }, 2).ToSingleArray());
        var destination = new double[8];
        m.CopyTo(destination);
        Assert.Equal(6.0, destination[5]);
        Assert.Throws<ArgumentException>(() => m.CopyTo(new double[5]));
        Assert.Throws<ShapeException>(() => Tensor.FromArray(new[] { new[] { 1.0 }, new[] { 1.0, 2 } }));
        Assert.Throws<ShapeException>(() => m.ToArray3D());
    }

    [Fact]
    public void AllClose_and_the_value_comparer()
    {
        var a = Tensor.FromArray(new[] { 1.0, 2.0 }, 2);
        Assert.True(a.AllClose(a + 1e-9));
        Assert.False(a.AllClose(a + 1e-3));
        Assert.False(a.AllClose(a.Reshape(1, 2)));
        Assert.True(a.AllClose(a + 1e-3, 0, 1e-2));
        Assert.False(a.Equals(Tensor.FromArray(new[] { 1.0, 2.0 }, 2)));   // reference equality stays the default
        Assert.True(Tensor.ValueComparer.Equals(a, Tensor.FromArray(new[] { 1.0, 2.0 }, 2)));
        var set = new HashSet<Tensor>(Tensor.ValueComparer) { a, Tensor.FromArray(new[] { 1.0, 2.0 }, 2) };
        Assert.Single(set);
        Assert.Equal(Tensor.Zeros(2).Shape, a.Shape);
        Assert.Equal(Tensor.Zeros(2).Shape.GetHashCode(), a.Shape.GetHashCode());
        // As double.Equals has them: NaN equal to NaN, +0 equal to −0, with hashes to match.
        Assert.True(Tensor.ValueComparer.Equals(Tensor.Scalar(double.NaN), -Tensor.Scalar(double.NaN)));
        Assert.True(Tensor.ValueComparer.Equals(Tensor.Scalar(0.0), Tensor.Scalar(-0.0)));
        Assert.Equal(Tensor.ValueComparer.GetHashCode(Tensor.Scalar(0.0)), Tensor.ValueComparer.GetHashCode(Tensor.Scalar(-0.0)));
        // Neither makes the array of a uniform tensor or a broadcast (12.8 GB here, over the memory limit).
        var zeros = Tensor.Zeros(40_000, 40_000);
        Tensor.ValueComparer.GetHashCode(zeros);
        Assert.True(Tensor.ValueComparer.Equals(zeros, Tensor.Full(-0.0, 40_000, 40_000)));
        var view = Tensor.FromArray(new[] { 1.5, -2.0 }, 2).BroadcastTo(1000, 2);
        var made = Tensor.FromArray(Enumerable.Range(0, 2000).Select(i => i % 2 == 0 ? 1.5 : -2.0).ToArray(), 1000, 2);
        Assert.True(Tensor.ValueComparer.Equals(view, made));
        Assert.Equal(Tensor.ValueComparer.GetHashCode(made), Tensor.ValueComparer.GetHashCode(view));
        Assert.StartsWith("tensor([[1.5, -2],", Tensor.FromArray(new[] { 1.5, -2.0 }, 2).BroadcastTo(600_000_000, 2).ToString());
    }

    [Fact]
    public void Index_positions_are_equal_when_written_the_same_way()
    {
        Assert.True((TensorIndex)1 == (TensorIndex)1);
        Assert.True((TensorIndex)(1..^1) == (TensorIndex)(1..^1));
        Assert.True((TensorIndex)(1..^1) != (TensorIndex)(1..));
        Assert.True((TensorIndex)(-1) != (TensorIndex)(^1));
        Assert.True((TensorIndex)1 != (TensorIndex)(Index)1);
        Assert.Equal(((TensorIndex)(2..)).GetHashCode(), ((TensorIndex)(2..)).GetHashCode());
        Assert.NotEqual(((TensorIndex)1).GetHashCode(), ((TensorIndex)2).GetHashCode());
        Assert.False(((TensorIndex)1).Equals("1"));
    }

    [Fact]
    public void Gather_reads_indices_from_views_and_uniform_tensors_and_checks_them()
    {
        var x = Tensor.FromArray(new[] { 1.0, 2, 3, 4, 5, 6 }, 2, 3);
        var wide = Tensor.FromArray(new[] { 9.0, 2, 0, 9, 9, 1, 1, 9 }, 2, 4);
        var picked = x.Gather(1, wide.Narrow(1, 1, 2));   // a view over the middle columns
        Assert.Equal(new[] { 3.0, 1, 5, 5 }, picked.ToArray());
        Assert.Equal(new[] { 1.0, 1, 4, 4 }, x.Gather(1, Tensor.Zeros(2, 2)).ToArray());
        var g = Autodiff.Grad(t => t.Gather(1, wide.Narrow(1, 1, 2)).Sum(), x);
        Assert.Equal(new[] { 1.0, 0, 1, 0, 2, 0 }, g.ToArray());
        var e = Assert.Throws<ShapeException>(() => x.Gather(1, Tensor.FromArray(new[] { 0.5, 1 }, 1, 2)));
        Assert.Equal("indices", e.ParamName);
        Assert.Contains("whole numbers", e.Message);
    }

    [Fact]
    public void Gather_by_one_large_index_tensor_again_reads_it_while_it_lives()
    {
        var x = Tensor.Random(1, 4, 20000);
        var rows = Enumerable.Range(0, 20000).Select(i => (double)(i % 4)).ToArray();
        var indices = Tensor.FromArray(rows, 1, 20000);
        var first = x.Gather(0, indices).ToArray();
        Assert.Equal(first, x.Gather(0, indices).ToArray());
        Assert.Equal(x.ToArray()[2 * 20000 + 6], first[6]);
        Tensor inside;
        using (Tensor.NewScope())
        {
            inside = Tensor.FromArray(rows, 1, 20000) + 0.0;
            Assert.Equal(first, x.Gather(0, inside).ToArray());
        }
        Assert.Throws<ObjectDisposedException>(() => x.Gather(0, inside));
    }
}

/// <summary>Reports and records print their contents, the same in every culture.</summary>
public class PrintingTests
{
    [Fact]
    public void Reports_and_records_print_the_same_under_a_comma_decimal_culture()
    {
        var x = Tensor.Random(5, 10);
        string Print()
        {
            var r = GradientCheck.Run(xs => xs[0].Gelu().Sum(), x);
            var v = Autodiff.ValueAndGrad(xs => (xs[0] * xs[1]).Sum(), x, x);
            var p = Einsum.Plan("ij,jk,k->i", new[] { 20, 30 }, new[] { 30, 40 }, new[] { 40 });
            var c = Gradients.ClipByNorm(new[] { x }, 0.5);
            string Message(Action a) { try { a(); return "no exception"; } catch (Exception e) { return e.Message; } }
            return string.Join("\n", r, v, p, c, x.Shape, Einsum.Derive("ij,jk->ik"),
                Message(() => GradientCheck.Run(xs => xs[0].Sum(), -0.5, 1e-5, 1e-3, x)),
                Message(() => Tensor.Linspace(0, double.PositiveInfinity, 3)),
                Message(() => x.Reshape(-2, 3)),
                Message(() => Tensor.FromArray(new[] { 1.0, 2, 3 }, 3).IndexSelect(0, new[] { -7 })),
                Message(() => Tensor.FromArray(new[] { 1.0, 2, 3 }, 3).Gather(0, Tensor.FromArray(new[] { 1.5 }, 1))),
                Tensor.FromArray(new[] { 0.5, -1.25 }, 2), p.Steps[0] with { Flops = 1.5e20 },
                new Functional.Testing.RuleCheckOptions { RelativeTolerance = 0.5 });
        }
        var before = System.Globalization.CultureInfo.CurrentCulture;
        string invariant, german, swedish;
        try
        {
            System.Globalization.CultureInfo.CurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
            invariant = Print();
            System.Globalization.CultureInfo.CurrentCulture = new System.Globalization.CultureInfo("de-DE");
            german = Print();
            // Swedish writes a negative number with U+2212.
            System.Globalization.CultureInfo.CurrentCulture = new System.Globalization.CultureInfo("sv-SE");
            swedish = Print();
        }
        finally { System.Globalization.CultureInfo.CurrentCulture = before; }
        Assert.Equal(invariant, german);
        Assert.Equal(invariant, swedish);
        Assert.Contains("Gradients = [tensor(", invariant);
        Assert.Contains("Steps = [", invariant);
        Assert.DoesNotContain("System.", invariant);
        Assert.DoesNotContain("Functional.", invariant);
    }

    [Fact]
    public void Every_seed_gives_its_own_values()
    {
        // System.Random(seed) gave seed -s the values of s, and values linear in the seed (u[s+2] = 2u[s+1] - u[s] mod 1).
        Assert.NotEqual(Tensor.Random(5, 4).ToArray(), Tensor.Random(-5, 4).ToArray());
        Assert.NotEqual(Tensor.Random(int.MinValue, 4).ToArray(), Tensor.Random(int.MaxValue, 4).ToArray());
        var a = Tensor.Uniform(new[] { 1000 }, 10, 0, 1).ToArray();
        var b = Tensor.Uniform(new[] { 1000 }, 11, 0, 1).ToArray();
        var c = Tensor.Uniform(new[] { 1000 }, 12, 0, 1).ToArray();
        static double Wrap(double v) { double r = v - Math.Floor(v); return Math.Min(r, 1 - r); }
        Assert.True(Enumerable.Range(0, 1000).Count(k => Wrap(c[k] - 2 * b[k] + a[k]) < 1e-9) < 5);
        // The same seed, the same values; mean and variance of 10^5 normals near 0 and 1.
        Assert.Equal(Tensor.Normal(new[] { 7 }, 3).ToArray(), Tensor.Random(3, 7).ToArray());
        var z = Tensor.Random(42, 100_000).ToArray();
        Assert.InRange(z.Average(), -0.02, 0.02);
        Assert.InRange(z.Select(v => v * v).Average(), 0.98, 1.02);
        Assert.All(Tensor.Uniform(new[] { 10_000 }, -3, 2, 5).ToArray(), v => Assert.InRange(v, 2, 4.999999999999));
    }

    [Fact]
    public void Linspace_keeps_both_ends_where_the_step_overflows()
    {
        // Two values over a span past double.MaxValue: the step was infinite and both ends NaN (∞·0).
        Assert.Equal(new[] { -double.MaxValue, double.MaxValue }, Tensor.Linspace(-double.MaxValue, double.MaxValue, 2).ToArray());
        Assert.Equal(new[] { -1e308, 1e308 }, Tensor.Linspace(-1e308, 1e308, 2).ToArray());
        var three = Tensor.Linspace(-double.MaxValue, double.MaxValue, 3).ToArray();
        Assert.Equal(new[] { -double.MaxValue, 0, double.MaxValue }, three);
    }
}
