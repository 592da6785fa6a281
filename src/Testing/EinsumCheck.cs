using System;
using System.Collections.Generic;
using System.Linq;

namespace Functional.Testing;

/// <summary>
/// Metamorphic checks of an einsum: how a problem is written must not change its answer. The operands reordered
/// (with their subscripts), the labels renamed, and the output's labels permuted give the same value (permuted as
/// the output is) and the same gradients, within rounding of the different summation orders.
/// </summary>
/// <example><code>
/// Prop.ForAll(Generators.Einsum(), c => EinsumCheck.Metamorphic(c).Passed);
/// </code></example>
public static class EinsumCheck
{
    /// <summary>Checks <paramref name="c"/> written three other ways against itself.</summary>
    /// <param name="c">The problem.</param>
    /// <returns>The first variant that disagrees ("operands reordered", "labels renamed", "output permuted", and for
    /// an equation without "->" "implicit output", the equation as written against its explicit form), with
    /// the equations and the largest difference; or a pass.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="c"/> is null.</exception>
    public static RuleCheckReport Metamorphic(EinsumCase c)
    {
        ArgumentNullException.ThrowIfNull(c);
        // The explicit form: an implicit output's order depends on the letters, which renaming changes.
        string equation = Einsum.Derive(c.Equation).Equation;
        var sides = equation.Split("->");
        var terms = sides[0].Split(',');
        string output = sides[1];
        var y = Einsum.Contract(equation, c.Operands);
        var w = Tensor.Random(c.Seed + 1, y.Shape.ToArray());
        var grads = Gradients(equation, c.Operands, w);
        var rng = new Random(c.Seed);

        // Operands reordered.
        var order = Enumerable.Range(0, terms.Length).OrderBy(_ => rng.Next()).ToArray();
        string reordered = string.Join(",", order.Select(k => terms[k])) + "->" + output;
        var reorderedOps = order.Select(k => c.Operands[k]).ToArray();
        var r1 = Compare("operands reordered", equation, reordered, y, Einsum.Contract(reordered, reorderedOps),
            grads, Gradients(reordered, reorderedOps, w), k => Array.IndexOf(order, k));
        if (r1 is not null) return r1;

        // Labels renamed by a random bijection onto letters (ellipses unchanged).
        var letters = equation.Where(char.IsLetter).Distinct().ToArray();
        var pool = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".OrderBy(_ => rng.Next()).Take(letters.Length).ToArray();
        var map = letters.Zip(pool).ToDictionary(p => p.First, p => p.Second);
        string renamed = new string(equation.Select(ch => map.TryGetValue(ch, out var to) ? to : ch).ToArray());
        var r2 = Compare("labels renamed", equation, renamed, y, Einsum.Contract(renamed, c.Operands),
            grads, Gradients(renamed, c.Operands, w), k => k);
        if (r2 is not null) return r2;

        // The output's labels permuted (when it has no ellipsis, whose dimensions move as a block).
        if (!output.Contains("...") && output.Length > 1)
        {
            var perm = Enumerable.Range(0, output.Length).OrderBy(_ => rng.Next()).ToArray();
            string permuted = sides[0] + "->" + new string(perm.Select(p => output[p]).ToArray());
            var expected = y.Transpose(perm);
            var wPermuted = w.Transpose(perm);
            var r3 = Compare("output permuted", equation, permuted, expected, Einsum.Contract(permuted, c.Operands),
                grads, Gradients(permuted, c.Operands, wPermuted), k => k);
            if (r3 is not null) return r3;
        }

        // The implicit form as written (labels seen once, in order) against its explicit form.
        if (!c.Equation.Contains("->"))
        {
            var r4 = Compare("implicit output", equation, c.Equation, y, Einsum.Contract(c.Equation, c.Operands),
                grads, Gradients(c.Equation, c.Operands, w), k => k);
            if (r4 is not null) return r4;
        }
        return new RuleCheckReport(true, null, c.Equation.Contains("->")
            ? $"{equation}: the same value and gradients with the operands reordered, the labels renamed and the output permuted"
            : $"{equation}: the same value and gradients written implicitly ({c.Equation}), with the operands reordered, the labels renamed and the output permuted");
    }

    /// <summary>∂⟨w, einsum⟩/∂ operand k for every k.</summary>
    private static Tensor[] Gradients(string equation, Tensor[] operands, Tensor w) =>
        Autodiff.Grad(xs => (Einsum.Contract(equation, xs) * w).Sum(), operands);

    internal static RuleCheckReport? Compare(string check, string original, string variant, Tensor expected, Tensor actual,
        Tensor[] expectedGrads, Tensor[] actualGrads, Func<int, int> where)
    {
        string? Differ(Tensor e, Tensor a)
        {
            if (!e.Shape.SequenceEqual(a.Shape)) return $"shape [{string.Join(", ", a.Shape)}] instead of [{string.Join(", ", e.Shape)}]";
            var (ev, av) = (e.ToArray(), a.ToArray());
            for (int i = 0; i < ev.Length; i++)
                if (!Core.TensorModule.closeTo(1e-10, 1e-12, av[i], ev[i]) && !(double.IsNaN(ev[i]) && double.IsNaN(av[i])))
                    return FormattableString.Invariant($"element {i}: {av[i]:R} instead of {ev[i]:R}");
            return null;
        }
        if (Differ(expected, actual) is { } d)
            return new RuleCheckReport(false, check, $"{original} written as {variant}: the value differs at {d}");
        for (int k = 0; k < expectedGrads.Length; k++)
            if (Differ(expectedGrads[k], actualGrads[where(k)]) is { } g)
                return new RuleCheckReport(false, check, $"{original} written as {variant}: the gradient of operand {k} differs at {g}");
        return null;
    }
}
