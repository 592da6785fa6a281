using Functional.CrossCheck;
using Microsoft.FSharp.Core;
using TorchSharp;
using Xunit;
using TT = TorchSharp.torch.Tensor;

namespace Functional.Facade.Tests;

/// <summary>Our pure optimizers against torch.optim, step by step, on the same gradient sequence.</summary>
public class OptimizerTests
{
    private static readonly Tensor[] Start = { Tensor.Random(1, 3, 4), Tensor.Random(2, 4) };
    private static Tensor[] GradientsAt(int step) => new[] { Tensor.Random(100 + step, 3, 4) * 3, Tensor.Random(200 + step, 4) };

    private static TT ToTorch(Tensor t) => torch.tensor(t.ToArray(), t.Shape.Select(d => (long)d).ToArray(), torch.ScalarType.Float64);

    /// <summary>The parameters after `steps` steps of torch's optimizer, each fed the gradients through a linear loss.</summary>
    /// (Self-contained, so it runs once more if LibTorch reads a freed Scalar: docs/ENVIRONMENT.md.)
    private static double[][] Theirs(Func<IList<TorchSharp.Modules.Parameter>, torch.optim.Optimizer> make, int steps, double? clip = null) =>
        Torch.scopedRetryingFreedScalar(FuncConvert.FromFunc(() =>
        {
            var ps = Start.Select(t => new TorchSharp.Modules.Parameter(ToTorch(t))).ToList();
            var opt = make(ps);
            for (int k = 0; k < steps; k++)
            {
                opt.zero_grad();
                var g = GradientsAt(k);
                var loss = ps.Select((p, i) => (p * ToTorch(g[i])).sum()).Aggregate((a, b) => a + b);
                loss.backward();
                if (clip is { } c) torch.nn.utils.clip_grad_norm_(ps, c);
                opt.step();
            }
            return ps.Select(p => p.detach().data<double>().ToArray()).ToArray();
        }));

    private static double[][] Ours(IOptimizer optimizer, int steps, double? clip = null)
    {
        var ps = Start;
        var state = optimizer.Init(ps);
        for (int k = 0; k < steps; k++)
        {
            var g = GradientsAt(k);
            if (clip is { } c) g = Gradients.ClipByNorm(g, c).Gradients;
            (ps, state) = optimizer.Step(ps, g, state);
        }
        Assert.Equal(steps, state.Steps);
        return ps.Select(p => p.ToArray()).ToArray();
    }

    private static void Same(double[][] ours, double[][] theirs)
    {
        for (int i = 0; i < ours.Length; i++)
            for (int e = 0; e < ours[i].Length; e++)
                Assert.True(Math.Abs(ours[i][e] - theirs[i][e]) <= 1e-12 * (1 + Math.Abs(theirs[i][e])), $"parameter {i} element {e}: ours {ours[i][e]:R}, torch {theirs[i][e]:R}");
    }

    [Fact]
    public void Sgd_equals_torch_optim_SGD()
    {
        Same(Ours(new Sgd(0.1), 6), Theirs(ps => torch.optim.SGD(ps, 0.1), 6));
        Same(Ours(new Sgd(0.1, 0.9, false, 0.01), 6), Theirs(ps => torch.optim.SGD(ps, 0.1, momentum: 0.9, weight_decay: 0.01), 6));
        Same(Ours(new Sgd(0.1, 0.9, true, 0), 6), Theirs(ps => torch.optim.SGD(ps, 0.1, momentum: 0.9, nesterov: true), 6));
    }

    [Fact]
    public void Adam_and_AdamW_equal_torch_optim()
    {
        Same(Ours(new Adam(0.01), 8), Theirs(ps => torch.optim.Adam(ps, 0.01), 8));
        Same(Ours(new Adam(0.01, 0.8, 0.99, 1e-6, 0.05), 8), Theirs(ps => torch.optim.Adam(ps, 0.01, 0.8, 0.99, 1e-6, 0.05), 8));
        Same(Ours(new AdamW(0.01, 0.1), 8), Theirs(ps => torch.optim.AdamW(ps, 0.01, weight_decay: 0.1), 8));
    }

    /// <summary>A warm-up schedule's first rate is 0, as torch.optim accepts: the parameters stay, the moments and the
    /// step count advance, and later steps continue as torch's.</summary>
    [Fact]
    public void A_rate_of_0_starts_a_warm_up_as_torch_optim()
    {
        double Rate(int k) => 0.01 * k;
        var ps = Start;
        var state = new Adam(0).Init(ps);
        for (int k = 0; k < 4; k++)
        {
            var before = ps[0].ToArray();
            (ps, state) = new Adam(Rate(k), 0.9, 0.999, 0, 0).Step(ps, GradientsAt(k), state);
            if (k == 0) Assert.Equal(before, ps[0].ToArray());
        }
        var theirs = Torch.scopedRetryingFreedScalar(FuncConvert.FromFunc(() =>
        {
            var tp = Start.Select(t => new TorchSharp.Modules.Parameter(ToTorch(t))).ToList();
            var opt = torch.optim.Adam(tp, 0.0, eps: 0.0);
            for (int k = 0; k < 4; k++)
            {
                foreach (var group in opt.ParamGroups) group.LearningRate = Rate(k);
                opt.zero_grad();
                var g = GradientsAt(k);
                tp.Select((p, i) => (p * ToTorch(g[i])).sum()).Aggregate((a, b) => a + b).backward();
                opt.step();
            }
            return tp.Select(p => p.detach().data<double>().ToArray()).ToArray();
        }));
        Same(ps.Select(p => p.ToArray()).ToArray(), theirs);
        Assert.Equal(0.0, new Sgd(0).Step(Start, GradientsAt(0), new Sgd(0).Init(Start)).Parameters[0].ToArray().Zip(Start[0].ToArray(), (a, b) => a - b).Max(Math.Abs));
    }

