using System.Collections.Generic;
using Functional.CrossCheck;
using Xunit;
using Xunit.Abstractions;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Functional.Facade.Tests;

/// <summary>Write once, cross-check op by op: TorchSharpCheck.Verify on real models, on a planted wrong rule and on
/// the documented differences.</summary>
public class ReplayTests(ITestOutputHelper output)
{
    private ReplayReport Passes(string what, Func<Tensor[], Tensor> f, int operations, params Tensor[] inputs)
    {
        var r = TorchSharpCheck.Verify(f, inputs);
        output.WriteLine($"{what}: {r.OperationsReplayed} operations replayed\n{r.Details}\n");
        Assert.True(r.Passed, $"{what}: {r}");
        Assert.Null(r.FirstDivergence);
        Assert.Equal(operations, r.OperationsReplayed);
        return r;
    }

    private void Agrees(string what, Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        var r = TorchSharpCheck.Verify(f, inputs);
        output.WriteLine($"{what}: {r.OperationsReplayed} operations replayed\n{r.Details}\n");
        Assert.True(r.Passed, $"{what}: {r}");
    }

    [Fact]
    public void Aliased_tensors_smooth_points_and_infinities_replay_without_false_failures()
    {
        var x = Tensor.Random(21, 4);
        // The same tensor passed twice, and a function's constant that is also its input: separate values.
        Agrees("x·x as two inputs", xs => (xs[0] * xs[1]).Sum(), x, x);
        Agrees("a constant that is also the input", xs => (xs[0] * x).Sum(), x);
        // x·1 returns x itself; the program must not take the product for x.
        Agrees("x·1, then x", xs => (xs[0] * xs[1]).Sum() + xs[1].Sum() * 2, Tensor.Ones(4), x);
        // Softplus is smooth at 0 (a relu-based replay had a kink there).
        Agrees("softplus at 0", xs => xs[0].Softplus().Sum(), Tensor.FromArray(new[] { 0.0, -3, 25, 45 }, 4));
        // A −∞ mask before a max; both GELUs at ±∞ (a documented difference); a tie of infinities.
        var mask = Tensor.FromArray(new[] { 0.0, double.NegativeInfinity, 0, double.NegativeInfinity }, 4);
        Agrees("masked max", xs => (xs[0] + mask).Max(), x);
        Agrees("GELU at ±∞", xs => (xs[0].Gelu() + xs[0].Gelu(GeluApproximation.Tanh)).Max(),
            Tensor.FromArray(new[] { double.NegativeInfinity, -7, 0.5, 3 }, 4));
        var inf = Tensor.FromArray(new[] { double.PositiveInfinity, 1, 2, 3 }, 4);
        Agrees("a tie at ∞", xs => (-xs[0].Maximum(xs[1])).Exp().Sum(), inf, inf * 1.0);
        // A max and min over no axes reduce nothing (libtorch's amax/amin would reduce every axis).
        Agrees("max and min over no axes", xs => (xs[0].Max(Array.Empty<int>(), false) * xs[0]).Sum() + xs[0].Min(Array.Empty<int>(), true).Sum(), x);
        // Empty index arrays.
        Agrees("an empty selection", xs => xs[0].IndexSelect(0, Array.Empty<int>()).Sum() + xs[0].Sum(), x);
        // The gradient program's ops are checked alone too: GELU's slopes in the tail and at ±∞ on TorchSharp.
        var tail = TorchSharpCheck.Verify(xs => (xs[0].Gelu() + xs[0].Gelu(GeluApproximation.Tanh)).Sum(),
            Tensor.FromArray(new[] { -40.0, -7, -1e200, 0.5, 1e200 }, 5));
        Assert.True(tail.Passed, tail.ToString());
        Assert.Contains("gradient-program operations", tail.Details);
        // A gradient inside the function: Huber's slope at |prediction − target| = δ is ½ (ours), 1 (TorchSharp's clamp).
        var target = Tensor.FromArray(new[] { 1.0, 0, 0 }, 3);
        var at = Tensor.FromArray(new[] { 2.0, 0.5, -1 }, 3);
        var r = TorchSharpCheck.Verify(xs => Autodiff.Grad(p => Loss.Huber(p, target, 1.0), xs[0]).Square().Sum(), at);
        Assert.True(r.Passed, r.ToString());
        Assert.Contains("Documented difference, not a failure: huberSlope", r.Details);
    }

