using Functional.CrossCheck;
using Microsoft.FSharp.Core;
using TorchSharp;
using Xunit;

namespace Functional.Facade.Tests;

/// <summary>The kink table in the README: TorchSharp's choices, pinned by running it, and ours under each convention.</summary>
public class KinkTests
{
    /// <summary>TorchSharp's derivative of f at x (a single element); run once more if LibTorch reads a freed Scalar
    /// (docs/ENVIRONMENT.md).</summary>
    private static double Theirs(Func<torch.Tensor, torch.Tensor> f, double x) =>
        Torch.scopedRetryingFreedScalar(FuncConvert.FromFunc(() =>
        {
            var t = torch.tensor(new[] { x }, torch.ScalarType.Float64, requires_grad: true);
            f(t).sum().backward();
            return t.grad!.data<double>()[0];
        }));

    private static double Ours(Func<Tensor, Tensor> f, double x) => Autodiff.Grad(t => f(t).Sum(), Tensor.FromArray(new[] { x }, 1)).ValueAt(0);

    [Fact]
    public void TorchSharps_choices_at_each_kink()
    {
        Assert.Equal(0.0, Theirs(t => t.abs(), 0));
        Assert.Equal(0.0, Theirs(t => torch.nn.functional.relu(t), 0));
        Assert.Equal(0.1, Theirs(t => torch.nn.functional.leaky_relu(t, 0.1), 0), 15);
        Assert.Equal(0.5, Theirs(t => torch.maximum(t, torch.zeros_like(t)), 0));
        Assert.Equal(0.5, Theirs(t => torch.minimum(t, torch.zeros_like(t)), 0));
        Assert.Equal(1.0, Theirs(t => t.clamp(-1.0, 1.0), -1));
        Assert.Equal(1.0, Theirs(t => t.clamp(-1.0, 1.0), 1));
        Assert.Equal(0.7, Theirs(t => torch.nn.functional.elu(t, 0.7), 0), 15);
        Assert.Equal(0.0, Theirs(t => t.sign() * 5.0 + 0 * t, 0.3));
        Assert.Equal(0.0, Theirs(t => torch.nn.functional.l1_loss(t, torch.zeros_like(t)), 0));
    }

    [Fact]
    public void TorchSharps_hardtanh_returns_its_input_unchanged()
    {
        var y = Torch.scopedRetryingFreedScalar(FuncConvert.FromFunc(() =>
            torch.nn.functional.hardtanh(torch.tensor(new[] { -2.0, 2.0 }), -1.0, 1.0).data<double>().ToArray()));
        Assert.Equal(new[] { -2.0, 2.0 }, y);
    }

    /// <summary>The right and left derivatives are what they are called: the one-sided difference quotients at the
    /// kink, for every op with a convention (a tie of max or min included, where the two sides swap).</summary>
    [Fact]
    public void Right_and_left_derivatives_are_the_one_sided_difference_quotients()
    {
        var ops = new (string Name, Func<Tensor, KinkConvention, Tensor> F, double Kink)[]
        {
            ("abs", (t, c) => t.Abs(c), 0),
            ("leaky ReLU", (t, c) => t.LeakyRelu(0.1, c), 0),
            ("ELU", (t, c) => t.Elu(0.7, c), 0),
            ("clamp at lo", (t, c) => t.Clamp(-1, 1, c), -1),
            ("clamp at hi", (t, c) => t.Clamp(-1, 1, c), 1),
            ("maximum", (t, c) => t.Maximum(Tensor.FromArray(new[] { 0.5 }, 1), c), 0.5),
            ("minimum", (t, c) => t.Minimum(Tensor.FromArray(new[] { 0.5 }, 1), c), 0.5),
            ("max over an axis", (t, c) => Tensor.Concat(0, t, Tensor.FromArray(new[] { 0.5 }, 1)).Max(new[] { 0 }, false, c), 0.5),
            ("min over an axis", (t, c) => Tensor.Concat(0, t, Tensor.FromArray(new[] { 0.5 }, 1)).Min(new[] { 0 }, false, c), 0.5),
        };
        const double h = 1.0 / 1024;   // exact steps: every op is linear on each side near its kink, except ELU
        foreach (var (name, f, kink) in ops)
        {
            double At(double x) => f(Tensor.FromArray(new[] { x }, 1), KinkConvention.Midpoint).Sum().ToScalar();
            double right = (At(kink + h) - At(kink)) / h, left = (At(kink) - At(kink - h)) / h;
            // The quotients are the derivatives themselves on linear sides; ELU's curved side is off by about h/2.
            int digits = name == "ELU" ? 2 : 12;
            Assert.Equal(right, Ours(t => f(t, KinkConvention.RightDerivative), kink), digits);
            Assert.Equal(left, Ours(t => f(t, KinkConvention.LeftDerivative), kink), digits);
            Assert.Equal((left + right) / 2, Ours(t => f(t, KinkConvention.Midpoint), kink), digits);
        }
    }

