using System;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using Core = Functional.Core;

namespace Functional;

/// <summary>
/// Differentiable operations defined in C#: a forward function and its derivative rules side by side, as every
/// built-in op is. The rules are written with <see cref="Tensor"/> operations, so gradients of any order, Jacobians,
/// Hessians and nesting work on the new op as they do on built-in ones. <c>Functional.Testing.RuleCheck</c> checks
/// the rules against finite differences and each other.
/// </summary>
/// <example><code>
/// // softsign(x) = x / (1 + |x|); d/dx = 1 / (1 + |x|)²
/// var softsign = CustomOp.Create("softsign",
///     xs => xs[0] / (1 + (xs[0] * xs[0]).Sqrt()),
///     (xs, y, g, i) => g / ((1 + (xs[0] * xs[0]).Sqrt()) * (1 + (xs[0] * xs[0]).Sqrt())),
///     (xs, y, i, t) => t / ((1 + (xs[0] * xs[0]).Sqrt()) * (1 + (xs[0] * xs[0]).Sqrt())));
/// Tensor gradient = Autodiff.Grad(x => softsign(new[] { x }).Sum(), Tensor.Random(1, 5));
/// </code></example>
public static class CustomOp
{
    /// <summary>Defines a differentiable op from its forward function and its two derivative rules.</summary>
    /// <param name="name">The op's name, for messages.</param>
    /// <param name="forward">The value: inputs → output. Written with <see cref="Tensor"/> operations (it then also
    /// differentiates itself, which the rules replace) or with any computation on the inputs' values.</param>
    /// <param name="vjp">Reverse mode: (inputs, output, adjoint of the output, i) → the adjoint of input i, shaped as
    /// input i: ḡᵢ = ḡᵀ·∂y/∂xᵢ.</param>
    /// <param name="jvp">Forward mode: (inputs, output, i, tangent of input i) → input i's part of the output tangent,
    /// shaped as the output: ∂y/∂xᵢ·tᵢ.</param>
    /// <returns>The op: call it with its inputs inside any function given to <see cref="Autodiff"/>. Calling it
    /// throws <see cref="InvalidOperationException"/> when <paramref name="forward"/> uses a value being
    /// differentiated that is not one of the op's inputs (its derivative would be lost): pass such a value as an
    /// input.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static Func<Tensor[], Tensor> Create(string name, Func<Tensor[], Tensor> forward,
        Func<Tensor[], Tensor, Tensor, int, Tensor> vjp, Func<Tensor[], Tensor, int, Tensor, Tensor> jvp)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(forward);
        ArgumentNullException.ThrowIfNull(vjp);
        ArgumentNullException.ThrowIfNull(jvp);
        // Marked as custom: a traced program's replay never takes a built-in op of the same name for it.
        var op = Core.OpModule.withAttributes(ListModule.OfArray(new[] { Tuple.Create("custom", (object)true) }), Core.OpModule.create(name,
            FuncConvert.FromFunc<Core.Tensor[], Core.Tensor>(xs =>
            {
                var result = Rule(Api.User(() => forward(Array.ConvertAll(xs, x => new Tensor(Core.ValueModule.constant(x))))), name, "forward").Value;
                // The inputs are constants here: a result still being differentiated came from a value the forward
                // captured, whose derivative the op's rules cannot carry (it would silently be 0).
                if (!result.IsConst)
                    throw new InvalidOperationException(
                        $"The forward of custom op '{name}' uses a value being differentiated that is not one of its inputs; pass it to the op as an input, so that its rules give its derivative.");
                return result.Tensor;
            }),
            FuncConvert.FromFunc<Core.Value[], Core.Value, Core.Value, int, Core.Value>((xs, y, g, i) =>
                Shaped(Rule(Api.User(() => vjp(Interop.Tensors(xs), new Tensor(y), new Tensor(g), i)), name, "VJP").Value, xs[i].Tensor.Shape, name, "VJP", i)),
            FuncConvert.FromFunc<Core.Value[], Core.Value, int, Core.Value, Core.Value>((xs, y, i, t) =>
                Shaped(Rule(Api.User(() => jvp(Interop.Tensors(xs), new Tensor(y), i, new Tensor(t))), name, "JVP").Value, y.Tensor.Shape, name, "JVP", i))));
        return inputs =>
        {
            var values = Interop.Values(inputs, nameof(inputs));
            return new Tensor(Core.OpModule.apply(op, values));
        };
    }

    private static Tensor Rule(Tensor? t, string name, string rule) =>
        t ?? throw Api.InTermsOf("CustomOp.Create", new ArgumentException($"The {rule} of custom op '{name}' returned null.", rule.ToLowerInvariant()));

    private static Core.Value Shaped(Core.Value v, int[] expected, string name, string rule, int input)
    {
        var shape = v.Tensor.Shape;
        if (!shape.AsSpan().SequenceEqual(expected))
            throw Api.InTermsOf("CustomOp.Create", new ShapeException(
                $"The {rule} of custom op '{name}' for input {input} returned shape [{string.Join(", ", shape)}]; it must be [{string.Join(", ", expected)}].",
                rule.ToLowerInvariant()));
        return v;
    }
}
