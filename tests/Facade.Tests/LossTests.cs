using Xunit;

namespace Functional.Facade.Tests;

/// <summary>Loss.Huber's and Loss.Mse's two paths (one fused op for equal shapes, ops composed for broadcast ones) and
/// Loss.BinaryCrossEntropyWithLogits' broadcasting
/// against each other, and Huber's second derivative's documented values at the seam |d| = δ.</summary>
public class LossTests
{
    private static void Close(double[] expected, double[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"element {i}: expected {expected[i]:R}, got {actual[i]:R}");
    }

    [Theory]
    [InlineData("huber")]
    [InlineData("mse")]
    [InlineData("bce")]
    public void A_loss_of_broadcast_shapes_equals_the_loss_of_the_target_broadcast_first(string loss)
    {
        Func<Tensor, Tensor, Tensor> f = loss switch
        {
            "mse" => Loss.Mse,
            "bce" => Loss.BinaryCrossEntropyWithLogits,
            _ => (a, b) => Loss.Huber(a, b, 0.8),
        };
        var p = Tensor.Random(1, 5, 7) * 2;
        var t = Tensor.Random(2, 7);
        var composed = Autodiff.ValueAndGrad(x => f(x[0], x[1]), p, t);
        var fused = Autodiff.ValueAndGrad(x => f(x[0], x[1].BroadcastTo(5, 7)), p, t);
        Close(new[] { composed.Value.ToScalar() }, new[] { fused.Value.ToScalar() }, 1e-15);
        Close(composed.Gradients[0].ToArray(), fused.Gradients[0].ToArray(), 1e-15);
        Close(composed.Gradients[1].ToArray(), fused.Gradients[1].ToArray(), 1e-15);
    }

    [Fact]
    public void Huber_second_derivative_is_one_inside_zero_outside_and_a_half_at_the_seam()
    {
        var t = Tensor.Zeros(4);
        var p = Tensor.FromArray(new[] { 0.3, 2.0, -0.5, 0.5 }, 4);
        var h = Autodiff.Hessian(x => Loss.Huber(x, t, 0.5), p);
        Close(new[] { 1.0, 0.0, 0.5, 0.5 }, Enumerable.Range(0, 4).Select(i => h.ValueAt(i, i) * 4).ToArray(), 1e-15);
        Assert.True(double.IsNaN(Loss.Huber(Tensor.FromArray(new[] { double.NaN, 0.0 }, 2), Tensor.Zeros(2), 1.0).ToScalar()));
    }

    [Fact]
    public void Binary_cross_entropy_second_derivative_in_the_logits_is_sigma_times_one_minus_sigma()
    {
        var x = Tensor.FromArray(new[] { -3.0, 0.0, 0.5, 12.0 }, 4);
        var y = Tensor.FromArray(new[] { 1.0, 0.0, 0.3, 1.0 }, 4);
        var h = Autodiff.Hessian(v => Loss.BinaryCrossEntropyWithLogits(v, y), x);
        var expected = x.ToArray().Select(v => { var s = 1 / (1 + Math.Exp(-v)); return s * (1 - s); }).ToArray();
        Close(expected, Enumerable.Range(0, 4).Select(i => h.ValueAt(i, i) * 4).ToArray(), 1e-14);
    }
}
