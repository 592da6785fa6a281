using Xunit;

namespace Functional.Facade.Tests;

/// <summary>The reproductions of defects found under attack, through the facade as a C# user meets them.</summary>
public class BadInputTests
{
    [Fact]
    public void LogSoftmax_of_equal_large_entries_is_minus_ln_n_with_its_gradient()
    {
        var x = Tensor.FromArray(new[] { 1e20, 1e20, 1e20, 1e20 }, 4);
        Assert.Equal(new[] { -1.3862943611198906, -1.3862943611198906, -1.3862943611198906, -1.3862943611198906 }, x.LogSoftmax(0).ToArray());
        var g = Autodiff.Grad(t => (t.LogSoftmax(0) * Tensor.FromArray(new[] { 1.0, 0, 0, 0 }, 4)).Sum(), x);
        Assert.Equal(new[] { 0.75, -0.25, -0.25, -0.25 }, g.ToArray());
    }

    [Fact]
    public void Nll_reads_only_the_labelled_entries_so_log_zero_elsewhere_stays_finite()
    {
        var logP = Tensor.FromArray(new[] { Math.Log(0.25), double.NegativeInfinity, Math.Log(0.75), Math.Log(0.5), Math.Log(0.5), double.NegativeInfinity }, 2, 3);
        var loss = Loss.Nll(logP, new[] { 0, 1 });
        Assert.Equal(-(Math.Log(0.25) + Math.Log(0.5)) / 2, loss.ToScalar(), 15);
        var g = Autodiff.Grad(t => Loss.Nll(t, new[] { 0, 1 }), logP);
        Assert.Equal(new[] { -0.5, 0, 0, 0, -0.5, 0 }, g.ToArray());
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Loss.Nll(logP, new[] { 0, 3 }));
        Assert.Equal("labels", e.ParamName);
    }

    [Fact]
    public void Plan_rejects_null_and_negative_shapes_with_typed_errors()
    {
        var e = Assert.Throws<ArgumentNullException>(() => Einsum.Plan("ij,jk->ik", new[] { 3, 4 }, null!));
        Assert.Equal("shapes[1]", e.ParamName);
        Assert.Throws<EinsumException>(() => Einsum.Plan("ij,jk->ik", new[] { 3, -4 }, new[] { -4, 5 }));
    }

    [Fact]
    public void Element_counts_are_checked_against_the_real_array_limit()
    {
        Assert.Equal(2147483591, Limits.MaxElements);
        Assert.Throws<ShapeException>(() => Tensor.Zeros(2147483592));
        Assert.Throws<ShapeException>(() => Tensor.Random(1, int.MaxValue));
        Assert.Throws<MemoryLimitException>(() => Tensor.Zeros(2147483591).Sum());
    }

    [Fact]
    public void Results_above_the_memory_limit_are_refused_before_allocation()
    {
        Assert.Throws<MemoryLimitException>(() => Tensor.Ones(40000, 1) + Tensor.Ones(1, 40000));
        var x = Tensor.Random(1, 50000);
        Assert.Throws<MemoryLimitException>(() => Autodiff.Hessian(t => (t * t).Sum(), x));
        Assert.Throws<MemoryLimitException>(() => Autodiff.Jacobian(t => t.Exp(), x));
        Assert.Throws<ArgumentOutOfRangeException>(() => Limits.MemoryLimitBytes = 0);
    }

    [Fact]
    public void The_worker_spin_takes_0_to_1000_milliseconds_and_nothing_else()
    {
        double before = Limits.WorkerSpinMilliseconds;
        Assert.Equal(20.0, before);
        foreach (double bad in new[] { -1.0, 1000.5, double.NaN, double.PositiveInfinity })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => Limits.WorkerSpinMilliseconds = bad);
            Assert.Equal("value", e.ParamName);
        }
        Assert.Equal(before, Limits.WorkerSpinMilliseconds);
        Limits.WorkerSpinMilliseconds = before;
    }

    [Fact]
    public void A_function_that_returns_null_is_an_argument_error_naming_it()
    {
        var e = Assert.Throws<ArgumentException>(() => Autodiff.Grad((Tensor _) => null!, Tensor.Ones(2)));
        Assert.Equal("f", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientCheck.Run(xs => xs[0].Sum(), double.NaN, 1e-5, 1e-3, Tensor.Ones(2)));
    }
}

/// <summary>The first hour's messages: each names the C# member and parameter the user called, never the core's.</summary>
public class CSharpTermsTests
{
    private static void Says<T>(Action call, string member, string? parameter) where T : ArgumentException
    {
        var e = Assert.Throws<T>(call);
        Assert.StartsWith(member, e.Message);
        Assert.Equal(parameter, e.ParamName);
    }

    [Fact]
    public void The_reported_messages_are_in_CSharp_terms()
    {
        Says<ShapeException>(() => Tensor.Zeros(2, 3).ToScalar(), "Tensor.ToScalar needs a tensor with one element", "this");
        var h = Assert.Throws<ShapeException>(() => Autodiff.Hessian(x => x * 2, Tensor.Zeros(3)));
        Assert.StartsWith("Autodiff.Hessian: ", h.Message);
        Assert.Contains("Autodiff.Vjp or Autodiff.Jacobian", h.Message);
        Assert.DoesNotContain("grad needs", h.Message);
        Says<ShapeException>(() => Tensor.Zeros(2, 3).Softmax(2), "Tensor.Softmax: ", "axis");
        Says<ShapeException>(() => Tensor.Zeros(2, 3).MatMul(Tensor.Zeros(2, 3)), "MatMul: inner dimensions differ", "other");
        Says<ShapeException>(() => Autodiff.Jvp(x => x.Exp(), Tensor.Zeros(3), Tensor.Zeros(4)), "Autodiff.Jvp: ", null);
        Says<ShapeException>(() => Tensor.FromArray(new[] { 1.0, 2, 3 }), "Tensor.FromArray: 3 values need a shape", "shape");
        var c = Assert.ThrowsAny<ArgumentException>(() => Einsum.Contract("ij,jk->ik", Tensor.Zeros(2, 3)));
        Assert.Contains("1 tensor was given", c.Message);
    }
}