    [Fact]
    public void Verify_passes_on_the_seeds_matmul_an_MLP_an_attention_block_and_a_tensor_network()
    {
        // The seed's matmul: C = A·B, summed.
        Passes("seed's matmul", xs => xs[0].MatMul(xs[1]).Sum(), 2, Tensor.Random(1, 3, 4), Tensor.Random(2, 4, 2));
        // A two-layer perceptron with exact GELU and a log-softmax (cross-entropy) loss against soft targets.
        Passes("MLP", xs => (xs[0].MatMul(xs[1]).Gelu().MatMul(xs[2]).LogSoftmax(1) * xs[3]).Sum() * -1, 7,
            Tensor.Random(3, 6, 8), Tensor.Random(4, 8, 16), Tensor.Random(5, 16, 4), Tensor.Random(6, 6, 4).Softmax(1));
        // An attention block: scores, scaling, softmax along the keys, values.
        Passes("attention", xs => Einsum.Contract("bqk,bkd->bqd", (Einsum.Contract("bqd,bkd->bqk", xs[0], xs[1]) * 0.125).Softmax(2), xs[2]).Sum(), 5,
            Tensor.Random(7, 2, 5, 4), Tensor.Random(8, 2, 6, 4), Tensor.Random(9, 2, 6, 4));
        // A four-operand tensor network: the planner's three pairwise einsums.
        Passes("tensor network", xs => Einsum.Contract("ab,cd,bd,ac->", xs), 3,
            Tensor.Random(10, 5, 6), Tensor.Random(11, 7, 8), Tensor.Random(12, 6, 8), Tensor.Random(13, 5, 7));
    }

    [Fact]
    public void Verify_passes_on_the_elementwise_family_layout_and_reductions()
    {
        Passes("elementwise", xs => (xs[0].Exp().Log() + xs[0].Sigmoid() * xs[0].Tanh() + xs[0].Pow(3) / 3 + (xs[0] * xs[0] + 1).Sqrt()
                                   + xs[0].LeakyRelu(0.1, KinkConvention.Midpoint) + xs[0].Relu() + xs[0].Gelu(GeluApproximation.Tanh) + xs[0].Softplus()
                                   + (xs[0] * 30).Softplus() - xs[0].Transpose().Transpose()).Mean(), 29,
            Tensor.Random(14, 3, 4));
    }

    private static readonly Func<Tensor[], Tensor> WrongCube =
        CustomOp.Create("cube", xs => xs[0] * xs[0] * xs[0],
            (xs, y, g, i) => g * 2 * xs[0] * xs[0],          // planted: 2x² where 3x² is right
            (xs, y, i, t) => t * 3 * xs[0] * xs[0]);

    /// <summary>Ten operations, the custom op fifth.</summary>
    private static Tensor TenOps(Tensor[] xs)
    {
        var h = xs[0].MatMul(xs[1]);                       // 1 einsum
        h = (h * 0.5).Tanh();                               // 2 scale, 3 tanh
        h = h + xs[2];                                      // 4 add (broadcast row)
        h = WrongCube(new[] { h });                         // 5 cube
        h = h.Gelu();                                       // 6 gelu
        h = h.MatMul(xs[3]);                                // 7 einsum
        return h.LogSoftmax(1).Tanh().Sum();                // 8 logSoftmax, 9 tanh, 10 sum
    }

