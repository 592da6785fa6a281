using Functional.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Functional.Facade.Tests;

/// <summary>Custom ops from C# and the rule checker: correct rules pass, planted wrong ones are named.</summary>
public class RuleCheckTests(ITestOutputHelper output)
{
    // softsign(x) = x / (1 + |x|), written with |x| = √(x²); d/dx = 1 / (1 + |x|)².
    private static Tensor Abs(Tensor x) => (x * x).Sqrt();
    private static Tensor Slope(Tensor x) => 1 / ((1 + Abs(x)) * (1 + Abs(x)));

    private static Func<Tensor[], Tensor> Softsign(Func<Tensor[], Tensor, Tensor, int, Tensor>? vjp = null, Func<Tensor[], Tensor, int, Tensor, Tensor>? jvp = null) =>
        CustomOp.Create("softsign", xs => xs[0] / (1 + Abs(xs[0])),
            vjp ?? ((xs, y, g, i) => g * Slope(xs[0])),
            jvp ?? ((xs, y, i, t) => t * Slope(xs[0])));

    private static readonly Tensor X = Tensor.FromArray(new[] { -1.5, -0.7, -0.2, 0.3, 0.9, 2.0 }, 2, 3);

    /// <summary>Runs the check, prints its report, and asserts that it failed at <paramref name="check"/>.</summary>
    private RuleCheckReport FailsAt(string check, Func<Tensor[], Tensor> op, params Tensor[] inputs)
    {
        var report = RuleCheck.Run(op, inputs);
        output.WriteLine(report.ToString());
        Assert.False(report.Passed);
        Assert.Equal(check, report.FailedCheck);
        return report;
    }

    [Fact]
    public void A_large_output_beside_a_small_one_does_not_fail_the_small_one_s_VJP()
    {
        // ⟨w, f⟩ is about 1e8 here: its rounding, over 2h, is as large as the small element's whole tolerance.
        var square = CustomOp.Create("square", xs => xs[0] * xs[0], (xs, y, g, i) => g * xs[0] * 2, (xs, y, i, t) => t * xs[0] * 2);
        foreach (var seed in new[] { 1, 2, 3, 4, 5, 6, 7, 8 })
        {
            var report = RuleCheck.Run(square, new RuleCheckOptions { Seed = seed }, Tensor.FromArray(new[] { 1e4, 0.3 }, 2));
            Assert.True(report.Passed, report.ToString());
        }
    }

    [Fact]
    public void A_correct_custom_op_passes_every_check_and_differentiates_to_any_order()
    {
        var op = Softsign();
        var report = RuleCheck.Run(op, X);
        output.WriteLine(report.ToString());
        Assert.True(report.Passed, report.ToString());
        Assert.Null(report.FailedCheck);
        // Its gradient and Hessian through the ordinary transforms.
        var h = Autodiff.Hessian(x => op(new[] { x }).Sum(), X);
        Assert.Equal(new[] { 2, 3, 2, 3 }, h.Shape);
    }

    [Fact]
    public void A_VJP_wrong_for_negative_inputs_is_caught_and_named()
    {
        // Right for x > 0, the sign of the slope flipped for x < 0.
        var op = Softsign(vjp: (xs, y, g, i) => g * Slope(xs[0]) * (xs[0] / Abs(xs[0])));
        var report = FailsAt("VJP", op, X);
        Assert.Contains("element 0", report.Details);
    }

    [Fact]
    public void A_VJP_wrong_only_at_the_last_element_is_caught_there()
    {
        // 1 % off at element 5 of 6 alone (x = 2), the JVP right: every element of a small input is checked.
        static Tensor LastOff(Tensor x) => Slope(x) * (1 + Tensor.FromArray(Enumerable.Range(0, x.Count).Select(k => k == x.Count - 1 ? 0.01 : 0).ToArray(), x.Shape.ToArray()));
        var op = Softsign(vjp: (xs, y, g, i) => g * LastOff(xs[0]));
        var report = FailsAt("VJP", op, X);
        Assert.Contains("element 5 (value 2)", report.Details);
    }

    [Fact]
    public void A_wrong_JVP_is_caught_and_named()
    {
        var op = Softsign(jvp: (xs, y, i, t) => t * Slope(xs[0]) * 1.01);
        FailsAt("JVP", op, X);
    }

