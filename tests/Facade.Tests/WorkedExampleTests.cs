using FsCheck;
using FsCheck.Fluent;
using Functional.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Functional.Facade.Tests;

/// <summary>The README's worked example: a gradient rule written by hand with a planted mistake, found by the einsum
/// generator and shrunk to a minimal equation.</summary>
public class WorkedExampleTests(ITestOutputHelper output)
{
    /// <summary>The naive I/J/K rule for operand 0: contract the output gradient with the other operands onto
    /// operand 0's labels. It forgets the cases beyond the plain rule (a label summed inside operand 0, a repeated
    /// label).</summary>
    private static Tensor NaiveGradient(EinsumCase c, Tensor outputGradient)
    {
        var sides = c.Equation.Split("->");
        var inputs = sides[0].Split(',');
        var equation = string.Join(",", new[] { sides[1] }.Concat(inputs.Skip(1))) + "->" + inputs[0];
        return Einsum.Contract(equation, new[] { outputGradient }.Concat(c.Operands.Skip(1)).ToArray());
    }

    [Fact]
    public void A_hand_written_rule_with_a_mistake_is_found_and_shrunk_to_a_minimal_equation()
    {
        var options = new EinsumOptions { ImplicitOutput = false, Ellipsis = false, Broadcasting = false, ZeroSize = false };
        EinsumCase? shrunk = null;
        var property = Prop.ForAll(Generators.Einsum(options), c =>
        {
            bool ok;
            try
            {
                var y = Einsum.Contract(c.Equation, c.Operands);
                var g = Tensor.Random(99, y.Shape.ToArray());
                var expected = Autodiff.Vjp(x => Einsum.Contract(c.Equation, new[] { x }.Concat(c.Operands.Skip(1)).ToArray()), c.Operands[0]).Pullback(g);
                var actual = NaiveGradient(c, g);
                ok = actual.Shape.SequenceEqual(expected.Shape) && actual.ToArray().Zip(expected.ToArray()).All(p => Math.Abs(p.First - p.Second) <= 1e-9);
            }
            catch (ArgumentException) { ok = false; }
            if (!ok) shrunk = c;
            return ok;
        });
        var e = Assert.ThrowsAny<Exception>(() => Check.One(Config.QuickThrowOnFailure.WithReplay(2024UL, 7UL), property));
        output.WriteLine(e.Message);
        output.WriteLine("last failing case: " + shrunk);
        Assert.NotNull(shrunk);
        Assert.Single(shrunk!.Operands);
    }
}
