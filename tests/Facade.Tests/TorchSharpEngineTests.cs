using Functional.CrossCheck;
using Xunit;

namespace Functional.Facade.Tests;

/// <summary>Our derived programs executed by libtorch equal our own engine.</summary>
public class TorchSharpEngineTests
{
    private static void Same(string what, Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var (e, a) = (expected.ToArray(), actual.ToArray());
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= 1e-12 * Math.Max(1, Math.Abs(e[i])), $"{what}, element {i}: TorchSharp {a[i]:R}, ours {e[i]:R}");
    }

    private static void Check(string what, Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        var ours = Autodiff.ValueAndGrad(f, inputs);
        var theirs = TorchSharpEngine.Run(f, "cpu", inputs);
        Same(what + ": value", ours.Value, theirs.Value);
        for (int k = 0; k < inputs.Length; k++) Same($"{what}: gradient {k}", ours.Gradients[k], theirs.Gradients[k]);
    }

    [Fact]
    public void The_derived_programs_run_on_TorchSharp_and_equal_ours()
    {
        Check("matmul + GELU", xs => xs[0].MatMul(xs[1]).Gelu().Sum(), Tensor.Random(1, 4, 3), Tensor.Random(2, 3, 5));
        // A two-layer perceptron with a log-softmax loss.
        Check("MLP", xs => (xs[0].MatMul(xs[1]).Gelu().MatMul(xs[2]).LogSoftmax(1) * xs[3]).Sum() * -1,
            Tensor.Random(3, 6, 8), Tensor.Random(4, 8, 16), Tensor.Random(5, 16, 4), Tensor.Random(6, 6, 4).Softmax(1));
        // An attention block: scores, softmax along the keys, scaling, values.
        Check("attention", xs => Einsum.Contract("bqk,bkd->bqd", (Einsum.Contract("bqd,bkd->bqk", xs[0], xs[1]) * 0.125).Softmax(2), xs[2]).Tanh().Sum(),
            Tensor.Random(7, 2, 5, 4), Tensor.Random(8, 2, 6, 4), Tensor.Random(9, 2, 6, 4));
        // A four-operand network, planned in pairwise steps.
        Check("tensor network", xs => Einsum.Contract("ab,cd,bd,ac->", xs),
            Tensor.Random(10, 5, 6), Tensor.Random(11, 7, 8), Tensor.Random(12, 6, 8), Tensor.Random(13, 5, 7));
        // The elementwise family and every kink convention away from the kink.
        Check("elementwise", xs => (xs[0].Exp().Log() + xs[0].Sigmoid() * xs[0].Tanh() + xs[0].Pow(3) / 3 + (xs[0] * xs[0] + 1).Sqrt()
                                   + xs[0].LeakyRelu(0.1, KinkConvention.Midpoint) + xs[0].Relu() + xs[0].Gelu(GeluApproximation.Tanh) + xs[0].Softplus()).Mean(),
            Tensor.Random(14, 3, 4));
    }

    [Fact]
    public void Max_and_min_over_no_axes_reduce_nothing_on_TorchSharp_too()
    {
        // libtorch's amax/amin read an empty axis list as every axis.
        Check("max over no axes", xs => (xs[0].Max(Array.Empty<int>(), false) * xs[0]).Sum() + xs[0].Min(Array.Empty<int>(), true).Sum(), Tensor.Random(15, 3, 4));
    }

    [Fact]
    public void An_op_without_a_replay_is_named()
    {
        var cube = CustomOp.Create("cube", xs => xs[0] * xs[0] * xs[0], (xs, y, g, i) => g * 3 * xs[0] * xs[0], (xs, y, i, t) => t * 3 * xs[0] * xs[0]);
        var e = Assert.Throws<NotSupportedException>(() => TorchSharpEngine.Run(xs => cube(xs).Sum(), "cpu", Tensor.Random(1, 3)));
        Assert.Contains("'cube'", e.Message);
    }

    [Fact]
    public void A_custom_op_runs_through_the_TorchSharp_forward_given_for_its_name()
    {
        var cube = CustomOp.Create("cube", xs => xs[0] * xs[0] * xs[0], (xs, y, g, i) => g * 3 * xs[0] * xs[0], (xs, y, i, t) => t * 3 * xs[0] * xs[0]);
        Func<Tensor[], Tensor> f = xs => cube(new[] { xs[0].MatMul(xs[1]) }).Tanh().Sum();
        var inputs = new[] { Tensor.Random(1, 3, 4), Tensor.Random(2, 4, 2) };
        var forwards = new Dictionary<string, Func<TorchSharp.torch.Tensor[], TorchSharp.torch.Tensor>> { ["cube"] = xs => xs[0] * xs[0] * xs[0] };
        var ours = Autodiff.ValueAndGrad(f, inputs);
        var theirs = TorchSharpEngine.Run(f, "cpu", forwards, inputs);
        Same("value", ours.Value, theirs.Value);
        for (int k = 0; k < inputs.Length; k++) Same($"gradient {k}", ours.Gradients[k], theirs.Gradients[k]);
    }

    [Fact]
    public void A_custom_forward_that_returns_another_dtype_is_refused_by_name()
    {
        // A float32 forward was promoted silently, and its rounding then read as a divergence.
        var cube = CustomOp.Create("cube", xs => xs[0] * xs[0] * xs[0], (xs, y, g, i) => g * 3 * xs[0] * xs[0], (xs, y, i, t) => t * 3 * xs[0] * xs[0]);
        Func<Tensor[], Tensor> f = xs => cube(new[] { xs[0] }).Sum();
        var forwards = new Dictionary<string, Func<TorchSharp.torch.Tensor[], TorchSharp.torch.Tensor>> { ["cube"] = xs => (xs[0] * xs[0] * xs[0]).to_type(TorchSharp.torch.ScalarType.Float32) };
        var e = Assert.ThrowsAny<ArgumentException>(() => TorchSharpEngine.Run(f, "cpu", forwards, Tensor.Random(1, 3)));
        Assert.Contains("float64", e.Message);
        Assert.Contains("cube", e.Message);
    }

    [Fact]
    public void A_custom_op_named_as_a_built_in_op_leaves_the_built_in_op_to_its_own_replay()
    {
        // A custom "mul" (x·3 here) beside built-in products: its forward ran for every op named "mul", the built-in
        // ones in the gradient program too, and both engines' answers were wrong or refused.
        var mul = CustomOp.Create("mul", xs => xs[0] * 3, (xs, y, g, i) => g * 3, (xs, y, i, t) => t * 3);
        Func<Tensor[], Tensor> f = xs => (mul(new[] { xs[0] }) * xs[1] * xs[0]).Sum();
        var inputs = new[] { Tensor.Random(1, 3, 4), Tensor.Random(2, 3, 4) };
        var forwards = new Dictionary<string, Func<TorchSharp.torch.Tensor[], TorchSharp.torch.Tensor>> { ["mul"] = xs => xs[0] * 3 };
        var ours = Autodiff.ValueAndGrad(f, inputs);
        var theirs = TorchSharpEngine.Run(f, "cpu", forwards, inputs);
        Same("value", ours.Value, theirs.Value);
        for (int k = 0; k < inputs.Length; k++) Same($"gradient {k}", ours.Gradients[k], theirs.Gradients[k]);
        var replay = TorchSharpCheck.Verify(f, forwards, inputs);
        Assert.True(replay.Passed, replay.ToString());
    }
}
