using Functional;
using Xunit;

namespace Functional.Facade.Tests;

public class AutodiffTests
{
    private static readonly Tensor X = Tensor.FromArray(new double[] { -1.5, 0.25, 2 }, 3);

    [Fact]
    public void Grad_resolves_without_casts()
    {
        // The issue's own line: the single-tensor overload is chosen for a lambda over Tensor.
        var g = Autodiff.Grad(x => x.Gelu().Sum(), X);
        Assert.Equal(3, g.Count);
        Assert.Equal(0.5, Autodiff.Grad(x => x.Gelu().Sum(), Tensor.Zeros(1)).ValueAt(0), 15);
    }

    [Fact]
    public void A_tensor_kept_from_an_earlier_gradient_call_is_refused()
    {
        // The previous step's input kept in a variable: each later op on it nested a level deeper (memory, time, then
        // a stack overflow) while every value printed looked right. The next step that uses it fails at once.
        Tensor previous = Tensor.Zeros(3);
        Tensor Step(Tensor w) => Autodiff.Grad(p => { var d = p - previous; previous = p; return (d * d).Sum(); }, w);
        Step(Tensor.Ones(3));
        var e = Assert.Throws<InvalidOperationException>(() => Step(Tensor.Ones(3)));
        Assert.Contains("escaped its function", e.Message);
    }

    [Fact]
    public void Grad_of_many_inputs()
    {
        var a = Tensor.Random(1, 3, 4);
        var b = Tensor.Random(2, 4, 2);
        Tensor[] g = Autodiff.Grad(xs => xs[0].MatMul(xs[1]).Sum(), a, b);
        // ∇A = 1·Bᵀ: every row of ∇A is the row sums of B.
        var rowSums = b.Sum(1).ToArray();
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
                Assert.Equal(rowSums[j], g[0].ValueAt(i, j), 14);
        Assert.Equal(new[] { 4, 2 }, g[1].Shape);
    }

    [Fact]
    public void Rows_taken_one_at_a_time_cost_a_row_each_backward()
    {
        // x[i] in a loop: 100 rows of 100. Padding each row's adjoint to the whole tensor would allocate 100 arrays
        // of 80 KB (8 MB) in the backward pass; the rows meet in one array instead.
        var x = Tensor.Random(3, 100, 100);
        Tensor Loss(Tensor t) => Enumerable.Range(0, 100).Select(i => (t[i] * (i + 1)).Sum()).Aggregate((a, b) => a + b);
        Autodiff.Grad(Loss, x);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var g = Autodiff.Grad(Loss, x);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        for (int i = 0; i < 100; i++)
            for (int j = 0; j < 100; j += 33)
                Assert.Equal(i + 1.0, g.ValueAt(i, j));
        Assert.True(allocated < 4L << 20, $"the gradient allocated {allocated} bytes");
    }

    [Fact]
    public void Grad_nests()
    {
        // d/dx (d/dx x³) = 6x
        var second = Autodiff.Grad(x => Autodiff.Grad(y => (y * y * y).Sum(), x).Sum(), Tensor.Scalar(2));
        Assert.Equal(12.0, second.ToScalar(), 12);
    }

    [Fact]
    public void A_non_scalar_result_is_a_clear_error()
    {
        var e = Assert.Throws<ShapeException>(() => Autodiff.Grad(x => x * 2, X));
        Assert.Contains("scalar", e.Message);
    }

    [Fact]
    public void Hessian_ValueAndGrad_Vjp_Jvp_Jacobian_Hvp()
    {
        var a = Tensor.FromArray(new double[] { 2, 1, 0, 3 }, 2, 2);
        Func<Tensor, Tensor> quad = x => Einsum.Contract("i,ij,j->", x, a, x);
        var x0 = Tensor.FromArray(new double[] { 1, -1 }, 2);
        var h = Autodiff.Hessian(quad, x0);
        Assert.Equal(new[] { 2, 2 }, h.Shape);
        Assert.Equal(new double[] { 4, 1, 1, 6 }, h.ToArray());

        ValueAndGradient vg = Autodiff.ValueAndGrad(quad, x0);
        Assert.Equal(4.0, vg.Value.ToScalar());
        Assert.Equal(new double[] { 3, -5 }, vg.Gradient.ToArray());

        ValueAndGradients vgs = Autodiff.ValueAndGrad(xs => (xs[0] * xs[1]).Sum(), x0, x0);
        Assert.Equal(2.0, vgs.Value.ToScalar());
        Assert.Equal(x0.ToArray(), vgs.Gradients[1].ToArray());

        VjpResult vjp = Autodiff.Vjp(x => x * x, x0);
        Assert.Equal(new double[] { 2, -2 }, vjp.Pullback(Tensor.Ones(2)).ToArray());

        JvpResult jvp = Autodiff.Jvp(x => x * x, x0, Tensor.Ones(2));
        Assert.Equal(new double[] { 2, -2 }, jvp.Tangent.ToArray());

        var jac = Autodiff.Jacobian(x => x * x, x0);
        Assert.Equal(new double[] { 2, 0, 0, -2 }, jac.ToArray());

        var hv = Autodiff.HessianVectorProduct(quad, x0, Tensor.FromArray(new double[] { 1, 0 }, 2));
        Assert.Equal(new double[] { 4, 1 }, hv.ToArray());
    }

    [Fact]
    public void Leaky_relu_convention_at_zero()
    {
        var zero = Tensor.Zeros(1);
        Assert.Equal(1.0, Autodiff.Grad(x => x.LeakyRelu(0.1).Sum(), zero).ValueAt(0));
        Assert.Equal(0.1, Autodiff.Grad(x => x.LeakyRelu(0.1, KinkConvention.LeftDerivative).Sum(), zero).ValueAt(0));
        Assert.Equal(0.55, Autodiff.Grad(x => x.LeakyRelu(0.1, KinkConvention.Midpoint).Sum(), zero).ValueAt(0), 15);
    }
}
