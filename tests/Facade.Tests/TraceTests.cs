using Xunit;
using Xunit.Abstractions;

namespace Functional.Facade.Tests;

/// <summary>Programs as data: a function and its derived gradient program, traced and printed.</summary>
public class TraceTests(ITestOutputHelper output)
{
    [Fact]
    public void The_seed_matmul_with_a_GELU_traces_to_its_forward_and_gradient_programs()
    {
        var a = Tensor.Random(1, 2, 3);
        var b = Tensor.Random(2, 3, 4);
        var program = Autodiff.TraceGradient(xs => xs[0].MatMul(xs[1]).Gelu().Sum(), a, b);
        output.WriteLine(program.ToString());
        Assert.Equal(new[] { "einsum", "gelu", "sum" }, program.Forward.Select(o => o.Name));
        Assert.Contains("equation=\"ij,jk->ik\"", program.Forward[0].ToString());
        Assert.Contains(program.Gradient, o => o.Name == "geluScaled");
        Assert.Equal(2, program.Gradients.Count);
        // The gradient program computes what Autodiff.Grad gives: its last einsums are ∇A = G·Bᵀ and ∇B = Aᵀ·G.
        var einsums = program.Gradient.Where(o => o.Name == "einsum").Select(o => o.Attributes.Single(x => x.Key == "equation").Value).ToArray();
        Assert.Contains("\"ik,jk->ij\"", einsums);
        Assert.Contains("\"ik,ij->jk\"", einsums);
    }

    [Fact]
    public void A_gradient_program_computes_its_adjoints_from_the_seed_and_runs_on_TorchSharp()
    {
        // sum(x + b) with b broadcast along the rows: the bias gradient is a sum over rows of the broadcast seed.
        var x = Tensor.Random(3, 2, 3);
        var b = Tensor.Random(4, 3);
        Func<Tensor[], Tensor> f = xs => (xs[0] + xs[1]).Sum();
        var program = Autodiff.TraceGradient(f, x, b);
        output.WriteLine(program.ToString());
        Assert.Contains(program.Gradient, o => o.Name == "broadcastTo");
        Assert.Contains(program.Gradient, o => o.Name == "sumTo");
        Assert.DoesNotContain("const", program.ToString());
        var onTorch = Functional.CrossCheck.TorchSharpEngine.Run(f, "cpu", x, b);
        Assert.Equal(new[] { 2.0, 2, 2 }, onTorch.Gradients[1].ToArray());
        Assert.Equal(Enumerable.Repeat(1.0, 6), onTorch.Gradients[0].ToArray());
    }

    [Fact]
    public void A_sum_over_some_axes_records_whether_it_keeps_them_and_replays_to_that_shape()
    {
        var x = Tensor.Random(6, 2, 3, 4);
        Func<Tensor[], Tensor> f = xs => xs[0].Sum(new[] { 0, 2 }, false).Square().Sum() + xs[0].Sum(new[] { 1 }, true).Exp().Sum();
        var program = Autodiff.TraceGradient(f, x);
        output.WriteLine(program.ToString());
        var sums = program.Forward.Where(o => o.Name == "sum").Select(o => o.Attributes.Single(a => a.Key == "keepDims").Value);
        Assert.Equal(new[] { "false", "false", "true", "false" }, sums);
        // Replayed on TorchSharp, each sum's result has the shape the program recorded (the squares' and exponentials'
        // gradients are shaped by it).
        var onTorch = Functional.CrossCheck.TorchSharpEngine.Run(f, "cpu", x);
        var ours = Autodiff.ValueAndGrad(f, x);
        Assert.True(onTorch.Value.AllClose(ours.Value, 1e-12, 1e-12));
        Assert.True(onTorch.Gradients[0].AllClose(ours.Gradients[0], 1e-12, 1e-12));
    }

    [Fact]
    public void An_op_that_returns_its_input_gets_a_name_of_its_own_and_a_custom_op_is_marked()
    {
        var ones = Tensor.Ones(3);
        var square = CustomOp.Create("mySquare", xs => xs[0] * xs[0], (xs, y, g, i) => g * xs[0] * 2, (xs, y, i, t) => t * xs[0] * 2);
        var program = Autodiff.TraceGradient(xs => (xs[0] * xs[1]).Sum() + square(new[] { xs[1] }).Sum(), ones, Tensor.Random(5, 3));
        string text = program.ToString();
        output.WriteLine(text);
        Assert.DoesNotContain("'", text);
        Assert.Contains("mySquare[custom=true](%x1)", text);
    }

