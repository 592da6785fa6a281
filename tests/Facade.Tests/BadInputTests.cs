using Functional.CrossCheck;
using Functional.Testing;
using TorchSharp;
using Xunit;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Functional.Facade.Tests;

/// <summary>The reproductions of defects found under attack, through the facade as a C# user meets them.</summary>
public class BadInputTests
{
    /// <summary>An error said again in the terms of the C# member keeps where the core found it: the inner exception
    /// (ArgumentException) or the core's frames in the stack trace (ShapeException, ArgumentOutOfRangeException).</summary>
    [Fact]
    public void A_translated_error_keeps_the_core_frames_that_found_it()
    {
        var shape = Assert.Throws<ShapeException>(() => Linalg.Det(Tensor.Zeros(2, 3)));
        Assert.StartsWith("Linalg.Det: ", shape.Message);
        Assert.Contains("Functional.Core.Linalg", shape.StackTrace);
        Assert.Contains("Functional.Linalg.Det", shape.StackTrace);
        var singular = Assert.Throws<ArgumentException>(() => Linalg.Inverse(Tensor.Zeros(2, 2)));
        Assert.Contains("Functional.Core.Linalg", singular.InnerException!.StackTrace);
        // One passed on as it is (an EinsumException, not rebuilt) keeps the frames where it was thrown.
        var einsum = Assert.Throws<EinsumException>(() => Einsum.Contract("ij,jk->", Tensor.Ones(2, 2)));
        Assert.Contains("Functional.Core", einsum.StackTrace);
    }

    [Fact]
    public void A_shape_of_more_than_64_axes_is_refused_in_the_callers_terms()
    {
        var e = Assert.Throws<ShapeException>(() => Tensor.Zeros(Enumerable.Repeat(1, 65).ToArray()));
        Assert.Contains("Tensor.Zeros", e.Message);
        Assert.Contains("at most 64", e.Message);
        Assert.Equal("shape", e.ParamName);
        Assert.Throws<ShapeException>(() => Tensor.FromArray(new[] { 1.0 }, 1).Reshape(Enumerable.Repeat(1, 100_000).ToArray()));
    }

    /// <summary>A custom op's rule that returns the wrong shape is named by CustomOp.Create's parameter (vjp), wherever
    /// the rule runs: not pinned on a pullback's only parameter, nor dropped by Grad.</summary>
    [Fact]
    public void A_custom_op_rule_s_error_keeps_the_rule_s_name()
    {
        var bad = CustomOp.Create("bad", xs => xs[0] * 2, (xs, y, g, i) => g.Sum(), (xs, y, i, t) => t * 2);
        Assert.Equal("vjp", Assert.Throws<ShapeException>(() => Autodiff.Vjp(x => bad(new[] { x }), Tensor.Ones(3)).Pullback(Tensor.Ones(3))).ParamName);
        Assert.Equal("vjp", Assert.Throws<ShapeException>(() => Autodiff.Grad(x => bad(new[] { x }).Sum(), Tensor.Ones(3))).ParamName);
        // Of the right rank but another length: a [1] would broadcast into the gradient, silently wrong.
        var kept = CustomOp.Create("kept", xs => xs[0] * 2, (xs, y, g, i) => g.Sum(new[] { 0 }, true), (xs, y, i, t) => t.Sum(new[] { 0 }, true));
        var e = Assert.Throws<ShapeException>(() => Autodiff.Grad(x => kept(new[] { x }).Sum(), Tensor.Ones(3)));
        Assert.Equal("vjp", e.ParamName);
        Assert.Contains("The VJP of custom op 'kept' for input 0 returned shape [1]; it must be [3].", e.Message);
        Assert.Equal("jvp", Assert.Throws<ShapeException>(() => Autodiff.Jvp(x => kept(new[] { x }), Tensor.Ones(3), Tensor.Ones(3))).ParamName);
    }

    [Fact]
    public void LogSoftmax_of_equal_large_entries_is_minus_ln_n_with_its_gradient()
    {
        var x = Tensor.FromArray(new[] { 1e20, 1e20, 1e20, 1e20 }, 4);
        Assert.Equal(new[] { -1.3862943611198906, -1.3862943611198906, -1.3862943611198906, -1.3862943611198906 }, x.LogSoftmax(0).ToArray());
        var g = Autodiff.Grad(t => (t.LogSoftmax(0) * Tensor.FromArray(new[] { 1.0, 0, 0, 0 }, 4)).Sum(), x);
        Assert.Equal(new[] { 0.75, -0.25, -0.25, -0.25 }, g.ToArray());
    }