    [Fact]
    public void Our_defaults_and_each_convention()
    {
        Assert.Equal(0.0, Ours(t => t.Abs(), 0));
        Assert.Equal(1.0, Ours(t => t.Abs(KinkConvention.RightDerivative), 0));
        Assert.Equal(-1.0, Ours(t => t.Abs(KinkConvention.LeftDerivative), 0));
        Assert.Equal(0.0, Ours(t => t.Relu(), 0));
        Assert.Equal(1.0, Ours(t => t.LeakyRelu(0.1), 0));
        Assert.Equal(0.5, Ours(t => t.Maximum(Tensor.Zeros(1)), 0));
        Assert.Equal(1.0, Ours(t => t.Maximum(Tensor.Zeros(1), KinkConvention.RightDerivative), 0));
        Assert.Equal(0.0, Ours(t => t.Maximum(Tensor.Zeros(1), KinkConvention.LeftDerivative), 0));
        Assert.Equal(0.5, Ours(t => t.Minimum(Tensor.Zeros(1)), 0));
        Assert.Equal(0.5, Ours(t => t.Clamp(-1, 1), -1));
        Assert.Equal(0.5, Ours(t => t.Clamp(-1, 1), 1));
        Assert.Equal(1.0, Ours(t => t.Clamp(-1, 1, KinkConvention.RightDerivative), -1));
        Assert.Equal(0.0, Ours(t => t.Clamp(-1, 1, KinkConvention.RightDerivative), 1));
        Assert.Equal(0.0, Ours(t => t.Clamp(-1, 1, KinkConvention.LeftDerivative), -1));
        Assert.Equal(1.0, Ours(t => t.Clamp(-1, 1, KinkConvention.LeftDerivative), 1));
        // An infinite bound is no kink: clamp is x on that side, slope 1 at x = ±∞ under every convention (it was the
        // convention's value, ½ by default), as TorchSharp's.
        foreach (var c in new[] { KinkConvention.Midpoint, KinkConvention.LeftDerivative, KinkConvention.RightDerivative })
        {
            Assert.Equal(1.0, Ours(t => t.Clamp(0, double.PositiveInfinity, c), double.PositiveInfinity));
            Assert.Equal(1.0, Ours(t => t.Clamp(double.NegativeInfinity, 0, c), double.NegativeInfinity));
            Assert.Equal(1.0, Ours(t => t.Clamp(double.NegativeInfinity, double.PositiveInfinity, c), double.PositiveInfinity));
            Assert.Equal(1.0, Ours(t => t.Clamp(double.NegativeInfinity, double.PositiveInfinity, c), double.NegativeInfinity));
            Assert.Equal(0.0, Ours(t => t.Clamp(double.PositiveInfinity, double.PositiveInfinity, c), double.PositiveInfinity));
        }
        Assert.Equal(1.0, Theirs(t => t.clamp(0.0, double.PositiveInfinity), double.PositiveInfinity));
        Assert.Equal(0.5, Ours(t => t.HardTanh(), 1));
        Assert.Equal(0.7, Ours(t => t.Elu(0.7), 0), 15);
        Assert.Equal(1.0, Ours(t => t.Elu(0.7, KinkConvention.RightDerivative), 0));
        Assert.Equal(0.85, Ours(t => t.Elu(0.7, KinkConvention.Midpoint), 0), 15);
        Assert.Equal(0.0, Ours(t => t.Sign() * 5, 0.3));
        Assert.Equal(0.0, Ours(t => Loss.L1(t, Tensor.Zeros(1)), 0));
    }
}
