using Functional;
using Functional.CrossCheck;
using Xunit;

namespace Functional.Facade.Tests;

public class GradientCheckTests
{
    [Fact]
    public void Run_reports_a_pass()
    {
        var r = GradientCheck.Run(xs => (xs[0].Gelu() * xs[1]).Sum(), Tensor.Random(1, 3), Tensor.Random(2, 3));
        Assert.True(r.Passed, r.ToString());
        Assert.Equal(6, r.Checked);
        Assert.StartsWith("passed", r.ToString());
    }

    [Fact]
    public void A_report_names_a_real_element_even_when_every_element_agrees_exactly()
    {
        // A constant function: analytic and numeric gradients are exactly 0 everywhere.
        var r = GradientCheck.Run(xs => Tensor.Scalar(1) + xs[0].Sum() * 0, Tensor.Ones(3));
        Assert.True(r.Passed, r.ToString());
        Assert.Equal((0, 0, 0.0, 0.0), (r.WorstInput, r.WorstIndex, r.Analytic, r.Numeric));
        var none = GradientCheck.Run(xs => xs[0].Sum(), Tensor.Zeros(0));
        Assert.Equal((0, -1), (none.Checked, none.WorstIndex));
        Assert.Equal("passed: no elements to check", none.ToString());
    }

    [Fact]
    public void A_large_output_beside_a_small_one_does_not_fail_the_small_one_s_check()
    {
        // ⟨w, f⟩ is about 1e8 here: its rounding, over 2h, is as large as the small element's whole tolerance.
        var r = GradientCheck.Run(xs => xs[0] * xs[0], Tensor.FromArray(new[] { 1e4, 0.3 }, 2));
        Assert.True(r.Passed, r.ToString());
    }

    [Fact]
    public void Tolerances_are_parameters()
    {
        // An impossible tolerance fails, and the report says where.
        var r = GradientCheck.Run(xs => xs[0].Exp().Sum(), 1e-3, 0, 1e-30, Tensor.Random(3, 4));
        Assert.False(r.Passed);
        Assert.InRange(r.WorstIndex, 0, 3);
    }

    [Fact]
    public void The_default_tolerances_are_torchs_atol_1e_5_and_rtol_1e_3()
    {
        // Derivatives near 0.01, the rule off by 5e-4 (5 %): over atol + rtol·|d| = 2e-5 with torch's tolerances,
        // within them with the two swapped (1e-3 + 1e-7).
        var off = CustomOp.Create("off", xs => xs[0] * xs[0], (xs, y, g, i) => g * (xs[0] * 2 + 5e-4), (xs, y, i, t) => t * (xs[0] * 2 + 5e-4));
        var at = Tensor.FromArray(new[] { 0.005, -0.004, 0.006 }, 3);
        Assert.False(GradientCheck.Run(xs => off(xs).Sum(), at).Passed);
        Assert.True(GradientCheck.Run(xs => off(xs).Sum(), 1e-6, 1e-3, 1e-5, at).Passed);
        // A right rule at the same points passes with the defaults.
        Assert.True(GradientCheck.Run(xs => (xs[0] * xs[0]).Sum(), at).Passed);
    }

    [Fact]
    public void A_wrong_rule_of_a_non_scalar_function_is_caught_through_the_projection()
    {
        // The VJP transposes nothing and scales by 2: wrong in every element, seen through ⟨f(x), w⟩.
        var op = CustomOp.Create("double-wrong", xs => xs[0] * 3, (xs, y, g, i) => g * 2, (xs, y, i, t) => t * 3);
        var r = GradientCheck.Run(xs => op(xs), Tensor.Random(1, 2, 3));
        Assert.False(r.Passed, r.ToString());
        Assert.True(GradientCheck.Run(xs => xs[0] * 3, Tensor.Random(1, 2, 3)).Passed);
    }

    /// <summary>y = M·x (40 outputs, 3 inputs) with a VJP that drops output k's adjoint, for every k: the fixed
    /// projections drew normal weights, one of them 0.007 (GradientCheck, output 37) and one 5·10⁻⁶ (TorchSharpCheck,
    /// output 33), which hid that output's error in every check. Weights now have magnitudes 0.5 to 1.5.</summary>
    [Fact]
    public void A_pullback_wrong_at_any_one_output_fails_both_checks_whatever_that_output()
    {
        var m = Tensor.Random(7, 40, 3);
        var x = Tensor.Random(8, 3);
        var mt = TorchSharp.torch.tensor(m.ToArray(), new long[] { 40, 3 }, TorchSharp.torch.float64);
        for (int k = 0; k < 40; k++)
        {
            var mask = Tensor.FromArray(Enumerable.Range(0, 40).Select(i => i == k ? 0.0 : 1.0).ToArray(), 40);
            var op = CustomOp.Create("drops-" + k, xs => Einsum.Contract("ij,j->i", m, xs[0]),
                (xs, y, g, i) => Einsum.Contract("ij,i->j", m, g * mask), (xs, y, i, t) => Einsum.Contract("ij,j->i", m, t));
            var check = GradientCheck.Run(xs => op(xs), x);
            Assert.False(check.Passed, $"GradientCheck, output {k}: {check}");
            var compared = TorchSharpCheck.Compare(xs => op(xs), ts => TorchSharp.torch.matmul(mt, ts[0]), 1e-5, 1e-8, x);
            Assert.False(compared.Passed, $"TorchSharpCheck, output {k}: {compared}");
        }
    }

    [Fact]
    public void The_step_is_relative_so_large_inputs_are_not_false_alarms()
    {
        // At 1e8 an absolute step of 1e-6 is 67 ulps of x: the identity's difference quotient was 0.9986.
        var r = GradientCheck.Run(xs => (xs[0] * xs[1]).Sum(), Tensor.FromArray(new[] { 1e8, -3e9 }, 2), Tensor.FromArray(new[] { 0.5, 2 }, 2));
        Assert.True(r.Passed, r.ToString());
    }

    [Fact]
    public void A_finite_difference_that_overflows_fails_instead_of_agreeing_with_a_wrong_infinity()
    {
        // exp just below its overflow: exp(x + h) is ∞, so the difference is ∞; a rule giving 2·eˣ = ∞ agreed with it.
        var op = CustomOp.Create("exp-wrong", xs => xs[0].Exp(), (xs, y, g, i) => g * y * 2, (xs, y, i, t) => t * y * 2);
        var x = Tensor.FromArray(new[] { 709.78271289 - 5e-7 }, 1);
        var r = GradientCheck.Run(xs => op(xs).Sum(), x);
        Assert.False(r.Passed, r.ToString());
        Assert.True(double.IsInfinity(r.Numeric), r.ToString());
    }
}