    [Fact]
    public void Rules_that_do_not_differentiate_fail_the_second_order_check()
    {
        // The slope taken as a constant (its values copied out): first order right, second order wrong.
        var op = Softsign(vjp: (xs, y, g, i) => g * Tensor.FromArray(Slope(xs[0]).ToArray(), xs[0].Shape.ToArray()),
                          jvp: (xs, y, i, t) => t * Tensor.FromArray(Slope(xs[0]).ToArray(), xs[0].Shape.ToArray()));
        FailsAt("second order", op, X);
    }

    [Fact]
    public void A_VJP_that_reads_its_output_gradient_as_numbers_fails_the_second_order_check()
    {
        // A linear map wrapped as a native one: y = A·x, the VJP Aᵀ·g from g's numbers. With ⟨w, f⟩ alone the Hessian is 0
        // on both sides and this passed; a Hessian of |A·x|² through it came out 0 instead of 2AᵀA.
        var a = Tensor.FromArray(new[] { 1.0, 2.0, -1.0, 0.5, 3.0, -2.0 }, 2, 3);
        var op = CustomOp.Create("linear", xs => Einsum.Contract("ij,j->i", a, xs[0]),
            (xs, y, g, i) => Einsum.Contract("ij,i->j", a, Tensor.FromArray(g.ToArray(), g.Shape.ToArray())),
            (xs, y, i, t) => Einsum.Contract("ij,j->i", a, t));
        FailsAt("second order", op, Tensor.FromArray(new[] { 0.3, -1.2, 0.8 }, 3));
        var right = CustomOp.Create("linear", xs => Einsum.Contract("ij,j->i", a, xs[0]),
            (xs, y, g, i) => Einsum.Contract("ij,i->j", a, g), (xs, y, i, t) => Einsum.Contract("ij,j->i", a, t));
        Assert.True(RuleCheck.Run(right, Tensor.FromArray(new[] { 0.3, -1.2, 0.8 }, 3)).Passed);
    }

    [Fact]
    public void A_JVP_built_from_its_inputs_numbers_fails_the_JVP_second_order_check()
    {
        // The VJP right, the JVP's slope copied out of x: every first-order check and the Hessian (reverse rules) pass,
        // a JVP differentiated again does not.
        var op = Softsign(jvp: (xs, y, i, t) => t * Tensor.FromArray(Slope(xs[0]).ToArray(), xs[0].Shape.ToArray()));
        FailsAt("JVP second order", op, X);
    }

    [Fact]
    public void A_rule_that_ignores_its_output_gradient_fails_the_gradient_check_of_a_scalar_function()
    {
        // Σx² with the VJP 2x for any g: with g = 1 (a one-element result) it agreed with the finite differences.
        var sumsq = CustomOp.Create("sumsq", xs => (xs[0] * xs[0]).Sum(), (xs, y, g, i) => 2 * xs[0], (xs, y, i, t) => (2 * xs[0] * t).Sum());
        var x = Tensor.FromArray(new[] { 0.5, -1.5, 2.0 }, 3);
        Assert.False(GradientCheck.Run(xs => sumsq(xs), x).Passed);
        var right = CustomOp.Create("sumsq", xs => (xs[0] * xs[0]).Sum(), (xs, y, g, i) => g * 2 * xs[0], (xs, y, i, t) => (2 * xs[0] * t).Sum());
        var report = GradientCheck.Run(xs => right(xs), x);
        Assert.True(report.Passed, report.ToString());
        // The report shows f's own derivative, the projection divided out.
        Assert.Equal(report.Numeric, report.Analytic, 6);
        Assert.Contains(report.Analytic, new[] { 1.0, -3.0, 4.0 });
    }

    [Fact]
    public void Correct_rules_pass_the_second_order_checks_at_large_values()
    {
        // A JVP with a large part that does not move with x: the sums' rounding, over 2h, passed the tolerance when the
        // difference was taken after the projection. e^x at 400: Jᵀf overflowed with ⟨w, f⟩ + ½⟨f, f⟩ unscaled.
        var large = RuleCheck.Run(xs => xs[0] * 1e8 + xs[0] * xs[0] * xs[0], Tensor.Random(1, 4));
        Assert.True(large.Passed, large.ToString());
        var exp = RuleCheck.Run(xs => xs[0].Exp(), Tensor.FromArray(new[] { 400.0, 1.0 }, 2));
        Assert.True(exp.Passed, exp.ToString());
        // A one-element result near the top of the range: −2·g would overflow; −½·g does not.
        var top = GradientCheck.Run(xs => xs[0].Exp().Sum(), Tensor.FromArray(new[] { 709.5 }, 1));
        Assert.True(top.Passed, top.ToString());
    }

