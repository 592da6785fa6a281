using Functional;
using Functional.CrossCheck;
using TorchSharp;
using Xunit;

namespace Functional.Facade.Tests;

public class TorchSharpCheckTests
{
    [Fact]
    public void The_same_function_in_both_engines_agrees()
    {
        var r = TorchSharpCheck.Compare(
            xs => xs[0].MatMul(xs[1]).Gelu(GeluApproximation.Tanh).LeakyRelu(0.2, KinkConvention.LeftDerivative).Sum(),
            ts => torch.nn.functional.leaky_relu(torch.nn.functional.gelu(torch.mm(ts[0], ts[1]), TorchSharp.Modules.GELU.Approximate.tanh), 0.2).sum(),
            Tensor.Random(1, 4, 3), Tensor.Random(2, 3, 5));
        Assert.True(r.Passed, r.ToString());
        Assert.Equal(28, r.Checked);   // the value and 12 + 15 gradient elements
    }

    [Fact]
    public void A_different_function_is_caught()
    {
        // Only the value differs (by a constant): the report says so.
        var r = TorchSharpCheck.Compare(xs => (xs[0] * xs[0]).Sum(), ts => (ts[0] * ts[0]).sum() + 0.01, Tensor.Random(3, 5));
        Assert.False(r.Passed);
        Assert.Equal("value", r.WorstOutput);
        Assert.Contains("worst: value, element 0: Functional ", r.ToString());
        Assert.Contains(", TorchSharp ", r.ToString());
        // Only a gradient differs: the report says which.
        var g = TorchSharpCheck.Compare(xs => xs[0].Sum() + xs[1].Sum(), ts => ts[0].sum() + (ts[1] * 1.001).sum() - (ts[1] * 0.001).sum().detach(), Tensor.Random(3, 5), Tensor.Random(4, 2));
        Assert.False(g.Passed);
        Assert.Equal("gradient of input 1", g.WorstOutput);
    }

    [Fact]
    public void A_rule_that_ignores_its_output_gradient_differs_for_a_scalar_result()
    {
        // Σx² with the VJP 2x for any g: differentiated with g = 1, as a scalar result would be, it agrees.
        var sumsq = CustomOp.Create("sumsq", xs => (xs[0] * xs[0]).Sum(), (xs, y, g, i) => 2 * xs[0], (xs, y, i, t) => (2 * xs[0] * t).Sum());
        var x = Tensor.FromArray(new[] { 0.5, -1.5, 2.0 }, 3);
        var wrong = TorchSharpCheck.Compare(xs => sumsq(xs), ts => (ts[0] * ts[0]).sum(), x);
        Assert.False(wrong.Passed);
        Assert.Equal("gradient of input 0", wrong.WorstOutput);
        var right = CustomOp.Create("sumsq", xs => (xs[0] * xs[0]).Sum(), (xs, y, g, i) => g * 2 * xs[0], (xs, y, i, t) => (2 * xs[0] * t).Sum());
        var r = TorchSharpCheck.Compare(xs => right(xs), ts => (ts[0] * ts[0]).sum(), x);
        Assert.True(r.Passed, r.ToString());
        // The report shows f's own derivative, the projection divided out: ∂/∂x₂ of Σx² at 2 is 4.
        var off = TorchSharpCheck.Compare(xs => right(xs), ts => (ts[0] * ts[0]).sum() + 1e-3 * (ts[0][2] - ts[0][2].detach()), x);
        Assert.Equal(("gradient of input 0", 2, 4.0), (off.WorstOutput, off.WorstIndex, off.Functional));
        Assert.Equal(4.001, off.TorchSharp, 12);
    }
}
