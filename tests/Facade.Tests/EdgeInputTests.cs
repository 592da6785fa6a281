using Xunit;

namespace Functional.Facade.Tests;

/// <summary>Inputs at the edges, as attacks found them: a NaN in a matrix, shapes whose sizes wrap an int, many or
/// empty operands, −∞ logits, a scope ended inside a gradient's function.</summary>
public class EdgeInputTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(64)]
    [InlineData(130)]
    public void A_NaN_anywhere_in_a_matrix_makes_its_determinant_solves_and_inverse_NaN(int n)
    {
        // Below a zero pivot (passed over by the pivot search: det was 0), in U's part of a zero pivot's row, and in
        // a row the elimination would scale by 0: each was dropped by some path of the LU.
        var rng = new Random(7);
        foreach (var (row, col, zeroColumn) in new[] { (1, 0, true), (0, n - 1, true), (n - 1, n - 1, false), (0, 1, false) })
        {
            var a = new double[n * n];
            for (int e = 0; e < a.Length; e++) a[e] = rng.NextDouble() - 0.5 + (e / n == e % n ? n : 0);
            if (zeroColumn) for (int i = 0; i < n; i++) a[i * n] = 0;
            a[row * n + col] = double.NaN;
            var m = Tensor.FromArray(a, n, n);
            Assert.True(double.IsNaN(Linalg.Det(m).ToScalar()), $"det, NaN at ({row}, {col})");
            Assert.True(double.IsNaN(Linalg.SignDet(m).ToScalar()), $"signDet, NaN at ({row}, {col})");
            Assert.True(double.IsNaN(Linalg.LogDet(m).ToScalar()), $"logDet, NaN at ({row}, {col})");
            Assert.All(Linalg.Solve(m, Tensor.Ones(n, 3)).ToArray(), v => Assert.True(double.IsNaN(v)));
            Assert.All(Linalg.Inverse(m).ToArray(), v => Assert.True(double.IsNaN(v)));
            Assert.All(Autodiff.Grad(x => Linalg.Det(x), m).ToArray(), v => Assert.True(double.IsNaN(v)));
        }
    }

    [Fact]
    public void Uniform_values_stay_below_high_when_the_interval_is_a_few_ulps_wide()
    {
        // low + (high − low)·u rounds up to high for u above ½ when high is the next double after low.
        foreach (var (low, high) in new[] { (1.0, Math.BitIncrement(1.0)), (1e6, 1e6 + 1e-10) })
            Assert.All(Tensor.Uniform(new[] { 1000 }, 1, low, high).ToArray(), v => Assert.True(v >= low && v < high, $"{v:R} in [{low:R}, {high:R})"));
    }

    [Fact]
    public void ScatterAdd_refuses_indices_shaped_unlike_the_tensor_and_names_them()
    {
        // Indices [3, 2] for a [2, 3] tensor: as many elements, read in the tensor's layout, would scatter silently.
        var x = Tensor.FromArray(new[] { 1.0, 2, 3, 4, 5, 6 }, 2, 3);
        Assert.Equal("indices", Assert.Throws<ShapeException>(() => x.ScatterAdd(0, Tensor.FromArray(new[] { 0.0, 1, 0, 1, 0, 1 }, 3, 2), 2, 3)).ParamName);
        Assert.Equal("indices", Assert.Throws<ShapeException>(() => x.ScatterAdd(0, Tensor.FromArray(new[] { 0.0, 1, 0, 1, 0, 1 }, 6), 2, 3)).ParamName);
        // An index out of range is named by the C# parameter too, as is Select's.
        Assert.Equal("indices", Assert.Throws<ShapeException>(() => Tensor.FromArray(new[] { 5.0, 0, 0 }, 3).ScatterAdd(0, Tensor.FromArray(new[] { 5.0, 0, 0 }, 3), 2)).ParamName);
        Assert.Equal("index", Assert.Throws<ShapeException>(() => Tensor.Zeros(2, 3).Select(1, 5)).ParamName);
    }

    [Fact]
    public void SiLU_at_infinities_takes_its_limits_with_their_slopes()
    {
        // x·σ(x) and its slope are ∞·0 at ±∞ (NaN, TorchSharp's too); the limits are −0 and ∞, with slopes 0 and 1.
        var x = Tensor.FromArray(new[] { double.NegativeInfinity, double.PositiveInfinity, -1e300, 0 }, 4);
        Assert.Equal(new[] { -0.0, double.PositiveInfinity, -0.0, 0 }, x.Silu().ToArray());
        Assert.True(double.IsNegative(x.Silu().ToArray()[0]));
        Assert.Equal(new[] { 0.0, 1, 0, 0.5 }, Autodiff.Grad(t => t.Silu().Sum(), x).ToArray());
        // The replay on TorchSharp names the difference and checks ours there against the limits.
        var r = Functional.CrossCheck.TorchSharpCheck.Verify(xs => (xs[0].Silu() * 0.5).Sum(), x);
        Assert.True(r.Passed, r.ToString());
        Assert.Contains("TorchSharp's SiLU is NaN", r.Details);
    }

    [Fact]
    public void A_NaN_in_a_lower_triangular_matrix_makes_its_whole_inverse_NaN()
    {
        // A lower triangular matrix is inverted by substitution, which spread a NaN to the rows below it only.
        foreach (var a in new[] { new[] { 1.0, 0, double.NaN, 1 }, new[] { double.NaN, 0, 1, 1 }, new[] { 1.0, 0, 1, double.NaN } })
            Assert.All(Linalg.Inverse(Tensor.FromArray(a, 2, 2)).ToArray(), v => Assert.True(double.IsNaN(v), $"[{string.Join(", ", a)}]"));
    }

    [Fact]
    public void Batches_of_more_matrices_than_an_array_holds_are_refused_and_many_empty_ones_cost_nothing()
    {
        // 65536·65536 wrapped to 0: an empty tensor shaped [65536, 65536] came back.
        var wrapped = Tensor.Zeros(65536, 65536, 0, 0);
        Assert.Equal("a", Assert.Throws<ShapeException>(() => Linalg.Det(wrapped)).ParamName);
        Assert.Throws<ShapeException>(() => Linalg.LogDet(wrapped));
        Assert.Throws<ShapeException>(() => Linalg.Inverse(wrapped));
        Assert.Throws<ShapeException>(() => Linalg.Solve(wrapped, Tensor.Zeros(65536, 65536, 0, 2)));
        // 2·10⁹ determinants of 0×0 matrices: 16 GB of ones, past the memory limit (Array.Init ran out of memory).
        var many = Tensor.Zeros(50_000, 40_000, 0, 0);
        Assert.Throws<MemoryLimitException>(() => Linalg.Det(many));
        // No elements to fill: returned at once (each of 2·10⁹ matrices was visited).
        Assert.Equal(new[] { 50_000, 40_000, 0, 0 }, Linalg.Inverse(many).Shape.ToArray());
        Assert.Equal(new[] { 50_000, 40_000, 0, 0 }, Linalg.Cholesky(many).Shape.ToArray());
        Assert.Equal(new[] { 50_000, 40_000, 0, 3 }, Linalg.Solve(many, Tensor.Zeros(50_000, 40_000, 0, 3)).Shape.ToArray());
        Assert.Equal(new[] { 50_000, 40_000, 0, 3 }, Linalg.SolveTriangular(many, Tensor.Zeros(50_000, 40_000, 0, 3), false).Shape.ToArray());
        Assert.Equal(new[] { 3, 2 }, Linalg.Det(Tensor.Zeros(3, 2, 0, 0)).Shape.ToArray());
        Assert.Equal(new[] { 1.0, 1, 1, 1, 1, 1 }, Linalg.Det(Tensor.Zeros(3, 2, 0, 0)).ToArray());
    }

    [Fact]
    public void Joins_selections_flips_and_contractions_of_huge_or_empty_shapes_are_refused_or_returned_at_once()
    {
        // The joined length wrapped: [0, −1294967296] came back from two empty [0, 1.5·10⁹] tensors.
        Assert.Equal("tensors", Assert.Throws<ShapeException>(() => Tensor.Concat(1, Tensor.Zeros(0, 1_500_000_000), Tensor.Zeros(0, 1_500_000_000))).ParamName);
        Assert.Equal(new[] { 0, 2_000_000_000 }, Tensor.Concat(1, Tensor.Zeros(0, 1_000_000_000), Tensor.Zeros(0, 1_000_000_000)).Shape.ToArray());
        // 70,000 copies of 65,536 elements wrapped to 2.3 GB allocated, then an ArgumentException from a copy.
        var row = Tensor.Zeros(65_536);
        Assert.Throws<MemoryLimitException>(() => Tensor.Stack(0, Enumerable.Repeat(row, 70_000).ToArray()));
        Assert.Throws<ShapeException>(() => Tensor.Concat(0, Enumerable.Repeat(row, 70_000).ToArray()));
        Assert.Throws<MemoryLimitException>(() => Tensor.Concat(1, Enumerable.Repeat(Tensor.Zeros(60_000, 1), 60_000).ToArray()));
        // 3.6·10⁹ selected elements wrapped negative ("count must be non-negative").
        Assert.Throws<MemoryLimitException>(() => Tensor.Zeros(1, 60_000).IndexSelect(0, new int[60_000]));
        // 4.6·10¹⁸ empty rows were visited one by one.
        Assert.Equal(new[] { 2147483647, 2147483647, 0 }, Tensor.Zeros(2147483647, 2147483647, 0).Flip(1).Shape.ToArray());
        // An empty operand: batch offsets over 2.5·10⁹ matrices wrapped negative; strides of a diagonal too.
        Assert.Equal(new[] { 50_000, 50_000, 0, 0 }, Einsum.Contract("bxck,bcky->bcxy", Tensor.Zeros(50_000, 0, 50_000, 2), Tensor.Zeros(50_000, 50_000, 2, 0)).Shape.ToArray());
        var diagonal = Einsum.Contract("kiij->i", Tensor.Zeros(0, 50_000, 50_000, 50_000));
        Assert.Equal(new[] { 50_000 }, diagonal.Shape.ToArray());
        Assert.All(diagonal.ToArray(), v => Assert.Equal(0.0, v));
        // Sums of nothing are zeros, and their gradients have the operands' shapes.
        Assert.Equal(new[] { 0.0, 0, 0 }, Einsum.Contract("ij,jk->ik", Tensor.Ones(3, 0), Tensor.Ones(0, 1)).ToArray());
        var g = Autodiff.Grad(x => Einsum.Contract("ij,jk->ik", x, Tensor.Ones(0, 1)).Sum(), Tensor.Ones(3, 0));
        Assert.Equal(new[] { 3, 0 }, g.Shape.ToArray());
        // Still refused past the limit, as with non-empty operands.
        Assert.Throws<MemoryLimitException>(() => Einsum.Contract("ab,c->ac", Tensor.Zeros(60_000, 0), Tensor.Zeros(60_000)));
    }

    [Fact]
    public void Cross_entropy_with_probabilities_of_another_rank_names_their_shape()
    {
        // Class indices passed as a tensor read "probabilities has −1 rows for 4 rows of logits".
        var e = Assert.Throws<ShapeException>(() => Loss.CrossEntropy(Tensor.Random(1, 4, 3), Tensor.FromArray(new[] { 0.0, 2, 1, 1 }, 4)));
        Assert.Equal("probabilities", e.ParamName);
        Assert.Contains("[4]", e.Message);
        Assert.DoesNotContain("-1", e.Message);
    }

    [Fact]
    public void A_scope_ended_inside_a_gradients_function_is_named_as_the_cause_of_the_released_tensor()
    {
        // The message said to keep the tensor, which this function did: what its backward pass reads was released.
        var e = Assert.Throws<ObjectDisposedException>(() => Autodiff.Grad(x =>
        {
            using var s = Tensor.NewScope();
            return s.Keep((x * x).Exp().Sum());
        }, Tensor.Random(1, 20_000)));
        Assert.Contains("gradient transform", e.Message);
    }

    [Fact]
    public void Soft_label_cross_entropy_takes_0_log_0_as_0_where_a_logit_is_minus_infinity()
    {
        // A class masked with −∞ and given probability 0: −∞·0 made the loss NaN while its gradient stayed finite.
        var logits = Tensor.FromArray(new[] { 0.0, double.NegativeInfinity, 1, 2 }, 2, 2);
        var p = Tensor.FromArray(new[] { 1.0, 0, 0.25, 0.75 }, 2, 2);
        var loss = Loss.CrossEntropy(logits, p).ToScalar();
        double l1 = Math.Log(Math.Exp(1) + Math.Exp(2));
        Assert.Equal(-(0.25 * (1 - l1) + 0.75 * (2 - l1)) / 2, loss, 15);
        var g = Autodiff.Grad(x => Loss.CrossEntropy(x, p), logits).ToArray();
        double s1 = Math.Exp(1 - l1);
        var expected = new[] { 0.0, 0, (s1 - 0.25) / 2, (1 - s1 - 0.75) / 2 };
        for (int k = 0; k < 4; k++) Assert.Equal(expected[k], g[k], 14);
        // The labels overload agrees on the masked row.
        Assert.Equal(0.0, Loss.CrossEntropy(Tensor.FromArray(new[] { 0.0, double.NegativeInfinity }, 1, 2), new[] { 0 }).ToScalar());
        // ∂/∂p: −log q/N, and at the masked class the largest double over N (the limit is +∞).
        var gp = Autodiff.Grad(q => Loss.CrossEntropy(logits, q), p).ToArray();
        Assert.Equal(new[] { 0.0, double.MaxValue / 2 }, gp[..2]);
        // Finite logits: the bits of the plain composite.
        var x = Tensor.Random(3, 4, 5);
        var q = (Tensor.Random(4, 4, 5) * 3).Softmax(1);
        Assert.Equal((-((x.LogSoftmax(1) * q).Sum() / 4)).ToScalar(), Loss.CrossEntropy(x, q).ToScalar());
    }
}
