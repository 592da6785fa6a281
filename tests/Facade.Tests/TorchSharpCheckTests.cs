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
}
