using Functional.CrossCheck;
using Functional.Testing;
using TorchSharp;
using Xunit;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Functional.Facade.Tests;

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
        Says<ShapeException>(() => Autodiff.Jvp(x => x.Exp(), Tensor.Zeros(3), Tensor.Zeros(4)), "Autodiff.Jvp: ", "v");
        Says<ShapeException>(() => Tensor.FromArray(new[] { 1.0, 2, 3 }), "Tensor.FromArray: 3 values need a shape", "shape");
        var c = Assert.ThrowsAny<ArgumentException>(() => Einsum.Contract("ij,jk->ik", Tensor.Zeros(2, 3)));
        Assert.Contains("1 tensor was given", c.Message);
    }

    [Fact]
    public void A_users_own_argument_error_passes_through_every_member_untouched()
    {
        // Thrown by the user's function and by a custom op's rule: it used to be rebuilt in the member's terms (a new
        // object, its parameter renamed, "k: " cut from its message).
        var mine = new ArgumentOutOfRangeException("k", 5, "k: too big");
        Assert.Same(mine, Assert.Throws<ArgumentOutOfRangeException>(() => Autodiff.Grad((Tensor x) => throw mine, Tensor.Ones(3))));
        var shape = new ShapeException("mine", "rows");
        Assert.Same(shape, Assert.Throws<ShapeException>(() => Autodiff.Grad((Tensor x) => throw shape, Tensor.Ones(3))));
        var op = CustomOp.Create("e", xs => xs[0].Exp(), (xs, y, g, i) => throw mine, (xs, y, i, t) => t * y);
        var thrown = Assert.Throws<ArgumentOutOfRangeException>(() => Autodiff.Grad(x => op(new[] { x }).Sum(), Tensor.Ones(3)));
        Assert.Same(mine, thrown);
        Assert.Equal("k", thrown.ParamName);
        Assert.StartsWith("k: too big", thrown.Message);
        // A facade member's error inside the function is still said in the outer member's terms.
        var ours = Assert.Throws<ShapeException>(() => Autodiff.Grad(x => (x + Tensor.Ones(4)).Sum(), Tensor.Ones(3)));
        Assert.StartsWith("Autodiff.Grad: ", ours.Message);
        // One the facade raises outside its error boundary (the indexer) is the library's, not the user's, too.
        Assert.StartsWith("Autodiff.Grad: ", Assert.ThrowsAny<ArgumentException>(() => Autodiff.Grad((Tensor x) => x[5].Sum(), Tensor.Ones(3))).Message);
    }

    [Fact]
    public void Shapes_compare_by_value_with_operators_too()
    {
        var t = Tensor.Zeros(2, 3);
        // Each Shape is a new object: == compared references and was false even for t.Shape == t.Shape.
        Assert.True(t.Shape == t.Shape);
        Assert.True(t.Shape == Tensor.Ones(2, 3).Shape);
        Assert.True(t.Shape != Tensor.Zeros(3, 2).Shape);
        Assert.False(t.Shape == null);
    }

    [Fact]
    public void Sizes_that_overflow_or_hold_a_zero_and_bounds_at_the_double_range_are_handled()
    {
        // Rows sharing one array need no memory; their copy would: 50,000² wrapped to a negative array length.
        var row = new double[50_000];
        Assert.Throws<MemoryLimitException>(() => Tensor.FromArray(Enumerable.Repeat(row, 50_000).ToArray()));
        // A zero dimension after large ones: 0 elements, not "more than an array can hold".
        Assert.Equal(0, Tensor.Zeros(100_000, 100_000, 0).Count);
        // Bounds at ±double.MaxValue: high − low overflowed, giving ±∞ and NaN.
        var wide = Tensor.Uniform(new[] { 1000 }, 3, -double.MaxValue, double.MaxValue).ToArray();
        Assert.All(wide, v => Assert.True(double.IsFinite(v)));
        Assert.Contains(wide, v => v < 0);
        Assert.Contains(wide, v => v > 0);
        Assert.Equal("high", Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Uniform(new[] { 2 }, 3, 0, double.PositiveInfinity)).ParamName);
        foreach (var t in FsCheck.Fluent.Gen.Sample(Generators.Tensor(new[] { 100 }, -double.MaxValue, double.MaxValue), 5))
            Assert.All(t.ToArray(), v => Assert.True(double.IsFinite(v)));
        foreach (var t in FsCheck.Fluent.Gen.Sample(Generators.Tensor(new[] { 100 }, -double.MaxValue, double.MaxValue, 1.0, 0.0), 5))
            Assert.All(t.ToArray(), v => Assert.True(double.IsFinite(v) && Math.Abs(v) >= 1.0));
    }

    [Fact]
    public void Infinite_hyperparameters_and_options_that_would_fail_correct_rules_are_refused()
    {
        // ∞ passed `> 0` and turned the first step's parameters into ±∞ or NaN.
        Assert.Equal("learningRate", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(double.PositiveInfinity)).ParamName);
        Assert.Equal("epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(1e-3, 0.9, 0.999, double.PositiveInfinity, 0)).ParamName);
        Assert.Equal("weightDecay", Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW(1e-3, double.PositiveInfinity)).ParamName);
        // The message says the value once.
        var m = Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(-1)).Message;
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(m, "Actual value was"));
        // A zero step made every central difference NaN, and a correct rule FAILED.
        Func<Tensor[], Tensor> square = xs => xs[0] * xs[0];
        Assert.Throws<ArgumentOutOfRangeException>(() => RuleCheck.Run(square, new RuleCheckOptions { RelativeStep = 0 }, Tensor.Random(1, 3)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RuleCheck.Run(square, new RuleCheckOptions { AbsoluteTolerance = double.NaN }, Tensor.Random(1, 3)));
        Assert.True(RuleCheck.Run(square, Tensor.Random(1, 3)).Passed);
        // Gradients near 1e200: Σg² overflowed, the norm was ∞ and every gradient became 0.
        var big = Gradients.ClipByNorm(new[] { Tensor.FromArray(new[] { 3e200, 4e200 }, 2) }, 1.0);
        Assert.Equal(5e200, big.Norm, 1e186);
        Assert.Equal(new[] { 0.6, 0.8 }, big.Gradients[0].ToArray().Select(v => Math.Round(v, 12)));
        // ∞ clips nothing (the norm alone), as torch's does for a finite norm.
        Assert.Equal(5.0, Gradients.ClipByNorm(new[] { Tensor.FromArray(new[] { 3.0, 4 }, 2) }, double.PositiveInfinity).Norm);
        // ... whatever the gradients hold: ∞/(∞ + 1e-6) made every gradient NaN, the finite ones too.
        foreach (var odd in new[] { double.PositiveInfinity, double.NaN })
        {
            var unclipped = Gradients.ClipByNorm(new[] { Tensor.FromArray(new[] { 3.0, odd }, 2), Tensor.FromArray(new[] { -2.0 }, 1) }, double.PositiveInfinity);
            Assert.Equal(new[] { 3.0, odd }, unclipped.Gradients[0].ToArray());
            Assert.Equal(new[] { -2.0 }, unclipped.Gradients[1].ToArray());
        }
        // A finite bound scales by 0 where the norm is ∞ and by NaN where it is NaN, as torch's default.
        Assert.Equal(new[] { 0.0, double.NaN }, Gradients.ClipByNorm(new[] { Tensor.FromArray(new[] { 3.0, double.PositiveInfinity }, 2) }, 1.0).Gradients[0].ToArray());
        Assert.All(Gradients.ClipByNorm(new[] { Tensor.FromArray(new[] { 3.0, double.NaN }, 2) }, 1.0).Gradients[0].ToArray(), v => Assert.True(double.IsNaN(v)));
    }

    [Fact]
    public void Printing_never_makes_a_huge_array_or_throws_and_stays_short()
    {
        // A lazy 40,000² zeros (12.8 GB as an array) printed from its one value.
        Assert.Contains("shape=[40000, 40000]", Tensor.Zeros(40_000, 40_000).ToString());
        // 6⁸ elements: no axis is longer than 6, so every element printed (10 MB of text); now first and last per axis.
        var deep = Tensor.Ones(6, 6, 6, 6, 6, 6, 6, 6).ToString();
        Assert.True(deep.Length < 20_000, $"{deep.Length} characters");
        // Twenty axes of length 2 elided nothing: a million numbers. Printed flat now, first and last.
        var halves = Tensor.FromArray(Enumerable.Range(0, 1 << 20).Select(i => (double)i).ToArray(), Enumerable.Repeat(2, 20).ToArray()).ToString();
        Assert.True(halves.Length < 200, halves);
        Assert.Contains("[0, 1, 2, ..., 1048573, 1048574, 1048575], 1048576 elements in row-major order", halves);
        Assert.True(Tensor.Zeros(Enumerable.Repeat(2, 30).ToArray()).ToString().Length < 400);
        // An empty tensor printed a bracket pair for every index of the axes before its 0: 4·10⁹ of them here.
        Assert.Equal("tensor([], shape=[65536, 65536, 0])", Tensor.Zeros(65_536, 65_536, 0).ToString());
        Assert.Equal("tensor([], shape=[0])", Tensor.Zeros(0).ToString());
        // Past 32 axes the printing is flat, with no recursion per axis (more than 64 axes are refused).
        Assert.Contains("[1], 1 element in row-major order", Tensor.Ones(Enumerable.Repeat(1, 64).ToArray()).ToString());
        // A released tensor says so (a debugger calls ToString) instead of throwing.
        Tensor kept;
        using (Tensor.NewScope()) kept = Tensor.Random(1, 3) * 2;
        Assert.Contains("released", kept.ToString());
        Assert.Contains("null", new OptimizerStep(new Tensor[] { null! }, null!).ToString());
        Assert.Throws<ArgumentNullException>(() => Tensor.ValueComparer.GetHashCode(null!));
    }

    [Fact]
    public void A_generated_case_outlives_the_scope_it_was_first_read_in_and_keeps_its_shapes()
    {
        var c = Generators.Build(7, new EinsumOptions());
        Tensor[] first;
        using (Tensor.NewScope())
        {
            EinsumCheck.Metamorphic(c);
            first = c.Operands;
        }
        // Its operands were first read in that scope but made outside every scope: the scope's end leaves them, so
        // another reader (another thread's, in a shared case) still holds live operands.
        Assert.All(first, t => Assert.False(t.IsReleased));
        Assert.All(first.Zip(c.Operands), p => Assert.Same(p.First, p.Second));
        Assert.Equal(Einsum.Contract(c.Equation, c.Operands).Shape, Einsum.Contract(c.Equation, c.Operands).Shape);
        var shapes = c.Shapes;
        if (shapes.Length > 0 && shapes[0].Length > 0) shapes[0][0] += 5;
        Assert.Equal(c.Operands[0].Shape.ToArray(), c.Shapes[0]);
    }

    [Fact]
    public void Values_that_give_NaN_everywhere_are_refused_and_core_names_map_to_the_member_s()
    {
        Assert.Equal("start", Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Linspace(double.NaN, 0, 3)).ParamName);
        Assert.Equal("stop", Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Linspace(0, double.PositiveInfinity, 3)).ParamName);
        Assert.Equal("mean", Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Normal(new[] { 2 }, 1, double.NaN, 1)).ParamName);
        Assert.Equal("negativeSlope", Assert.Throws<ArgumentException>(() => Tensor.Random(1, 3).LeakyRelu(double.NaN)).ParamName);
        Assert.Equal("alpha", Assert.Throws<ArgumentException>(() => Tensor.Random(1, 3).Elu(double.NaN)).ParamName);
        // The core's parameter names (vs, xs, lo, c) reported as the C# member's.
        Assert.Equal("v", Assert.ThrowsAny<ArgumentException>(() => Autodiff.Jvp(x => x.Exp(), Tensor.Zeros(3), Tensor.Zeros(2))).ParamName);
        Assert.Equal("tensors", Assert.ThrowsAny<ArgumentException>(() => Tensor.Concat(0)).ParamName);
        Assert.Equal("min", Assert.ThrowsAny<ArgumentException>(() => Tensor.Zeros(2).Clamp(2, 1)).ParamName);
        Assert.Equal("convention", Assert.ThrowsAny<ArgumentException>(() => Tensor.Zeros(2).LeakyRelu(0.1, (KinkConvention)42)).ParamName);
        // The facade's own checks keep their words and parameter.
        var scalarNorm = Assert.Throws<ShapeException>(() => Tensor.Scalar(1).LayerNorm(1e-5));
        Assert.Equal("this", scalarNorm.ParamName);
        Assert.StartsWith("Tensor.LayerNorm normalises", scalarNorm.Message);
        Assert.Equal("this", Assert.Throws<ShapeException>(() => Tensor.Scalar(1).RmsNorm(1e-5)).ParamName);
        // An empty input still runs f once: a non-scalar f is refused as for any other input.
        Assert.Throws<ShapeException>(() => Autodiff.Hessian(x => x * 2, Tensor.Zeros(0)));
    }

    [Fact]
    public void Losses_refuse_shapes_that_pair_every_prediction_with_every_target()
    {
        // [N, 1] against [N] broadcast to [N, N]: the mean of every pairing, a silent wrong loss.
        var p = Tensor.Random(1, 4, 1);
        var t = Tensor.Random(2, 4);
        foreach (var loss in new Func<Tensor>[] { () => Loss.Mse(p, t), () => Loss.L1(p, t), () => Loss.Huber(p, t, 1.0), () => Loss.BinaryCrossEntropyWithLogits(p, t) })
            Assert.Contains("broadcast to [4, 4]", Assert.Throws<ShapeException>(loss).Message);
        // A broadcast that only repeats one side (a [C] target over [N, C], a scalar) is kept.
        Assert.True(double.IsFinite(Loss.Mse(Tensor.Random(3, 4, 3), Tensor.Random(4, 3)).ToScalar()));
        Assert.True(double.IsFinite(Loss.Mse(Tensor.Random(3, 4, 3), Tensor.Zeros(1)).ToScalar()));
        // Probabilities of another shape than the logits.
        Assert.Equal("probabilities", Assert.Throws<ShapeException>(() => Loss.CrossEntropy(Tensor.Random(5, 4, 3), Tensor.Ones(4, 1))).ParamName);
    }

    [Fact]
    public void Cholesky_s_forward_mode_agrees_with_its_gradient_for_any_tangent()
    {
        // f(A) = ½L₁₀² at a positive definite A: the Hessian from forward over reverse must be symmetric, and ⟨∇f, V⟩
        // must equal the JVP along a non-symmetric V.
        var a = Tensor.FromArray(new[] { 4.0, 1, 1, 3 }, 2, 2);
        Func<Tensor, Tensor> f = m => { var l = Linalg.Cholesky(m); var e = l.Narrow(0, 1, 1).Narrow(1, 0, 1); return (e * e).Sum() * 0.5; };
        var v = Tensor.FromArray(new[] { 0.0, 1, 0, 0 }, 2, 2);
        double viaGrad = (Autodiff.Grad(f, a) * v).Sum().ToScalar();
        double viaJvp = Autodiff.Jvp(f, a, v).Tangent.ToScalar();
        Assert.Equal(viaGrad, viaJvp, 14);
        var h = Autodiff.Hessian(f, a).Reshape(4, 4).ToArray2D();
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                Assert.True(Math.Abs(h[i, j] - h[j, i]) <= 1e-12, $"H[{i},{j}] = {h[i, j]}, H[{j},{i}] = {h[j, i]}");
    }
}