    [Fact]
    public void Constants_are_named_and_listed_with_their_values()
    {
        var w1 = Tensor.FromArray(new[] { 1.0, 2, 3 }, 3);
        var w2 = Tensor.FromArray(new[] { 4.0, 5, 6 }, 3);
        var big = Tensor.Random(9, 20);
        var program = Autodiff.TraceGradient(xs => (xs[0] * w1 + xs[0] * w2 + big.Sum() * 0.5).Sum(), Tensor.Random(8, 3));
        string text = program.ToString();
        output.WriteLine(text);
        // Two constants of one shape are two names, with their values.
        Assert.Contains("%c0 = [1, 2, 3] : [3]", program.Constants);
        Assert.Contains("%c1 = [4, 5, 6] : [3]", program.Constants);
        Assert.Contains("constants:", text);
        Assert.Contains("mul(%x0, %c0)", text);
        Assert.Contains("mul(%x0, %c1)", text);
        // Past eight values a constant is shortened in Constants and ToString(); ToString(true) and ConstantValues
        // give every value, each written to round-trip.
        string shortened = Assert.Single(program.Constants, c => c.Contains('…'));
        Assert.EndsWith("(20 values) : [20]", shortened);
        string full = program.ToString(allValues: true);
        Assert.DoesNotContain("…", full);
        string line = "%c2 = [" + string.Join(", ", big.ToArray().Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))) + "] : [20]";
        Assert.Contains(line, full);
        Assert.Equal(text.Replace(shortened, line), full);
        var values = program.ConstantValues;
        Assert.Equal(program.Constants.Count, values.Count);
        Assert.Equal(new[] { 1.0, 2, 3 }, values[0].ToArray());
        Assert.Equal(big.ToArray(), values[2].ToArray());
        Assert.Equal(new[] { 20 }, values[2].Shape.ToArray());
        // A one-element constant with axes keeps its shape (inline it read as a scalar, [3] where the op gives [1, 3]).
        var shaped = Autodiff.TraceGradient(xs => (xs[0] + Tensor.Ones(1, 1)).Sum(), Tensor.Random(1, 3));
        Assert.Contains("%c0 = [1] : [1, 1]", shaped.Constants);
        Assert.Contains("add(%x0, %c0)", shaped.ToString());
    }

    [Fact]
    public void Signs_and_masks_are_operations_of_the_program_not_constants_it_carries()
    {
        // sign(det A)·det A = |det A|: traced where det A < 0, the sign is an operation on %x0, so the program
        // recomputes it from its input instead of carrying the −1 it had when traced; so are sign x and a mask x < 2x.
        var a = Tensor.FromArray(new[] { 0.0, 1, 1, 0 }, 2, 2);
        var program = Autodiff.TraceGradient(xs => (Linalg.SignDet(xs[0]) * Linalg.Det(xs[0]) + xs[0].Sign().Sum() + (xs[0] * xs[0].LessThan(xs[0] * 2)).Sum()).Sum(), a);
        string text = program.ToString();
        output.WriteLine(text);
        Assert.Contains(program.Forward, o => o.Name == "signDet" && o.Operands.SequenceEqual(new[] { "%x0" }));
        Assert.Contains(program.Forward, o => o.Name == "sign" && o.Operands.SequenceEqual(new[] { "%x0" }));
        Assert.Contains(program.Forward, o => o.Name == "lt" && o.Operands[0] == "%x0");
        Assert.DoesNotContain("const(-1)", text);
        Assert.Empty(program.Constants);
    }

    [Fact]
    public void Attributes_of_built_in_ops_are_recorded()
    {
        var x = Tensor.Random(3, 2, 5);
        var program = Autodiff.TraceGradient(xs => (xs[0].Pow(1.5).LeakyRelu(0.1, KinkConvention.Midpoint).LogSoftmax(1) * 2).Sum(), x.Exp());
        output.WriteLine(program.ToString());
        string text = program.ToString();
        Assert.Contains("pow[p=1.5]", text);
        Assert.Contains("leakyRelu[alpha=0.1, convention=Midpoint]", text);
        Assert.Contains("logSoftmax[axis=1]", text);
        Assert.Contains("logSoftmaxVjp[axis=1]", text);
        Assert.Contains("slopeScaled[alpha=0.1, convention=Midpoint]", text);
        Assert.Contains("powScaled[p=1.5]", text);
    }

    [Fact]
    public void A_custom_op_appears_under_its_name()
    {
        var cube = CustomOp.Create("cube", xs => xs[0] * xs[0] * xs[0], (xs, y, g, i) => g * 3 * xs[0] * xs[0], (xs, y, i, t) => t * 3 * xs[0] * xs[0]);
        var program = Autodiff.TraceGradient(xs => cube(xs).Sum(), Tensor.Random(1, 4));
        Assert.Contains(program.Forward, o => o.Name == "cube");
    }
}