    private static readonly Dictionary<string, Func<TorchTensor[], TorchTensor>> TorchCube = new()
    {
        ["cube"] = xs => xs[0] * xs[0] * xs[0],
    };

    [Fact]
    public void A_custom_op_with_a_wrong_VJP_in_the_middle_of_ten_operations_is_the_first_divergence()
    {
        var inputs = new[] { Tensor.Random(21, 4, 3), Tensor.Random(22, 3, 5), Tensor.Random(23, 5), Tensor.Random(24, 5, 2) };
        var r = TorchSharpCheck.Verify(TenOps, TorchCube, inputs);
        output.WriteLine(r.ToString());
        Assert.False(r.Passed);
        Assert.Equal(10, r.OperationsReplayed);
        Assert.NotNull(r.FirstDivergence);
        Assert.StartsWith("cube (operation 5 of 10): the VJP for input 0 differs", r.FirstDivergence);
        Assert.Contains("inputs' shapes [4, 5]", r.FirstDivergence);
        Assert.Contains("gradient of input 0 differs", r.Details);
    }

    [Fact]
    public void The_same_ten_operations_with_the_right_VJP_pass()
    {
        var cube = CustomOp.Create("cube", xs => xs[0] * xs[0] * xs[0], (xs, y, g, i) => g * 3 * xs[0] * xs[0], (xs, y, i, t) => t * 3 * xs[0] * xs[0]);
        var r = TorchSharpCheck.Verify(xs => cube(new[] { xs[0].MatMul(xs[1]) }).Sum(), TorchCube, Tensor.Random(21, 4, 3), Tensor.Random(22, 3, 5));
        Assert.True(r.Passed, r.ToString());
        Assert.Equal(3, r.OperationsReplayed);
    }

    [Fact]
    public void A_custom_op_without_a_TorchSharp_forward_is_reported_not_replayable_and_the_rest_is_still_checked()
    {
        var r = TorchSharpCheck.Verify(TenOps, Tensor.Random(21, 4, 3), Tensor.Random(22, 3, 5), Tensor.Random(23, 5), Tensor.Random(24, 5, 2));
        output.WriteLine(r.ToString());
        Assert.False(r.Passed);
        Assert.Null(r.FirstDivergence);
        Assert.Equal(9, r.OperationsReplayed);
        Assert.Contains("Not replayable: cube (operation 5 of 10): 'cube' is a custom op, which has no TorchSharp forward of its own; supply a TorchSharp forward for it by name", r.Details);
    }

    [Fact]
    public void A_custom_op_only_a_VJP_rule_uses_is_reported_not_replayable_too()
    {
        // `twice` appears only in the gradient program; it was skipped there and the report passed.
        var twice = CustomOp.Create("twice", xs => xs[0] * 2, (xs, y, g, i) => g * 2, (xs, y, i, t) => t * 2);
        var sq = CustomOp.Create("sq", xs => xs[0] * xs[0], (xs, y, g, i) => twice(new[] { g * xs[0] }), (xs, y, i, t) => twice(new[] { t * xs[0] }));
        var r = TorchSharpCheck.Verify(xs => sq(xs).Sum(),
            new Dictionary<string, Func<TorchTensor[], TorchTensor>> { ["sq"] = t => t[0] * t[0] }, Tensor.Random(1, 3));
        output.WriteLine(r.ToString());
        Assert.False(r.Passed);
        Assert.Contains("Not replayable: twice (gradient operation", r.Details);
        // Given a forward for it, the same program passes.
        Assert.True(TorchSharpCheck.Verify(xs => sq(xs).Sum(),
            new Dictionary<string, Func<TorchTensor[], TorchTensor>> { ["sq"] = t => t[0] * t[0], ["twice"] = t => t[0] * 2 }, Tensor.Random(1, 3)).Passed);
    }

