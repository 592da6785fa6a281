using System;
using Functional;
using Xunit;

namespace Functional.Facade.Tests;

public class ScopeTests
{
    private static readonly Tensor A = Tensor.Random(1, 48, 48);
    private static readonly Tensor B = Tensor.Random(2, 48, 48);

    private static ValueAndGradients Step() => Autodiff.ValueAndGrad(xs => xs[0].MatMul(xs[1]).Gelu().Sum(), A, B);

    [Fact]
    public void Results_in_a_scope_equal_results_outside_and_are_released_at_its_end()
    {
        var expected = Step();
        ValueAndGradients inside;
        for (int round = 0; round < 3; round++)
        {
            using var scope = Tensor.NewScope();
            inside = Step();
            Assert.Equal(expected.Value.ToArray(), inside.Value.ToArray());
            Assert.Equal(expected.Gradients[0].ToArray(), inside.Gradients[0].ToArray());
            Assert.Equal(expected.Gradients[1].ToArray(), inside.Gradients[1].ToArray());
            scope.Dispose();
            Assert.True(inside.Gradients[0].IsReleased);
            var e = Assert.Throws<ObjectDisposedException>(() => inside.Gradients[0].ToArray());
            Assert.Contains("Keep", e.Message);
            Assert.Throws<ObjectDisposedException>(() => inside.Value.ToScalar());
        }
        Assert.False(A.IsReleased);
    }

    [Fact]
    public void Kept_tensors_outlive_the_scope()
    {
        var expected = Step();
        Tensor[] kept;
        using (var scope = Tensor.NewScope())
            kept = scope.Keep(Step().Gradients);
        using (Tensor.NewScope()) Step();
        Assert.False(kept[0].IsReleased);
        Assert.Equal(expected.Gradients[0].ToArray(), kept[0].ToArray());
        Assert.Equal(expected.Gradients[1].ToArray(), kept[1].ToArray());
    }

    [Fact]
    public void Keep_checks_its_arguments_and_the_scope()
    {
        var scope = Tensor.NewScope();
        Assert.Throws<ArgumentNullException>(() => scope.Keep((Tensor)null!));
        Assert.Throws<ArgumentNullException>(() => scope.Keep(new Tensor[] { A, null! }));
        scope.Dispose();
        Assert.Throws<ObjectDisposedException>(() => scope.Keep(A));
        // Nothing to keep, after the end: refused as documented (it returned quietly).
        Assert.Throws<ObjectDisposedException>(() => scope.Keep(Array.Empty<Tensor>()));
        Assert.Throws<ObjectDisposedException>(() => scope.Keep(new Adam(0.1).Init()));
    }

    [Fact]
    public void The_readme_training_loop_gives_the_unscoped_weights()
    {
        var x = Tensor.Random(3, 48, 48);
        Tensor Train(bool scoped)
        {
            var w = Tensor.Random(4, 48, 48);
            for (int step = 0; step < 5; step++)
            {
                using var scope = scoped ? Tensor.NewScope() : null;
                var r = Autodiff.ValueAndGrad(xs => xs[0].MatMul(xs[1]).Gelu().Sum(), w, x);
                w = w - 0.1 * r.Gradients[0];
                if (scope is not null) w = scope.Keep(w);
            }
            return w;
        }
        Assert.Equal(Train(false).ToArray(), Train(true).ToArray());
    }

    [Fact]
    public void A_training_loop_with_a_scope_per_step_keeps_its_optimizer_state()
    {
        // Adam's moments are made in the step's scope: without keeping them the second step read released tensors.
        var opt = new Adam(1e-2);
        var w0 = Tensor.Random(3, 64, 64);
        Tensor Loss(Tensor p) => (p * p).Sum();
        var (w, st) = (w0, opt.Init(w0));
        for (int i = 0; i < 3; i++)
        {
            using var scope = Tensor.NewScope();
            var step = scope.Keep(opt.Step(new[] { w }, new[] { Autodiff.Grad(Loss, w) }, st));
            (w, st) = (step.Parameters[0], step.State);
        }
        var (u, su) = (w0, opt.Init(w0));
        for (int i = 0; i < 3; i++)
        {
            var step = opt.Step(new[] { u }, new[] { Autodiff.Grad(Loss, u) }, su);
            (u, su) = (step.Parameters[0], step.State);
        }
        Assert.Equal(u.ToArray(), w.ToArray());
        Assert.Equal(3, st.Steps);
    }
}