    [Fact]
    public void Nll_reads_only_the_labelled_entries_so_log_zero_elsewhere_stays_finite()
    {
        var logP = Tensor.FromArray(new[] { Math.Log(0.25), double.NegativeInfinity, Math.Log(0.75), Math.Log(0.5), Math.Log(0.5), double.NegativeInfinity }, 2, 3);
        var loss = Loss.Nll(logP, new[] { 0, 1 });
        Assert.Equal(-(Math.Log(0.25) + Math.Log(0.5)) / 2, loss.ToScalar(), 15);
        var g = Autodiff.Grad(t => Loss.Nll(t, new[] { 0, 1 }), logP);
        Assert.Equal(new[] { -0.5, 0, 0, 0, -0.5, 0 }, g.ToArray());
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Loss.Nll(logP, new[] { 0, 3 }));
        Assert.Equal("labels", e.ParamName);
    }

    /// <summary>Class weights and an ignored label, as PyTorch's weight and ignore_index: ignored rows are left out
    /// before anything is computed from them (NaN or ∞ scores there change nothing, their gradient is exactly 0);
    /// weights of 1 give the plain losses' bits; the weights' own gradient passes finite differences; every row
    /// ignored is NaN; the ignore index need not be a class; bad weights and labels are named.</summary>
    [Fact]
    public void Class_weights_and_an_ignored_label_follow_PyTorch_and_leave_ignored_rows_untouched()
    {
        var logits = Tensor.FromArray(new[] { 0.5, -1.0, 2.0, double.NaN, double.PositiveInfinity, 0.0, 1.5, 0.25, -0.75, 3.0, -2.0, 0.5 }, 4, 3);
        int[] labels = { 2, -100, 0, 1 };
        var kept = Tensor.FromArray(new[] { 0.5, -1.0, 2.0, 1.5, 0.25, -0.75, 3.0, -2.0, 0.5 }, 3, 3);
        int[] keptLabels = { 2, 0, 1 };
        Assert.Equal(Loss.CrossEntropy(kept, keptLabels).ToScalar(), Loss.CrossEntropy(logits, labels, -100).ToScalar());
        var g = Autodiff.Grad(t => Loss.CrossEntropy(t, labels, -100), logits).ToArray();
        Assert.Equal(new[] { 0.0, 0, 0 }, g[3..6]);
        Assert.All(g, v => Assert.True(double.IsFinite(v)));
        Assert.Equal(Loss.Nll(kept.LogSoftmax(1), keptLabels).ToScalar(), Loss.Nll(logits.LogSoftmax(1), labels, -100).ToScalar());
        // Weights of 1: the plain losses, bit for bit.
        var ones = Tensor.Ones(3);
        Assert.Equal(Loss.CrossEntropy(kept, keptLabels).ToScalar(), Loss.CrossEntropy(kept, keptLabels, ones).ToScalar());
        Assert.Equal(Loss.Nll(kept.LogSoftmax(1), keptLabels).ToScalar(), Loss.Nll(kept.LogSoftmax(1), keptLabels, ones).ToScalar());
        // Σ w[y]·ℓ / Σ w[y], and the weights' gradient by finite differences.
        var w = Tensor.FromArray(new[] { 0.5, 2.0, 1.5 }, 3);
        var l = (-kept.LogSoftmax(1)).ToArray();
        double want = (1.5 * l[2] + 0.5 * l[3] + 2.0 * l[7]) / (1.5 + 0.5 + 2.0);
        Assert.Equal(want, Loss.CrossEntropy(logits, labels, w, -100).ToScalar(), 14);
        // Weighted and ignored: the ignored row's gradient is exactly 0 and every gradient finite; Nll the same.
        var gw = Autodiff.Grad(t => Loss.CrossEntropy(t, labels, w, -100), logits).ToArray();
        Assert.Equal(new[] { 0.0, 0, 0 }, gw[3..6]);
        Assert.All(gw, v => Assert.True(double.IsFinite(v)));
        var logP = logits.LogSoftmax(1);
        var gn = Autodiff.Grad(t => Loss.Nll(t, labels, w, -100), logP).ToArray();
        Assert.Equal(new[] { 0.0, 0, 0 }, gn[3..6]);
        Assert.Equal(-1.5 / 4.0, gn[2], 15);
        Assert.Equal("labels", Assert.Throws<ArgumentOutOfRangeException>(() => Loss.Nll(kept, new[] { 0, 3, 1 }, 1)).ParamName);
        Assert.Equal("weights", Assert.Throws<ArgumentNullException>(() => Loss.CrossEntropy(kept, keptLabels, (Tensor)null!)).ParamName);
        Assert.True(GradientCheck.Run(x => Loss.CrossEntropy(x[0], keptLabels, x[1]), kept, w).Passed);
        // Every row ignored: 0/0, as PyTorch's mean over nothing.
        Assert.True(double.IsNaN(Loss.CrossEntropy(kept, new[] { 1, 1, 1 }, 1).ToScalar()));
        Assert.True(double.IsNaN(Loss.Nll(kept, new[] { 1, 1, 1 }, w, 1).ToScalar()));
        Assert.Equal("weights", Assert.Throws<ShapeException>(() => Loss.CrossEntropy(kept, keptLabels, Tensor.Ones(4))).ParamName);
        Assert.Equal("weights", Assert.Throws<ShapeException>(() => Loss.Nll(kept, keptLabels, Tensor.Ones(3, 1), 0)).ParamName);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Loss.CrossEntropy(kept, new[] { 0, 5, -100 }, -100));
        Assert.Equal("labels", e.ParamName);
        Assert.StartsWith("Loss.CrossEntropy: ", e.Message);
    }

    [Fact]
    public void Plan_rejects_null_and_negative_shapes_with_typed_errors()
    {
        var e = Assert.Throws<ArgumentNullException>(() => Einsum.Plan("ij,jk->ik", new[] { 3, 4 }, null!));
        Assert.Equal("shapes[1]", e.ParamName);
        Assert.Throws<EinsumException>(() => Einsum.Plan("ij,jk->ik", new[] { 3, -4 }, new[] { -4, 5 }));
    }

    [Fact]
    public void Element_counts_are_checked_against_the_real_array_limit()
    {
        Assert.Equal(2147483591, Limits.MaxElements);
        Assert.Throws<ShapeException>(() => Tensor.Zeros(2147483592));
        Assert.Throws<ShapeException>(() => Tensor.Random(1, int.MaxValue));
        Assert.Throws<MemoryLimitException>(() => Tensor.Zeros(2147483591).Sum());
    }

    [Fact]
    public void Results_above_the_memory_limit_are_refused_before_allocation()
    {
        Assert.Throws<MemoryLimitException>(() => Tensor.Ones(40000, 1) + Tensor.Ones(1, 40000));
        var x = Tensor.Random(1, 50000);
        Assert.Throws<MemoryLimitException>(() => Autodiff.Hessian(t => (t * t).Sum(), x));
        Assert.Throws<MemoryLimitException>(() => Autodiff.Jacobian(t => t.Exp(), x));
        Assert.Throws<ArgumentOutOfRangeException>(() => Limits.MemoryLimitBytes = 0);
    }

    [Fact]
    public void The_worker_spin_takes_0_to_1000_milliseconds_and_nothing_else()
    {
        double before = Limits.WorkerSpinMilliseconds;
        Assert.Equal(20.0, before);
        foreach (double bad in new[] { -1.0, 1000.5, double.NaN, double.PositiveInfinity })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => Limits.WorkerSpinMilliseconds = bad);
            Assert.Equal("value", e.ParamName);
        }
        Assert.Equal(before, Limits.WorkerSpinMilliseconds);
        Limits.WorkerSpinMilliseconds = before;
    }

    [Fact]
    public void A_function_that_returns_null_is_an_argument_error_naming_it()
    {
        var e = Assert.Throws<ArgumentException>(() => Autodiff.Grad((Tensor _) => null!, Tensor.Ones(2)));
        Assert.Equal("f", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientCheck.Run(xs => xs[0].Sum(), double.NaN, 1e-5, 1e-3, Tensor.Ones(2)));
    }

    [Fact]
    public void Norms_of_any_order_and_magnitude_are_the_norm_and_its_gradient()
    {
        var x = Tensor.FromArray(new[] { 3.0, -7 }, 2);
        // ∞ passed the p ≥ 1 check and gave (Σ|x|^∞)^0 = 1 with a zero gradient.
        Assert.Equal(7.0, Linalg.Norm(x, double.PositiveInfinity).ToScalar());
        Assert.Equal(new[] { 0.0, -1 }, Autodiff.Grad(t => Linalg.Norm(t, double.PositiveInfinity), x).ToArray());
        Assert.Equal(new[] { 0.0, -0.5, 0.5 }, Autodiff.Grad(t => Linalg.Norm(t, double.PositiveInfinity), Tensor.FromArray(new[] { 1.0, -2, 2 }, 3)).ToArray());
        Assert.Equal("x", Assert.Throws<ShapeException>(() => Linalg.Norm(Tensor.Zeros(0), double.PositiveInfinity)).ParamName);
        // Squares that underflow or overflow: the norm and x/‖x‖ stay right.
        foreach (double s in new[] { 1e-170, 1e-310, 1e200, 1.7e308 })
        {
            var t = Tensor.FromArray(new[] { 0.6 * s, 0.8 * s }, 2);
            Assert.Equal(s, Linalg.Norm(t).ToScalar(), s * 1e-15);
            Assert.Equal(new[] { 0.6, 0.8 }, Autodiff.Grad(Linalg.Norm, t).ToArray().Select(g => Math.Round(g, 12)));
            Assert.Equal(s, Linalg.Norm(t, 2).ToScalar(), s * 1e-15);
            Assert.Equal(Math.Pow(Math.Pow(0.6, 3) + Math.Pow(0.8, 3), 1.0 / 3) * s, Linalg.Norm(t, 3).ToScalar(), s * 1e-14);
        }
        // Where √(Σ x²) neither overflows nor underflows the scaling changes no bit.
        var r = Tensor.Random(5, 40);
        double direct = r.Square().Sum().Sqrt().ToScalar();
        Assert.Equal(direct, Linalg.Norm(r * 1e5).ToScalar() / 1e5, direct * 1e-15);
        Assert.Equal(BitConverter.DoubleToInt64Bits((r * 3).Square().Sum().Sqrt().ToScalar()), BitConverter.DoubleToInt64Bits(Linalg.Norm(r * 3).ToScalar()));
        Assert.Equal(double.PositiveInfinity, Linalg.Norm(Tensor.FromArray(new[] { 1.0, double.PositiveInfinity }, 2)).ToScalar());
        Assert.True(double.IsNaN(Linalg.Norm(Tensor.FromArray(new[] { 1.0, double.NaN }, 2)).ToScalar()));
        Assert.Equal(0.0, Linalg.Norm(Tensor.Zeros(3)).ToScalar());
        // Large orders and subnormal inputs: the largest term of the scaled sum is 1, never ∞ or 0.
        Assert.Equal(1.5, Linalg.Norm(Tensor.FromArray(new[] { 1.5 }, 1), 2000).ToScalar(), 1e-15);
        Assert.Equal(3.0, Linalg.Norm(Tensor.FromArray(new[] { 3.0, -1 }, 2), 10000).ToScalar(), 1e-14);
        Assert.Equal(new[] { 1.0 }, Autodiff.Grad(t => Linalg.Norm(t, 2000), Tensor.FromArray(new[] { 1.5 }, 1)).ToArray().Select(g => Math.Round(g, 12)));
        Assert.Equal(1e-310, Linalg.Norm(Tensor.FromArray(new[] { 1e-310 }, 1), 200).ToScalar(), 1e-324);
    }

    [Fact]
    public void Squared_error_of_an_infinite_difference_is_infinite_on_every_path()
    {
        var inf = Tensor.FromArray(new[] { double.PositiveInfinity, 1 }, 2);
        Assert.Equal(double.PositiveInfinity, Loss.Mse(inf, Tensor.Zeros(2)).ToScalar());
        Assert.Equal(double.PositiveInfinity, Loss.Mse(inf, Tensor.Zeros(1)).ToScalar());
        Assert.Equal(double.PositiveInfinity, Loss.Mse(Tensor.FromArray(new[] { 1e308 }, 1), Tensor.FromArray(new[] { -1e308 }, 1)).ToScalar());
        Assert.Equal(double.PositiveInfinity, Loss.Huber(inf, Tensor.Zeros(2), double.PositiveInfinity).ToScalar());
        // δ = ∞ is ½d² on the broadcast path too (it took ∞·0 = NaN at every finite d).
        var p = Tensor.Random(3, 2, 3);
        var t = Tensor.Random(4, 3);
        Assert.Equal((0.5 * (p - t).Square()).Mean().ToScalar(), Loss.Huber(p, t, double.PositiveInfinity).ToScalar());
        Assert.Equal(Loss.Mse(p, t).ToScalar() / 2, Loss.Huber(p, t, double.PositiveInfinity).ToScalar(), 15);
    }

    [Fact]
    public void ArgMax_and_ArgMin_point_at_the_first_NaN_wherever_it_is()
    {
        foreach (var (values, at) in new[] { (new[] { 1.0, double.NaN, 3 }, 1), (new[] { double.NaN, 1.0, 3 }, 0), (new[] { 1.0, 3, double.NaN, double.NaN }, 2) })
        {
            var x = Tensor.FromArray(values, values.Length);
            Assert.Equal(at, x.ArgMax(0).ToScalar());
            Assert.Equal(at, x.ArgMin(0).ToScalar());
        }
        var m = Tensor.FromArray(new[] { 1.0, 5, 2, double.NaN, 0, 4 }, 2, 3);
        Assert.Equal(new[] { 1.0, 0 }, m.ArgMax(1).ToArray());
        Assert.Equal(new[] { 0.0, 0 }, m.ArgMin(1).ToArray());
        Assert.Equal(new[] { 1.0, 0, 1 }, m.ArgMax(0).ToArray());
        // Between signed zeros they point at what Max and Min return (+0 above −0), in either order.
        foreach (var zeros in new[] { new[] { -0.0, 0.0 }, new[] { 0.0, -0.0 } })
        {
            var z = Tensor.FromArray(zeros, 2);
            Assert.Equal(BitConverter.DoubleToInt64Bits(z.Max().ToScalar()), BitConverter.DoubleToInt64Bits(zeros[(int)z.ArgMax(0).ToScalar()]));
            Assert.Equal(BitConverter.DoubleToInt64Bits(z.Min().ToScalar()), BitConverter.DoubleToInt64Bits(zeros[(int)z.ArgMin(0).ToScalar()]));
        }
    }

    [Fact]
    public void Stack_refuses_axes_beyond_its_range_instead_of_stacking_elsewhere()
    {
        var a = Tensor.Ones(3);
        Assert.Equal(new[] { 2, 3 }, Tensor.Stack(-2, a, a).Shape.ToArray());
        Assert.Equal(new[] { 3, 2 }, Tensor.Stack(-1, a, a).Shape.ToArray());
        Assert.Equal(new[] { 3, 2 }, Tensor.Stack(1, a, a).Shape.ToArray());
        foreach (int axis in new[] { -3, -4, 2 })
            Assert.Equal("axis", Assert.Throws<ShapeException>(() => Tensor.Stack(axis, a, a)).ParamName);
    }

    [Fact]
    public void ReLU_with_a_kink_convention_is_ReLU_below_zero_minus_infinity_included()
    {
        var x = Tensor.FromArray(new[] { double.NegativeInfinity, -3, 0, 2, double.NaN }, 5);
        foreach (var c in new[] { KinkConvention.LeftDerivative, KinkConvention.RightDerivative, KinkConvention.Midpoint })
        {
            var y = x.Relu(c).ToArray();
            Assert.Equal(new[] { 0.0, 0, 0, 2 }, y[..4]);
            Assert.True(double.IsPositive(y[0]) && double.IsPositive(y[1]), "+0 below 0, as Relu()");
            Assert.True(double.IsNaN(y[4]));
            Assert.Equal(x.Relu().ToArray()[..4], x.LeakyRelu(0, c).ToArray()[..4]);
        }
        Assert.Equal(new[] { 0.0, 0, 1, 1 }, Autodiff.Grad(t => t.Relu(KinkConvention.RightDerivative).Sum(), x).ToArray()[..4]);
    }

    [Fact]
    public void Every_loss_of_an_empty_batch_is_NaN_as_a_mean_of_nothing()
    {
        var logits = Tensor.Zeros(0, 3);
        Assert.True(double.IsNaN(Loss.CrossEntropy(logits, Array.Empty<int>()).ToScalar()));
        Assert.True(double.IsNaN(Loss.Nll(logits, Array.Empty<int>()).ToScalar()));
        Assert.True(double.IsNaN(Loss.CrossEntropy(logits, Tensor.Zeros(0, 3)).ToScalar()));
        Assert.True(double.IsNaN(Loss.Mse(Tensor.Zeros(0), Tensor.Zeros(0)).ToScalar()));
        Assert.Equal(new[] { 0, 3 }, Autodiff.Grad(t => Loss.CrossEntropy(t, Array.Empty<int>()), logits).Shape.ToArray());
    }

    [Fact]
    public void An_unfilled_index_position_and_a_negative_epsilon_are_refused_by_name()
    {
        var t = Tensor.Ones(2, 3);
        var positions = new TensorIndex[2];
        positions[0] = 1;
        Assert.Equal("indices", Assert.Throws<ArgumentException>(() => t[positions]).ParamName);
        positions[1] = ..;
        Assert.Equal(new[] { 3 }, t[positions].Shape.ToArray());
        foreach (double eps in new[] { -2, double.NaN, double.PositiveInfinity })
            Assert.Equal("epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => t.RmsNorm(eps)).ParamName);
        Assert.Equal(t.RmsNorm(0).ToArray(), t.ToArray());
    }

    [Fact]
    public void A_mean_divides_so_the_mean_of_equal_values_is_that_value()
    {
        Assert.Equal(1.0, Tensor.Ones(49).Mean().ToScalar());
        Assert.Equal(0.1, (Tensor.Ones(3, 49) * 0.1).Mean(1).ToArray()[0]);
        Assert.Equal(1.0 / 49, Autodiff.Grad(t => t.Mean(), Tensor.Ones(49)).ToArray()[0]);
        Assert.Equal(1.0, Loss.Mse(Tensor.Ones(49), Tensor.Zeros(49)).ToScalar());
    }

    [Fact]
    public void Linspace_ends_at_its_endpoints_and_does_not_overflow()
    {
        Assert.Equal(new[] { 1, 0.1 }, Tensor.Linspace(1, 0.1, 2).ToArray());
        Assert.Equal(new[] { 0, 5e307, 1e308 }, Tensor.Linspace(0, 1e308, 3).ToArray());
        Assert.Equal(new[] { -1e308, 0, 1e308 }, Tensor.Linspace(-1e308, 1e308, 3).ToArray());
        Assert.Equal(new[] { 0, 0.25, 0.5, 0.75, 1 }, Tensor.Linspace(0, 1, 5).ToArray());
        Assert.Equal(new[] { 3.0 }, Tensor.Linspace(3, 7, 1).ToArray());
        Assert.Empty(Tensor.Linspace(3, 7, 0).ToArray());
    }

    [Fact]
    public void Closeness_admits_an_infinity_only_against_itself()
    {
        var inf = Tensor.FromArray(new[] { double.PositiveInfinity }, 1);
        Assert.False(Tensor.FromArray(new[] { 5.0 }, 1).AllClose(inf));
        Assert.False((-inf).AllClose(inf));
        Assert.True(inf.AllClose(inf));
        // A cross-check against TorchSharp whose reference is ∞ passes no finite value.
        var c = TorchSharpCheck.Compare(xs => xs[0] * 0 + 5, ts => ts[0] * 0 + double.PositiveInfinity, Tensor.Ones(2));
        Assert.False(c.Passed);
    }

    [Fact]
    public void Second_derivatives_stay_finite_where_the_first_is()
    {
        // ELU's second derivative is α·eˣ below 0 and 0 above: e⁷¹⁰ = ∞ made 0·∞ = NaN there.
        var h = Autodiff.Hessian(x => x.Elu(1.0).Sum(), Tensor.FromArray(new[] { 710.0, double.PositiveInfinity, -1 }, 3)).ToArray();
        Assert.Equal(new[] { 0.0, 0, 0, 0, 0, 0, 0, 0, Math.Exp(-1) }, h);
        // At 0 the second derivative takes the first's convention between α (left, PyTorch's) and 0 (right).
        var zero = Tensor.FromArray(new[] { 0.0 }, 1);
        Assert.Equal(0.7, Autodiff.Hessian(x => x.Elu(0.7).Sum(), zero).ToScalar(), 15);
        Assert.Equal(0.0, Autodiff.Hessian(x => x.Elu(0.7, KinkConvention.RightDerivative).Sum(), zero).ToScalar());
        Assert.Equal(0.35, Autodiff.Hessian(x => x.Elu(0.7, KinkConvention.Midpoint).Sum(), zero).ToScalar(), 15);
        // Huber's second derivative at |d| = δ is ½/n on every path, broadcast shapes too.
        var p = Tensor.FromArray(new[] { 1.0 }, 1);
        Assert.Equal(0.5, Autodiff.Hessian(x => Loss.Huber(x, Tensor.Zeros(1, 1), 1.0), p).ToScalar());
        Assert.Equal(0.5, Autodiff.Hessian(x => Loss.Huber(x, Tensor.Zeros(1), 1.0), p).ToScalar());
    }

    [Fact]
    public void A_shape_is_indexed_as_the_ops_take_axes_and_refuses_others_with_a_typed_error()
    {
        var shape = Tensor.Zeros(2, 3).Shape;
        Assert.Equal(3, shape[-1]);
        Assert.Equal(2, shape[-2]);
        Assert.Equal(3, shape[^1]);
        Assert.Equal("axis", Assert.Throws<ArgumentOutOfRangeException>(() => shape[2]).ParamName);
        Assert.Equal("axis", Assert.Throws<ArgumentOutOfRangeException>(() => shape[-3]).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Scalar(1).Shape[0]);
    }

    [Fact]
    public void An_optimizer_state_for_fewer_parameters_is_refused_by_name()
    {
        var sgd = new Sgd(0.1);
        var e = Assert.Throws<ArgumentException>(() => sgd.Step(new[] { Tensor.Ones(2) }, new[] { Tensor.Ones(2) }, sgd.Init()));
        Assert.Equal("state", e.ParamName);
    }

    [Fact]
    public void A_state_made_by_another_optimizer_family_is_refused_by_name()
    {
        var ps = new[] { Tensor.Ones(3) };
        var sgd = new Sgd(0.1, 0.9, false, 0);
        var adam = new Adam(1e-3);
        var afterSgd = sgd.Step(ps, ps, sgd.Init(ps)).State;
        var e = Assert.Throws<ArgumentException>(() => adam.Step(ps, ps, afterSgd));
        Assert.Equal("state", e.ParamName);
        Assert.Contains("SGD", e.Message);
        Assert.Equal("state", Assert.Throws<ArgumentException>(() => sgd.Step(ps, ps, adam.Step(ps, ps, adam.Init(ps)).State)).ParamName);
        // Adam and AdamW keep the same moments; a fresh state serves every optimizer.
        Assert.Equal(2, new AdamW(1e-3, 0.01).Step(ps, ps, adam.Step(ps, ps, adam.Init(ps)).State).State.Steps);
        Assert.Equal(1, adam.Step(ps, ps, sgd.Init(ps)).State.Steps);
    }

    [Fact]
    public void Empty_results_long_along_an_axis_are_made_and_large_ones_refused_before_allocation()
    {
        // [3, 0] scattered to 2³¹ − 57 along axis 0 is an empty [2147483591, 0]; along axis 1 it would be 6.4·10⁹ elements.
        Assert.Equal(new[] { 2147483591, 0 }, Tensor.Zeros(3, 0).IndexAdd(0, new[] { 0, 0, 0 }, 2147483591).Shape.ToArray());
        Assert.Throws<MemoryLimitException>(() => Tensor.Zeros(3, 0).IndexAdd(1, Array.Empty<int>(), int.MaxValue));
        Assert.Throws<MemoryLimitException>(() => Tensor.Zeros(0, 3).IndexAdd(0, Array.Empty<int>(), 1073741824));
        var g = Autodiff.Grad(x => x.IndexAdd(0, new[] { 0, 0, 0 }, 2147483591).Sum(), Tensor.Zeros(3, 0));
        Assert.Equal(new[] { 3, 0 }, g.Shape.ToArray());
    }

    [Fact]
    public void Linear_algebra_on_0_by_0_matrices_gives_torch_answers()
    {
        var a = Tensor.Zeros(0, 0);
        Assert.Equal(new[] { 0, 4 }, Linalg.Solve(a, Tensor.Zeros(0, 4)).Shape.ToArray());
        Assert.Equal(new[] { 3, 0, 4 }, Linalg.Solve(Tensor.Zeros(3, 0, 0), Tensor.Zeros(3, 0, 4)).Shape.ToArray());
        Assert.Equal(new[] { 0, 4 }, Linalg.SolveTriangular(a, Tensor.Zeros(0, 4), true).Shape.ToArray());
        Assert.Equal(1.0, Linalg.Det(a).ToScalar());
        Assert.Equal(0.0, Linalg.LogDet(a).ToScalar());
        // A NaN entry makes the determinant NaN, and its sign with it (the other pivots' sign was +1).
        var withNaN = Tensor.FromArray(new[] { double.NaN, 2, 3, 4 }, 2, 2);
        Assert.True(double.IsNaN(Linalg.SignDet(withNaN).ToScalar()));
        Assert.True(double.IsNaN(Linalg.Det(withNaN).ToScalar()));
        Assert.Equal(-1.0, Linalg.SignDet(Tensor.FromArray(new[] { 1, 2, double.PositiveInfinity, 4 }, 2, 2)).ToScalar());
        Assert.Equal(new[] { 0, 0 }, Autodiff.Grad(x => Linalg.Solve(x, Tensor.Ones(0, 4)).Sum(), a).Shape.ToArray());
    }

    [Fact]
    public void A_cross_check_of_a_function_that_uses_no_input_compares_zero_gradients()
    {
        var r = TorchSharpCheck.Compare(xs => Tensor.Scalar(2), ts => TorchSharp.torch.tensor(2.0), Tensor.Ones(3));
        Assert.True(r.Passed, r.ToString());
        var empty = TorchSharpCheck.Compare(xs => Tensor.Scalar(2), ts => TorchSharp.torch.tensor(2.0));
        Assert.True(empty.Passed, empty.ToString());
        var e = Assert.Throws<ShapeException>(() => TorchSharpCheck.Compare(xs => xs[0].Exp(), ts => ts[0].exp().sum(), Tensor.Ones(3)));
        Assert.Equal("theirs", e.ParamName);
        // A NaN both sides agree on, first, does not hide the element that differs in the report.
        var x = Tensor.FromArray(new[] { double.NaN, 1, 2 }, 3);
        var c = TorchSharpCheck.Compare(xs => xs[0] * 1, ts => ts[0] * torch.tensor(new[] { 1.0, 1, 3 }), x);
        Assert.False(c.Passed);
        Assert.Equal(("value", 2, 2.0, 6.0), (c.WorstOutput, c.WorstIndex, c.Functional, c.TorchSharp));
        Assert.True(c.MaxAbsoluteError >= 4.0, c.ToString());
        // A NaN against a number: the largest |Δ| is NaN, not 0 (it was 0, with the report calling the check failed).
        var nan = TorchSharpCheck.Compare(xs => xs[0] * double.NaN, ts => ts[0], Tensor.Scalar(1));
        Assert.False(nan.Passed);
        Assert.True(double.IsNaN(nan.MaxAbsoluteError), nan.ToString());
        // A TorchSharp function that reuses its input array still has its gradients read from the leaves.
        var a = Tensor.FromArray(new[] { 1.0, 2 }, 2);
        var b = Tensor.FromArray(new[] { 3.0, 4 }, 2);
        var reused = TorchSharpCheck.Compare(xs => xs[0] * xs[1], ts => { ts[0] = ts[0] * 1; return ts[0] * ts[1]; }, a, b);
        Assert.True(reused.Passed, reused.ToString());
        // Equal infinities agree and add nothing.
        var inf = TorchSharpCheck.Compare(xs => xs[0] * double.PositiveInfinity, ts => ts[0] * double.PositiveInfinity, Tensor.Scalar(1));
        Assert.Equal(0.0, inf.MaxAbsoluteError);
    }

    [Fact]
    public void Bad_devices_and_bad_custom_forwards_are_named_not_passed_to_LibTorch()
    {
        Assert.Equal("device", Assert.Throws<ArgumentException>(() => TorchSharpEngine.Run(xs => xs[0].Sum(), "ii->i", Tensor.Ones(2))).ParamName);
        bool cuda;
        try { cuda = TorchSharp.torch.cuda.is_available(); } catch (InvalidOperationException) { cuda = false; }
        if (!cuda)
            Assert.Equal("device", Assert.Throws<ArgumentException>(() => TorchSharpEngine.Run(xs => xs[0].Sum(), "cuda", Tensor.Ones(2))).ParamName);
        var twice = CustomOp.Create("twice", xs => xs[0] * 2, (xs, y, g, i) => g * 2, (xs, y, i, t) => t * 2);
        var returnsNull = new Dictionary<string, Func<TorchTensor[], TorchTensor>> { ["twice"] = ts => null! };
        var wrongShape = new Dictionary<string, Func<TorchTensor[], TorchTensor>> { ["twice"] = ts => ts[0].sum() };
        Assert.Equal("customOps", Assert.Throws<ArgumentException>(() => TorchSharpCheck.Verify(xs => twice(xs).Sum(), returnsNull, Tensor.Ones(2))).ParamName);
        // LibTorch would abort the process on the output gradient that does not fit: refused first.
        var shapeError = Assert.Throws<ShapeException>(() => TorchSharpCheck.Verify(xs => twice(xs).Sum(), wrongShape, Tensor.Ones(2)));
        Assert.Equal("customOps", shapeError.ParamName);
        Assert.StartsWith("The TorchSharp forward for custom op 'twice' returned shape []; the op's output has shape [2].", shapeError.Message);
        Assert.Equal("customOps", Assert.Throws<ShapeException>(() => TorchSharpEngine.Run(xs => twice(xs).Sum(), "cpu", wrongShape, Tensor.Ones(2))).ParamName);
        // A forward that doubles its input in place (an earlier operation's value, read again by the sum after it).
        var inPlace = new Dictionary<string, Func<TorchTensor[], TorchTensor>> { ["twice"] = ts => ts[0].mul_(2) };
        var changed = Assert.Throws<ArgumentException>(() => TorchSharpEngine.Run(xs => { var h = xs[0] * 3; return (twice(new[] { h }) + h).Sum(); }, "cpu", inPlace, Tensor.Ones(2)));
        Assert.Equal("customOps", changed.ParamName);
        Assert.Contains("changed its input 0 in place", changed.Message);
    }

    [Fact]
    public void The_testing_kit_refuses_bounds_it_cannot_draw_from()
    {
        Assert.Equal("maxRank", Assert.Throws<ArgumentOutOfRangeException>(() => Generators.Shape(65, 3)).ParamName);
        Assert.Equal("count", Assert.Throws<ArgumentOutOfRangeException>(() => Generators.BroadcastShapes(int.MaxValue, 1, 3)).ParamName);
        var o = Assert.Throws<ArgumentOutOfRangeException>(() => Generators.Einsum(new EinsumOptions { MaxOperands = 9 }));
        Assert.Equal("options", o.ParamName);
        Assert.Contains("EinsumOptions.MaxOperands", o.Message);
        Assert.Throws<MemoryLimitException>(() => Generators.Tensor(new[] { 1, 2147483591 }, 0, 1));
        var r = Assert.Throws<ArgumentException>(() => RuleCheck.Run(xs => null!, Tensor.Ones(2)));
        Assert.Equal("op", r.ParamName);
    }
}