    [Fact]
    public void Second_derivatives_at_ELUs_kink_and_GELUs_far_tails_replay_without_false_failures()
    {
        // ELU's second derivative at exactly 0 is the convention's value (α by default): the replayed slope was a constant
        // there, so autograd gave 0. φ(x)·P(x) at ±∞ and the tanh form's slope past |x| = 1.34e154 were ∞·0 = NaN there.
        Agrees("ELU second order at 0", xs => { var g = Autodiff.Grad(z => z.Elu(1.0).Sum(), xs[0]); return (g * g).Sum(); },
            Tensor.FromArray(new[] { 0.0, 0.5, -0.5 }, 3));
        Agrees("GELU second order at -inf", xs => Autodiff.Grad(z => z.Gelu().Sum(), xs[0]).Sum(),
            Tensor.FromArray(new[] { double.NegativeInfinity, 1.0, 2e154 }, 3));
        Agrees("tanh GELU second order far out", xs => Autodiff.Grad(z => z.Gelu(GeluApproximation.Tanh).Sum(), xs[0]).Sum(),
            Tensor.FromArray(new[] { -2e154, 1.0, 2e154 }, 3));
    }

    [Fact]
    public void MSE_at_an_infinite_difference_replays_as_infinite()
    {
        // MSE is recorded as Huber with δ = ∞; torch's huber_loss gives NaN at |d| = ∞ (its linear branch, ∞·(∞ − ∞)).
        Agrees("MSE at an infinite difference", xs => Loss.Mse(xs[0], xs[1]),
            Tensor.FromArray(new[] { double.PositiveInfinity, 1.0 }, 2), Tensor.FromArray(new[] { 0.0, 0.5 }, 2));
    }

    [Fact]
    public void A_function_that_computes_another_value_each_call_is_named_not_blamed_on_rounding()
    {
        var rng = new Random(7);
        var r = TorchSharpCheck.Verify(xs => xs[0] * Tensor.FromArray(new[] { rng.NextDouble(), rng.NextDouble() }, 2), Tensor.FromArray(new[] { 1.0, 2.0 }, 2));
        output.WriteLine(r.Details);
        Assert.False(r.Passed);
        Assert.Contains("not a function of its inputs alone", r.FirstDivergence);
        Assert.DoesNotContain("rounding", r.Details);
    }

    [Fact]
    public void Leaky_ReLU_at_exactly_0_is_the_documented_convention_difference_not_a_failure()
    {
        var x = Tensor.FromArray(new[] { -1.5, 0.0, 0.0, 2.0 }, 4);
        var r = TorchSharpCheck.Verify(xs => (xs[0].LeakyRelu(0.01) * xs[0]).Sum() + xs[0].LeakyRelu(0.01).Sum(), x);
        output.WriteLine(r.ToString());
        Assert.True(r.Passed, r.ToString());
        Assert.Contains("Documented difference, not a failure: leakyRelu: its derivative at the kink (x = 0) is 1 by our convention (KinkConvention.RightDerivative) and 0.01 by TorchSharp's", r.Details);
        // The left-derivative convention is TorchSharp's own: nothing to report.
        var left = TorchSharpCheck.Verify(xs => xs[0].LeakyRelu(0.01, KinkConvention.LeftDerivative).Sum(), x);
        Assert.True(left.Passed, left.ToString());
        Assert.DoesNotContain("Documented", left.Details);
    }

    [Fact]
    public void TorchSharps_GELU_tail_is_the_documented_difference_not_a_failure()
    {
        // Scaled so that the tail matters: TorchSharp's exact GELU gives −0 at −10, ours −7.6e-23.
        var x = Tensor.FromArray(new[] { -10.0, -8.0, -1.0, 0.5 }, 4);
        var r = TorchSharpCheck.Verify(xs => (xs[0].Gelu() * 1e20).Sum(), x);
        output.WriteLine(r.ToString());
        Assert.True(r.Passed, r.ToString());
        Assert.Contains("Documented difference, not a failure: gelu: TorchSharp's GELU loses the negative tail", r.Details);
    }

