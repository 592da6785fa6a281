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
        Assert.Equal(27, r.Checked);
    }

    [Fact]
    public void A_different_function_is_caught()
    {
        var r = TorchSharpCheck.Compare(xs => (xs[0] * xs[0]).Sum(), ts => (ts[0] * ts[0] * 1.001).sum(), Tensor.Random(3, 5));
        Assert.False(r.Passed);
    }
}
