using Functional;
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
    public void Tolerances_are_parameters()
    {
        // An impossible tolerance fails, and the report says where.
        var r = GradientCheck.Run(xs => xs[0].Exp().Sum(), 1e-3, 0, 1e-30, Tensor.Random(3, 4));
        Assert.False(r.Passed);
        Assert.InRange(r.WorstIndex, 0, 3);
    }
}