    [Fact]
    public void A_wrong_built_in_rule_is_localised_to_its_operation()
    {
        // A stand-in for a built-in rule gone wrong: a custom op with a wrong forward, replayed by TorchSharp's exp.
        var badExp = CustomOp.Create("exp", xs => xs[0].Exp() * 1.0000001, (xs, y, g, i) => g * y, (xs, y, i, t) => t * y);
        var torchExp = new Dictionary<string, Func<TorchTensor[], TorchTensor>> { ["exp"] = xs => xs[0].exp() };
        var r = TorchSharpCheck.Verify(xs => badExp(new[] { xs[0].Tanh() }).Sum(), torchExp, Tensor.Random(3, 5));
        Assert.False(r.Passed);
        Assert.StartsWith("exp (operation 2 of 3): the forward value differs at 5 of 5 elements", r.FirstDivergence);
        // Without a forward given for it, a custom op is never replayed by the built-in op of its name.
        var unmapped = TorchSharpCheck.Verify(xs => badExp(new[] { xs[0].Tanh() }).Sum(), Tensor.Random(3, 5));
        Assert.False(unmapped.Passed);
        Assert.Contains("Not replayable: exp (operation 2 of 3): 'exp' is a custom op", unmapped.Details);
    }

    [Fact]
    public void Bad_arguments_are_refused_by_name()
    {
        Assert.Throws<ArgumentNullException>(() => TorchSharpCheck.Verify(null!, Tensor.Random(1, 2)));
        Assert.Throws<ArgumentNullException>(() => TorchSharpCheck.Verify(xs => xs[0].Sum(), (IReadOnlyDictionary<string, Func<TorchTensor[], TorchTensor>>)null!, Tensor.Random(1, 2)));
        Assert.Throws<ArgumentNullException>(() => TorchSharpCheck.Verify(xs => xs[0].Sum(), new Dictionary<string, Func<TorchTensor[], TorchTensor>> { ["cube"] = null! }, Tensor.Random(1, 2)));
    }

    [Fact]
    public void Clamp_at_either_bound_under_every_convention_is_a_documented_difference_not_a_failure()
    {
        // TorchSharp's slope is 1 at both bounds; the right derivative is 1 at the lower bound (no difference) and 0
        // at the upper one, so the note takes each bound's own slope, not the lower bound's for both.
        var at = Tensor.FromArray(new[] { -1.0, 1, 0.3, 2 }, 4);
        foreach (var c in new[] { KinkConvention.LeftDerivative, KinkConvention.RightDerivative, KinkConvention.Midpoint })
        {
            var r = TorchSharpCheck.Verify(xs => (xs[0].Clamp(-1, 1, c) * xs[0]).Sum(), at);
            output.WriteLine($"{c}:\n{r.Details}\n");
            Assert.True(r.Passed, $"{c}: {r}");
            Assert.Contains("Documented difference", r.Details);
        }
        // lo = hi: slope 0 at the point under every convention.
        var tight = TorchSharpCheck.Verify(xs => (xs[0].Clamp(0.5, 0.5) * xs[0]).Sum(), Tensor.FromArray(new[] { 0.5, 0.2, 0.9 }, 3));
        Assert.True(tight.Passed, tight.ToString());
    }

    [Fact]
    public void The_end_to_end_check_compares_the_gradients_autodiff_computes_outside_a_trace_for_a_random_adjoint()
    {
        // Slices and gathers take in-place region adjoints outside a trace, and the tracer turns those off.
        var r = Passes("slices and gathers", xs => Tensor.Concat(0, xs[0].Narrow(0, 1, 2), xs[0].IndexSelect(0, new[] { 3, 0, 3 })) * xs[1], 4,
            Tensor.Random(1, 4, 5), Tensor.Random(2, 5, 5));
        Assert.Contains("pseudo-random adjoint", r.Details);
    }
}
