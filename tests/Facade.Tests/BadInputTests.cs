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
        Assert.Equal(r.Square().Sum().Sqrt().ToScalar(), Linalg.Norm(r * 1e5).ToScalar() / 1e5, 1e-20);
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
        // A cross-check against TorchSharp whose reference is ∞ no longer passes any finite value.
        var c = TorchSharpCheck.Compare(xs => xs[0] * 0 + 5, ts => ts[0] * 0 + double.PositiveInfinity, Tensor.Ones(2));
        Assert.False(c.Passed);
    }

    [Fact]
    public void Second_derivatives_stay_finite_where_the_first_is()
    {
        // ELU's second derivative is α·eˣ below 0 and 0 above: e⁷¹⁰ = ∞ made 0·∞ = NaN there.
        var h = Autodiff.Hessian(x => x.Elu(1.0).Sum(), Tensor.FromArray(new[] { 710.0, double.PositiveInfinity, -1 }, 3)).ToArray();
        Assert.Equal(new[] { 0.0, 0, 0, 0, 0, 0, 0, 0, Math.Exp(-1) }, h);
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
        Assert.Equal("customOps", Assert.Throws<ShapeException>(() => TorchSharpCheck.Verify(xs => twice(xs).Sum(), wrongShape, Tensor.Ones(2))).ParamName);
        Assert.Equal("customOps", Assert.Throws<ShapeException>(() => TorchSharpEngine.Run(xs => twice(xs).Sum(), "cpu", wrongShape, Tensor.Ones(2))).ParamName);
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

/// <summary>The first hour's messages: each names the C# member and parameter the user called, never the core's.</summary>
public class CSharpTermsTests
{
    private static void Says<T>(Action call, string member, string? parameter) where T : ArgumentException
    {
        var e = Assert.Throws<T>(call);
        Assert.StartsWith(member, e.Message);
        Assert.Equal(parameter, e.ParamName);
    }

    [Fact]
    public void The_reported_messages_are_in_CSharp_terms()
    {
        Says<ShapeException>(() => Tensor.Zeros(2, 3).ToScalar(), "Tensor.ToScalar needs a tensor with one element", "this");
        var h = Assert.Throws<ShapeException>(() => Autodiff.Hessian(x => x * 2, Tensor.Zeros(3)));
        Assert.StartsWith("Autodiff.Hessian: ", h.Message);
        Assert.Contains("Autodiff.Vjp or Autodiff.Jacobian", h.Message);
        Assert.DoesNotContain("grad needs", h.Message);
        Says<ShapeException>(() => Tensor.Zeros(2, 3).Softmax(2), "Tensor.Softmax: ", "axis");
        Says<ShapeException>(() => Tensor.Zeros(2, 3).MatMul(Tensor.Zeros(2, 3)), "MatMul: inner dimensions differ", "other");
        Says<ShapeException>(() => Autodiff.Jvp(x => x.Exp(), Tensor.Zeros(3), Tensor.Zeros(4)), "Autodiff.Jvp: ", "v");
        Says<ShapeException>(() => Tensor.FromArray(new[] { 1.0, 2, 3 }), "Tensor.FromArray: 3 values need a shape", "shape");
        var c = Assert.ThrowsAny<ArgumentException>(() => Einsum.Contract("ij,jk->ik", Tensor.Zeros(2, 3)));
        Assert.Contains("1 tensor was given", c.Message);
    }

    [Fact]
    public void Shapes_compare_by_value_with_operators_too()
    {
        var t = Tensor.Zeros(2, 3);
        // Each Shape is a new object: == compared references and was false even for t.Shape == t.Shape.
        Assert.True(t.Shape == t.Shape);
        Assert.True(t.Shape == Tensor.Ones(2, 3).Shape);
        Assert.True(t.Shape != Tensor.Zeros(3, 2).Shape);
        Assert.False(t.Shape == null);
    }

    [Fact]
    public void Sizes_that_overflow_or_hold_a_zero_and_bounds_at_the_double_range_are_handled()
    {
        // Rows sharing one array need no memory; their copy would: 50,000² wrapped to a negative array length.
        var row = new double[50_000];
        Assert.Throws<MemoryLimitException>(() => Tensor.FromArray(Enumerable.Repeat(row, 50_000).ToArray()));
        // A zero dimension after large ones: 0 elements, not "more than an array can hold".
        Assert.Equal(0, Tensor.Zeros(100_000, 100_000, 0).Count);
        // Bounds at ±double.MaxValue: high − low overflowed, giving ±∞ and NaN.
        var wide = Tensor.Uniform(new[] { 1000 }, 3, -double.MaxValue, double.MaxValue).ToArray();
        Assert.All(wide, v => Assert.True(double.IsFinite(v)));
        Assert.Contains(wide, v => v < 0);
        Assert.Contains(wide, v => v > 0);
        Assert.Equal("high", Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Uniform(new[] { 2 }, 3, 0, double.PositiveInfinity)).ParamName);
        foreach (var t in FsCheck.Fluent.Gen.Sample(Generators.Tensor(new[] { 100 }, -double.MaxValue, double.MaxValue), 5))
            Assert.All(t.ToArray(), v => Assert.True(double.IsFinite(v)));
        foreach (var t in FsCheck.Fluent.Gen.Sample(Generators.Tensor(new[] { 100 }, -double.MaxValue, double.MaxValue, 1.0, 0.0), 5))
            Assert.All(t.ToArray(), v => Assert.True(double.IsFinite(v) && Math.Abs(v) >= 1.0));
    }

    [Fact]
    public void Infinite_hyperparameters_and_options_that_would_fail_correct_rules_are_refused()
    {
        // ∞ passed `> 0` and turned the first step's parameters into ±∞ or NaN.
        Assert.Equal("learningRate", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(double.PositiveInfinity)).ParamName);
        Assert.Equal("epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(1e-3, 0.9, 0.999, double.PositiveInfinity, 0)).ParamName);
        Assert.Equal("weightDecay", Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(1e-3, double.PositiveInfinity)).ParamName);
        // The message says the value once.
        var m = Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(-1)).Message;
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(m, "Actual value was"));
        // A zero step made every central difference NaN, and a correct rule FAILED.
        Func<Tensor[], Tensor> square = xs => xs[0] * xs[0];
        Assert.Throws<ArgumentOutOfRangeException>(() => RuleCheck.Run(square, new RuleCheckOptions { RelativeStep = 0 }, Tensor.Random(1, 3)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RuleCheck.Run(square, new RuleCheckOptions { AbsoluteTolerance = double.NaN }, Tensor.Random(1, 3)));
        Assert.True(RuleCheck.Run(square, Tensor.Random(1, 3)).Passed);
        // Gradients near 1e200: Σg² overflowed, the norm was ∞ and every gradient became 0.
        var big = Gradients.ClipByNorm(new[] { Tensor.FromArray(new[] { 3e200, 4e200 }, 2) }, 1.0);
        Assert.Equal(5e200, big.Norm, 1e186);
        Assert.Equal(new[] { 0.6, 0.8 }, big.Gradients[0].ToArray().Select(v => Math.Round(v, 12)));
        // ∞ clips nothing (the norm alone), as in torch.
        Assert.Equal(5.0, Gradients.ClipByNorm(new[] { Tensor.FromArray(new[] { 3.0, 4 }, 2) }, double.PositiveInfinity).Norm);
        // ... whatever the gradients hold: ∞/(∞ + 1e-6) made every gradient NaN, the finite ones too.
        foreach (var odd in new[] { double.PositiveInfinity, double.NaN })
        {
            var unclipped = Gradients.ClipByNorm(new[] { Tensor.FromArray(new[] { 3.0, odd }, 2), Tensor.FromArray(new[] { -2.0 }, 1) }, double.PositiveInfinity);
            Assert.Equal(new[] { 3.0, odd }, unclipped.Gradients[0].ToArray());
            Assert.Equal(new[] { -2.0 }, unclipped.Gradients[1].ToArray());
        }
        // A finite bound scales by 0 where the norm is ∞ and by NaN where it is NaN, as torch's default.
        Assert.Equal(new[] { 0.0, double.NaN }, Gradients.ClipByNorm(new[] { Tensor.FromArray(new[] { 3.0, double.PositiveInfinity }, 2) }, 1.0).Gradients[0].ToArray());
        Assert.All(Gradients.ClipByNorm(new[] { Tensor.FromArray(new[] { 3.0, double.NaN }, 2) }, 1.0).Gradients[0].ToArray(), v => Assert.True(double.IsNaN(v)));
    }

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

    [Fact]
    public void Printing_never_makes_a_huge_array_or_throws_and_stays_short()
    {
        // A lazy 40,000² zeros (12.8 GB as an array) printed from its one value.
        Assert.Contains("shape=[40000, 40000]", Tensor.Zeros(40_000, 40_000).ToString());
        // 6⁸ elements: no axis is longer than 6, so every element printed (10 MB of text); now first and last per axis.
        var deep = Tensor.Ones(6, 6, 6, 6, 6, 6, 6, 6).ToString();
        Assert.True(deep.Length < 20_000, $"{deep.Length} characters");
        // Twenty axes of length 2 elided nothing: a million numbers. Printed flat now, first and last.
        var halves = Tensor.FromArray(Enumerable.Range(0, 1 << 20).Select(i => (double)i).ToArray(), Enumerable.Repeat(2, 20).ToArray()).ToString();
        Assert.True(halves.Length < 200, halves);
        Assert.Contains("[0, 1, 2, ..., 1.04857E+06, 1.04857E+06, 1.04858E+06], 1048576 elements in row-major order", halves);
        Assert.True(Tensor.Zeros(Enumerable.Repeat(2, 30).ToArray()).ToString().Length < 400);
        // Rank 100,000 recursed once per axis, past the stack.
        Assert.Contains("[1], 1 element in row-major order", Tensor.Ones(Enumerable.Repeat(1, 100_000).ToArray()).ToString());
        // A released tensor says so (a debugger calls ToString) instead of throwing.
        Tensor kept;
        using (Tensor.NewScope()) kept = Tensor.Random(1, 3) * 2;
        Assert.Contains("released", kept.ToString());
        Assert.Contains("null", new OptimizerStep(new Tensor[] { null! }, null!).ToString());
        Assert.Throws<ArgumentNullException>(() => Tensor.ValueComparer.GetHashCode(null!));
    }

    [Fact]
    public void A_generated_case_outlives_the_scope_it_was_first_read_in_and_keeps_its_shapes()
    {
        var c = Generators.Build(7, new EinsumOptions());
        Tensor[] first;
        using (Tensor.NewScope())
        {
            EinsumCheck.Metamorphic(c);
            first = c.Operands;
        }
        // Its operands were first read in that scope but made outside every scope: the scope's end leaves them, so
        // another reader (another thread's, in a shared case) still holds live operands.
        Assert.All(first, t => Assert.False(t.IsReleased));
        Assert.Same(first, c.Operands);
        Assert.Equal(Einsum.Contract(c.Equation, c.Operands).Shape, Einsum.Contract(c.Equation, c.Operands).Shape);
        var shapes = c.Shapes;
        if (shapes.Length > 0 && shapes[0].Length > 0) shapes[0][0] += 5;
        Assert.Equal(c.Operands[0].Shape.ToArray(), c.Shapes[0]);
    }

    [Fact]
    public void Values_that_give_NaN_everywhere_are_refused_and_core_names_map_to_the_member_s()
    {
        Assert.Equal("start", Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Linspace(double.NaN, 0, 3)).ParamName);
        Assert.Equal("stop", Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Linspace(0, double.PositiveInfinity, 3)).ParamName);
        Assert.Equal("mean", Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Normal(new[] { 2 }, 1, double.NaN, 1)).ParamName);
        Assert.Equal("negativeSlope", Assert.Throws<ArgumentException>(() => Tensor.Random(1, 3).LeakyRelu(double.NaN)).ParamName);
        Assert.Equal("alpha", Assert.Throws<ArgumentException>(() => Tensor.Random(1, 3).Elu(double.NaN)).ParamName);
        // The core's parameter names (vs, xs, lo, c) reported as the C# member's.
        Assert.Equal("v", Assert.ThrowsAny<ArgumentException>(() => Autodiff.Jvp(x => x.Exp(), Tensor.Zeros(3), Tensor.Zeros(2))).ParamName);
        Assert.Equal("tensors", Assert.ThrowsAny<ArgumentException>(() => Tensor.Concat(0)).ParamName);
        Assert.Equal("min", Assert.ThrowsAny<ArgumentException>(() => Tensor.Zeros(2).Clamp(2, 1)).ParamName);
        Assert.Equal("convention", Assert.ThrowsAny<ArgumentException>(() => Tensor.Zeros(2).LeakyRelu(0.1, (KinkConvention)42)).ParamName);
        // The facade's own checks keep their words and parameter.
        var scalarNorm = Assert.Throws<ShapeException>(() => Tensor.Scalar(1).LayerNorm(1e-5));
        Assert.Equal("this", scalarNorm.ParamName);
        Assert.StartsWith("Tensor.LayerNorm normalises", scalarNorm.Message);
        Assert.Equal("this", Assert.Throws<ShapeException>(() => Tensor.Scalar(1).RmsNorm(1e-5)).ParamName);
        // An empty input still runs f once: a non-scalar f is refused as for any other input.
        Assert.Throws<ShapeException>(() => Autodiff.Hessian(x => x * 2, Tensor.Zeros(0)));
    }

    [Fact]
    public void Losses_refuse_shapes_that_pair_every_prediction_with_every_target()
    {
        // [N, 1] against [N] broadcast to [N, N]: the mean of every pairing, a silent wrong loss.
        var p = Tensor.Random(1, 4, 1);
        var t = Tensor.Random(2, 4);
        foreach (var loss in new Func<Tensor>[] { () => Loss.Mse(p, t), () => Loss.L1(p, t), () => Loss.Huber(p, t, 1.0), () => Loss.BinaryCrossEntropyWithLogits(p, t) })
            Assert.Contains("broadcast to [4, 4]", Assert.Throws<ShapeException>(loss).Message);
        // A broadcast that only repeats one side (a [C] target over [N, C], a scalar) is kept.
        Assert.True(double.IsFinite(Loss.Mse(Tensor.Random(3, 4, 3), Tensor.Random(4, 3)).ToScalar()));
        Assert.True(double.IsFinite(Loss.Mse(Tensor.Random(3, 4, 3), Tensor.Zeros(1)).ToScalar()));
        // Probabilities of another shape than the logits.
        Assert.Equal("probabilities", Assert.Throws<ShapeException>(() => Loss.CrossEntropy(Tensor.Random(5, 4, 3), Tensor.Ones(4, 1))).ParamName);
    }

    [Fact]
    public void Cholesky_s_forward_mode_agrees_with_its_gradient_for_any_tangent()
    {
        // f(A) = ½L₁₀² at a positive definite A: the Hessian from forward over reverse must be symmetric, and ⟨∇f, V⟩
        // must equal the JVP along a non-symmetric V.
        var a = Tensor.FromArray(new[] { 4.0, 1, 1, 3 }, 2, 2);
        Func<Tensor, Tensor> f = m => { var l = Linalg.Cholesky(m); var e = l.Narrow(0, 1, 1).Narrow(1, 0, 1); return (e * e).Sum() * 0.5; };
        var v = Tensor.FromArray(new[] { 0.0, 1, 0, 0 }, 2, 2);
        double viaGrad = (Autodiff.Grad(f, a) * v).Sum().ToScalar();
        double viaJvp = Autodiff.Jvp(f, a, v).Tangent.ToScalar();
        Assert.Equal(viaGrad, viaJvp, 14);
        var h = Autodiff.Hessian(f, a).Reshape(4, 4).ToArray2D();
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                Assert.True(Math.Abs(h[i, j] - h[j, i]) <= 1e-12, $"H[{i},{j}] = {h[i, j]}, H[{j},{i}] = {h[j, i]}");
    }
}