    [Fact]
    public void Built_in_ops_pass()
    {
        foreach (var (name, op, inputs) in new (string, Func<Tensor[], Tensor>, Tensor[])[]
        {
            ("gelu", xs => xs[0].Gelu(), new[] { Tensor.Random(1, 3, 4) }),
            ("einsum", xs => Einsum.Contract("bij,bjk->bik", xs), new[] { Tensor.Random(2, 2, 3, 4), Tensor.Random(3, 2, 4, 2) }),
            ("log-softmax", xs => xs[0].LogSoftmax(1), new[] { Tensor.Random(4, 3, 5) }),
        })
        {
            var report = RuleCheck.Run(op, inputs);
            Assert.True(report.Passed, $"{name}: {report}");
        }
    }

    [Fact]
    public void Large_inputs_are_checked_along_random_directions_and_still_catch_a_wrong_VJP()
    {
        var big = Tensor.Random(5, 100, 100);
        Assert.True(RuleCheck.Run(Softsign(), big).Passed);
        var wrong = RuleCheck.Run(Softsign(vjp: (xs, y, g, i) => g * Slope(xs[0]) * (xs[0] / Abs(xs[0]))), big);
        Assert.Equal("VJP", wrong.FailedCheck);
    }

    [Fact]
    public void Large_inputs_are_also_checked_at_single_elements_where_a_shared_error_hides_in_a_random_direction()
    {
        // A reduction over 10,000 elements whose JVP and VJP share one 1 % error, at the first element: along a random
        // direction it is below a tolerance that grows with the whole inner product; a sampled element shows it.
        static Tensor Wrong(Tensor x) => Slope(x) * (1 + Tensor.FromArray(Enumerable.Range(0, x.Count).Select(k => k == 0 ? 0.01 : 0).ToArray(), x.Shape.ToArray()));
        var op = CustomOp.Create("softsign-sum", xs => (xs[0] / (1 + Abs(xs[0]))).Sum(),
            (xs, y, g, i) => g * Wrong(xs[0]), (xs, y, i, t) => (t * Wrong(xs[0])).Sum());
        var big = Tensor.Random(5, 100, 100);
        var report = FailsAt("VJP", op, big);
        Assert.Contains("element 0", report.Details);
    }

    [Fact]
    public void An_empty_input_past_the_full_Jacobian_limit_has_no_element_to_sample()
    {
        // The sampled elements of a large input: none for an empty one (it indexed element 0).
        var report = RuleCheck.Run(Softsign(), new RuleCheckOptions { FullJacobianLimit = -1 }, Tensor.Zeros(4, 0, 4));
        Assert.True(report.Passed, report.ToString());
    }

    [Fact]
    public void A_VJP_that_ignores_which_input_it_is_for_is_caught()
    {
        // x·y with the adjoint of x given for both inputs (i ignored).
        var op = CustomOp.Create("mul", xs => xs[0] * xs[1], (xs, y, g, i) => g * xs[1], (xs, y, i, t) => t * xs[1 - i]);
        var report = FailsAt("VJP", op, Tensor.Random(1, 2, 3), Tensor.Random(2, 2, 3));
        Assert.Contains("input 1", report.Details);
    }

    [Fact]
    public void A_JVP_off_by_less_than_the_finite_difference_tolerance_fails_the_adjoint_identity()
    {
        // 0.05 % is inside rtol = 1e-3 against central differences; the JVP and the VJP then disagree.
        var op = Softsign(jvp: (xs, y, i, t) => t * Slope(xs[0]) * 1.0005);
        FailsAt("adjoint identity", op, X);
    }

    [Fact]
    public void Each_input_takes_a_step_of_its_own_scale()
    {
        // tanh(x)·s with s near 1e5: a step scaled to s moved x by 0.1, and tanh's curvature failed a right rule.
        var report = RuleCheck.Run(xs => xs[0].Tanh() * xs[1], Tensor.Random(1, 3), Tensor.FromArray(new[] { 1e5, 2e5, -1.5e5 }, 3));
        Assert.True(report.Passed, report.ToString());
    }