    [Fact]
    public void Clipping_by_norm_equals_torch()
    {
        Same(Ours(new Sgd(0.1), 4, clip: 1.0), Theirs(ps => torch.optim.SGD(ps, 0.1), 4, clip: 1.0));
        var r = Gradients.ClipByNorm(new[] { Tensor.FromArray(new[] { 3.0, 4.0 }, 2) }, 1);
        Assert.Equal(5.0, r.Norm);
        Assert.Equal(0.6, r.Gradients[0].ValueAt(0), 6);
    }

    [Fact]
    public void A_step_mutates_nothing_and_bad_arguments_are_refused()
    {
        var before = Start[0].ToArray();
        var adam = new Adam(0.1);
        var state = adam.Init(Start);
        var step = adam.Step(Start, GradientsAt(0), state);
        Assert.Equal(before, Start[0].ToArray());
        Assert.Equal(0, state.Steps);
        Assert.Equal(1, step.State.Steps);
        Assert.Throws<ArgumentException>(() => adam.Step(Start, new[] { GradientsAt(0)[0] }, state));
        Assert.Throws<ShapeException>(() => adam.Step(Start, new[] { Tensor.Zeros(2), Tensor.Zeros(4) }, state));
        // Hyperparameters are refused by the constructor that took them, naming the parameter.
        Assert.Equal("learningRate", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(-1)).ParamName);
        Assert.Equal("beta2", Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(0.1, 0.9, 1, 1e-8, 0)).ParamName);
        Assert.Equal("momentum", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(0.1, double.NaN, false, 0)).ParamName);
        Assert.Equal("nesterov", Assert.Throws<ArgumentException>(() => new Sgd(0.1, 0, true, 0)).ParamName);
        // A state made for parameters of other shapes (the same count) is refused, not read as these parameters'.
        var other = new[] { Tensor.Random(3, 4, 3), Tensor.Random(4, 2, 2) };
        var ex = Assert.Throws<ShapeException>(() => adam.Step(Start, GradientsAt(0), adam.Init(other)));
        Assert.Contains("was the state made for other parameters", ex.Message);
        Assert.Throws<ShapeException>(() => new Sgd(0.1, 0.9, false, 0).Step(Start, GradientsAt(0), new Sgd(0.1, 0.9, false, 0).Init(other)));
    }

    [Fact]
    public void A_state_continues_only_with_the_kind_of_optimizer_that_made_it()
    {
        var sgd = new Sgd(0.1, 0.9, false, 0);
        var adam = new Adam(1e-3);
        // A state before its first step serves any optimizer.
        var fresh = sgd.Init(Start);
        Assert.Equal(1, adam.Step(Start, GradientsAt(0), fresh).State.Steps);
        var sgdState = sgd.Step(Start, GradientsAt(0), fresh).State;
        var adamState = adam.Step(Start, GradientsAt(0), fresh).State;
        // SGD's velocity read as Adam's first moment (and the reverse) would move the parameters by the wrong step.
        Assert.Equal("state", Assert.Throws<ArgumentException>(() => adam.Step(Start, GradientsAt(1), sgdState)).ParamName);
        Assert.Equal("state", Assert.Throws<ArgumentException>(() => sgd.Step(Start, GradientsAt(1), adamState)).ParamName);
        Assert.Equal("state", Assert.Throws<ArgumentException>(() => new Sgd(0.1).Step(Start, GradientsAt(1), adamState)).ParamName);
        // Adam and AdamW keep the same moments, as torch.optim's do.
        Assert.Equal(2, new AdamW(1e-3, 0.01).Step(Start, GradientsAt(1), adamState).State.Steps);
        // Clipping returns a new array even when it scales nothing.
        var small = new[] { Tensor.Zeros(2) };
        Assert.NotSame(small, Gradients.ClipByNorm(small, 1.0).Gradients);
    }

    [Fact]
    public void One_tensor_given_as_two_parameters_is_two_parameters()
    {
        var z = Tensor.Zeros(3);
        var g1 = Tensor.FromArray(new[] { 1.0, -2.0, 3.0 }, 3);
        var g2 = Tensor.FromArray(new[] { -0.5, 0.25, 4.0 }, 3);
        var adam = new Adam(0.1);
        var both = adam.Step(new[] { z, z }, new[] { g1, g2 }, adam.Init(z, z));
        both = adam.Step(both.Parameters, new[] { g2, g1 }, both.State);
        var first = adam.Step(new[] { z }, new[] { g1 }, adam.Init(z));
        first = adam.Step(first.Parameters, new[] { g2 }, first.State);
        var second = adam.Step(new[] { z }, new[] { g2 }, adam.Init(z));
        second = adam.Step(second.Parameters, new[] { g1 }, second.State);
        Assert.Equal(first.Parameters[0].ToArray(), both.Parameters[0].ToArray());
        Assert.Equal(second.Parameters[0].ToArray(), both.Parameters[1].ToArray());
        Assert.Equal(new double[3], z.ToArray());
    }
}
