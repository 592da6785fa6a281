// The README's C# example, compiled and run as it is printed there.
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Functional;
using Functional.Testing;
using Xunit;

namespace Functional.Facade.Tests;

public class SoftsignTests
{
    // softsign(x) = x / (1 + |x|); d/dx = 1 / (1 + |x|)², written with Tensor operations so every order follows.
    static Tensor Abs(Tensor x) => (x * x).Sqrt();
    static Tensor Slope(Tensor x) => 1 / ((1 + Abs(x)) * (1 + Abs(x)));
    static readonly Func<Tensor[], Tensor> Softsign = CustomOp.Create("softsign",
        xs => xs[0] / (1 + Abs(xs[0])),
        (xs, y, g, i) => g * Slope(xs[0]),     // VJP: adjoint of input i
        (xs, y, i, t) => t * Slope(xs[0]));    // JVP: input i's part of the output tangent

    [Property(MaxTest = 50, Replay = "(12345,6789)")]
    public Property Softsign_rules_hold_for_any_shape() =>
        Prop.ForAll(Generators.Shape(3, 4).SelectMany(s => Generators.Tensor(s, -3, 3)).ToArbitrary(),
            x => RuleCheck.Run(Softsign, x).Passed);

    [Property(MaxTest = 200, Replay = "(12345,6789)")]
    public Property Einsum_agrees_with_its_own_gradient_check() =>
        Prop.ForAll(Generators.Einsum(new EinsumOptions { MaxOperands = 3, ZeroSize = false }),
            c => GradientCheck.Run(xs => Einsum.Contract(c.Equation, xs), c.Operands).Passed);
}