    [Fact]
    public void Each_element_takes_a_step_of_its_own_scale()
    {
        // One step for the whole input, scaled to 1000, moved 0.0005 across zero (log and √ NaN there), and moved 0.5
        // by 0.1 beside 1e5 (tanh's curvature there): correct rules failed.
        var log = RuleCheck.Run(xs => xs[0].Log(), Tensor.FromArray(new[] { 1000.0, 0.0005 }, 2));
        Assert.True(log.Passed, log.ToString());
        Assert.True(RuleCheck.Run(xs => xs[0].Sqrt(), Tensor.FromArray(new[] { 1000.0, 0.0005 }, 2)).Passed, "sqrt");
        var tanh = RuleCheck.Run(xs => xs[0].Tanh(), Tensor.FromArray(new[] { 1e5, 0.5 }, 2));
        Assert.True(tanh.Passed, tanh.ToString());
        // Still a check: a wrong rule at those points fails.
        var wrongLog = CustomOp.Create("wrong log", xs => xs[0].Log(), (xs, y, g, i) => g / xs[0] * 1.01, (xs, y, i, t) => t / xs[0] * 1.01);
        Assert.False(RuleCheck.Run(wrongLog, Tensor.FromArray(new[] { 1000.0, 0.0005 }, 2)).Passed);
    }

    [Fact]
    public void A_rule_that_throws_or_returns_the_wrong_shape_is_a_failed_check_naming_the_op()
    {
        var shape = RuleCheck.Run(CustomOp.Create("bad shape", xs => xs[0] * 2, (xs, y, g, i) => g.Sum(), (xs, y, i, t) => t * 2), Tensor.Random(1, 3));
        Assert.False(shape.Passed);
        Assert.Equal("VJP", shape.FailedCheck);
        Assert.Contains("'bad shape'", shape.Details);
        var throws = RuleCheck.Run(CustomOp.Create("unary", xs => xs[0] * 2, (xs, y, g, i) => g * 2, (xs, y, i, t) => xs[1] * t), Tensor.Random(1, 3));
        Assert.False(throws.Passed);
        Assert.Equal("JVP", throws.FailedCheck);
        Assert.Contains("IndexOutOfRangeException", throws.Details);
        var nulls = RuleCheck.Run(CustomOp.Create("null", xs => xs[0] * 2, (xs, y, g, i) => null!, (xs, y, i, t) => t * 2), Tensor.Random(1, 3));
        Assert.Equal("VJP", nulls.FailedCheck);
        Assert.Contains("returned null", nulls.Details);
    }

    [Fact]
    public void A_custom_forward_that_uses_a_value_being_differentiated_is_refused_not_a_zero_gradient()
    {
        var s0 = Tensor.FromArray(new[] { 2.0 }, 1);
        Func<Tensor, Func<Tensor[], Tensor>> scaleBy = s => CustomOp.Create("scaleBy", xs => xs[0] * s, (xs, y, g, i) => g * s, (xs, y, i, t) => t * s);
        var e = Assert.Throws<InvalidOperationException>(() => Autodiff.Grad(s => scaleBy(s)(new[] { Tensor.Ones(3) }).Sum(), s0));
        Assert.Contains("'scaleBy'", e.Message);
        Assert.Throws<InvalidOperationException>(() => Autodiff.Jvp(s => scaleBy(s)(new[] { Tensor.Ones(3) }).Sum(), s0, Tensor.Ones(1)));
        // Outside a transform, or with s a constant there, it is an ordinary op.
        Assert.Equal(6.0, scaleBy(s0)(new[] { Tensor.Ones(3) }).Sum().ToScalar());
        Assert.Equal(new[] { 2.0, 2, 2 }, Autodiff.Grad(x => scaleBy(s0)(new[] { x }).Sum(), Tensor.Ones(3)).ToArray());
    }

    [Fact]
    public void A_rule_returning_the_wrong_shape_is_a_typed_error_naming_the_op()
    {
        var op = CustomOp.Create("bad", xs => xs[0].Sum(), (xs, y, g, i) => g, (xs, y, i, t) => t.Sum());
        var e = Assert.Throws<ShapeException>(() => Autodiff.Grad(x => op(new[] { x }), Tensor.Random(1, 3)));
        Assert.Contains("'bad'", e.Message);
        Assert.Contains("VJP", e.Message);
    }
}
