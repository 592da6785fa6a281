using System;
using System.Collections.Generic;
using System.Linq;
using Core = Functional.Core;

namespace Functional;

/// <summary>Where a label occurs, seen from one operand: the index sets I, J, K of the derivation and the cases beyond them.</summary>
public enum LabelRole
{
    /// <summary>I: in this operand and the output only.</summary>
    Free,
    /// <summary>J: in this operand and another, summed away.</summary>
    Contracted,
    /// <summary>In this operand, another and the output.</summary>
    Batch,
    /// <summary>Only in this operand, summed away: the gradient is broadcast along it.</summary>
    SummedInside,
    /// <summary>K: in the output and other operands, not here.</summary>
    Other,
    /// <summary>Only in the output (extended forms).</summary>
    OutputOnly,
    /// <summary>Only in other operands, summed there.</summary>
    Elsewhere,
}

/// <summary>Element-by-element equality for the lists the result records hold (a record compares them by reference).</summary>
internal static class Lists
{
    public static bool Equal<T>(IReadOnlyList<T> a, IReadOnlyList<T> b) =>
        ReferenceEquals(a, b) || (a is not null && b is not null && a.SequenceEqual(b));

    public static int Hash<T>(IReadOnlyList<T> a)
    {
        var h = new HashCode();
        if (a is not null) foreach (var x in a) h.Add(x);
        return h.ToHashCode();
    }
}

/// <summary>One label's class as seen from one operand.</summary>
/// <param name="Label">The label ("..." for the ellipsis).</param>
/// <param name="Role">Its index set.</param>
/// <param name="Repeated">How often it occurs in the operand (more than 1: a diagonal).</param>
public sealed record LabelClass(string Label, LabelRole Role, int Repeated);

/// <summary>The derivation of one operand's gradient.</summary>
/// <param name="Operand">Zero-based operand index.</param>
/// <param name="Name">The operand's name in formulas: A, B, … up to 24 operands, skipping L (the loss) and Y (the output
/// is C for one or two operands, Y from three), X0, X1, … from 25.</param>
/// <param name="Labels">Every label's class.</param>
/// <param name="Formula">E.g. <c>∂L/∂A[i,j] = Σ_k ∂L/∂C[i,k] · B[j,k]</c>.</param>
/// <param name="FormulaLatex">The same in LaTeX.</param>
/// <param name="Contraction">The gradient as a contraction: the output gradient first, then the other operands. Where the
/// gradient writes a diagonal (a label repeated in this operand) or broadcasts (a label summed inside it alone), its output
/// repeats a label or has one no input has: the extended form, which <see cref="Einsum.Contract"/> does not accept.</param>
/// <param name="Cases">Which cases beyond the plain I/J/K rule applied.</param>
public sealed record OperandDerivation(int Operand, string Name, IReadOnlyList<LabelClass> Labels, string Formula, string FormulaLatex, string Contraction, IReadOnlyList<string> Cases)
{
    /// <summary>Equal when every field is, the lists element by element.</summary>
    /// <param name="other">The other derivation.</param>
    /// <returns>Whether the two are equal.</returns>
    public bool Equals(OperandDerivation? other) =>
        other is not null && Operand == other.Operand && Name == other.Name && Formula == other.Formula && FormulaLatex == other.FormulaLatex
        && Contraction == other.Contraction && Lists.Equal(Labels, other.Labels) && Lists.Equal(Cases, other.Cases);

    /// <summary>A hash of the fields, the lists by their elements.</summary>
    /// <returns>The hash.</returns>
    public override int GetHashCode() => HashCode.Combine(Operand, Name, Formula, Contraction, Lists.Hash(Labels), Lists.Hash(Cases));
}

/// <summary>The derivation of every operand's gradient of an einsum.</summary>
/// <param name="Equation">The normalised equation (explicit output).</param>
/// <param name="Forward">The definition, e.g. <c>C[i,k] = Σ_j A[i,j] · B[j,k]</c>.</param>
/// <param name="Operands">One derivation per operand.</param>
public sealed record EinsumDerivation(string Equation, string Forward, IReadOnlyList<OperandDerivation> Operands)
{
    /// <summary>Equal when every field is, the operands' derivations one by one.</summary>
    /// <param name="other">The other derivation.</param>
    /// <returns>Whether the two are equal.</returns>
    public bool Equals(EinsumDerivation? other) =>
        other is not null && Equation == other.Equation && Forward == other.Forward && Lists.Equal(Operands, other.Operands);

    /// <summary>A hash of the fields, the operands by their elements.</summary>
    /// <returns>The hash.</returns>
    public override int GetHashCode() => HashCode.Combine(Equation, Forward, Lists.Hash(Operands));

    /// <summary>The equation, the forward formula and each operand's gradient contraction.</summary>
    /// <returns>The text.</returns>
    public override string ToString() =>
        $"EinsumDerivation {{ Equation = {Equation}, Forward = {Forward}, Operands = [{string.Join(", ", (Operands ?? []).Select(o => o is null ? "null" : $"{o.Name}: {o.Contraction}"))}] }}";
}

/// <summary>One pairwise step of a contraction plan.</summary>
/// <param name="Left">Index of the left operand in the current list.</param>
/// <param name="Right">Index of the right operand in the current list.</param>
/// <param name="Contraction">The step as an einsum over the original labels.</param>
/// <param name="Flops">Floating-point operations (a multiply-add counts 2).</param>
/// <param name="ResultElements">Elements of the intermediate.</param>
public sealed record PlanStep(int Left, int Right, string Contraction, double Flops, double ResultElements)
{
    /// <summary>Every field, culture-invariant (the compiler's record printing uses the current culture).</summary>
    /// <returns>The text.</returns>
    public override string ToString() => FormattableString.Invariant(
        $"PlanStep {{ Left = {Left}, Right = {Right}, Contraction = {Contraction}, Flops = {Flops:R}, ResultElements = {ResultElements:R} }}");
}

/// <summary>The order in which a contraction is evaluated.</summary>
/// <param name="Method">"optimal" (exhaustive), "greedy" or "single".</param>
/// <param name="Steps">The pairwise steps, in order.</param>
/// <param name="Flops">Total flops.</param>
/// <param name="LargestIntermediate">Elements of the largest intermediate.</param>
public sealed record ContractionPlan(string Method, IReadOnlyList<PlanStep> Steps, double Flops, double LargestIntermediate)
{
    /// <summary>Equal when every field is, the steps one by one.</summary>
    /// <param name="other">The other plan.</param>
    /// <returns>Whether the two are equal.</returns>
    public bool Equals(ContractionPlan? other) =>
        other is not null && Method == other.Method && Flops.Equals(other.Flops) && LargestIntermediate.Equals(other.LargestIntermediate) && Lists.Equal(Steps, other.Steps);

    /// <summary>A hash of the fields, the steps by their elements.</summary>
    /// <returns>The hash.</returns>
    public override int GetHashCode() => HashCode.Combine(Method, Flops, LargestIntermediate, Lists.Hash(Steps));

    /// <summary>The method, every step and the totals (culture-invariant).</summary>
    /// <returns>The text.</returns>
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"ContractionPlan {{ Method = {Method}, Steps = [{string.Join(", ", (Steps ?? []).Select(s => s is null ? "null" : s.Contraction))}], Flops = {Flops:R}, LargestIntermediate = {LargestIntermediate:R} }}");
}

/// <summary>
/// Einstein summation with NumPy/torch semantics, differentiable: the gradient of operand k is itself a
/// contraction of the output gradient with the other operands (the index-set rule), derived for every
/// equation, including batch labels, repeated labels, ellipsis and broadcasting.
/// </summary>
public static class Einsum
{
    /// <summary>Evaluates an equation such as <c>"bij,bjk-&gt;bik"</c>. ∂L/∂X_k = the derived contraction of ∂L/∂Y with the other operands.</summary>
    /// <param name="equation">An einsum equation such as "ij,jk->ik" (NumPy and torch semantics).</param>
    /// <param name="operands">One tensor per input term of the equation.</param>
    /// <returns>The contraction.</returns>
    /// <exception cref="EinsumException">The equation is invalid or does not fit the operands; the message names label, operand, position and sizes.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="equation"/>, <paramref name="operands"/> or an element
    /// of <paramref name="operands"/> is null.</exception>
    /// <exception cref="MemoryLimitException">The result or an intermediate of the contraction would exceed
    /// <see cref="Limits.MemoryLimitBytes"/> or <see cref="Limits.MaxElements"/>.</exception>
    public static Tensor Contract(string equation, params Tensor[] operands)
    {
        ArgumentNullException.ThrowIfNull(equation);
        return Api.Call("Einsum.Contract", "equation,operands", () => new Tensor(Core.Linear.einsum(equation, Interop.Values(operands, nameof(operands)))));
    }

    /// <summary>A readable derivation of every operand's gradient, with its index sets I, J, K and formulas.</summary>
    /// <param name="equation">An einsum equation such as "ij,jk->ik" (NumPy and torch semantics).</param>
    /// <returns>The derivation as text.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="equation"/> is null.</exception>
    /// <exception cref="EinsumException">The equation is invalid; the message names the fault and its
    /// position.</exception>
    public static string Explain(string equation) => Core.Einsum.explain(equation ?? throw new ArgumentNullException(nameof(equation)));

    /// <summary>The gradient formulas in LaTeX, one line per operand.</summary>
    /// <param name="equation">An einsum equation such as "ij,jk->ik" (NumPy and torch semantics).</param>
    /// <returns>The formulas as LaTeX.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="equation"/> is null.</exception>
    /// <exception cref="EinsumException">The equation is invalid; the message names the fault and its
    /// position.</exception>
    public static string ExplainLatex(string equation) => Core.Einsum.explainLatex(equation ?? throw new ArgumentNullException(nameof(equation)));

    /// <summary>The structured derivation: index sets per label, gradient formula and contraction per operand.</summary>
    /// <param name="equation">An einsum equation such as "ij,jk->ik" (NumPy and torch semantics).</param>
    /// <returns>The derivation as data.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="equation"/> is null.</exception>
    /// <exception cref="EinsumException">The equation is invalid; the message names the fault and its
    /// position.</exception>
    public static EinsumDerivation Derive(string equation)
    {
        ArgumentNullException.ThrowIfNull(equation);
        var d = Core.Einsum.derive(equation);
        var c = d.Contraction;
        var ops = d.Operands.Select(o => new OperandDerivation(
            o.Operand,
            Core.Explain.operandName(c.Inputs.Length, o.Operand),
            o.Labels.Select(l => new LabelClass(l.Label == Core.ContractionModule.ellipsisBase ? "..." : Core.ContractionModule.labelName(l.Label), Role(l.Role), l.Here)).ToArray(),
            Core.Explain.gradientFormula(c, o),
            Core.Explain.gradientFormulaTex(c, o),
            Core.Explain.contractionText(o.Gradient),
            o.Cases.ToArray())).ToArray();
        return new EinsumDerivation(Core.EinsumSpecModule.normalised(d.Spec), Core.Explain.forward(c), ops);
    }

    /// <summary>The contraction plan (order of pairwise steps, flops) for operands of the given shapes.</summary>
    /// <param name="equation">An einsum equation such as "ij,jk->ik" (NumPy and torch semantics).</param>
    /// <param name="shapes">One shape per operand.</param>
    /// <returns>The plan.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="equation"/>, <paramref name="shapes"/> or an element of
    /// <paramref name="shapes"/> is null.</exception>
    /// <exception cref="EinsumException">The equation is invalid or does not fit <paramref name="shapes"/> (their
    /// number, ranks or sizes).</exception>
    public static ContractionPlan Plan(string equation, params int[][] shapes)
    {
        ArgumentNullException.ThrowIfNull(equation);
        ArgumentNullException.ThrowIfNull(shapes);
        for (int i = 0; i < shapes.Length; i++)
            if (shapes[i] is null) throw new ArgumentNullException($"{nameof(shapes)}[{i}]");
        var p = Core.Einsum.plan(equation, shapes);
        string Term(int[] ls) => string.Concat(ls.Select(Core.ContractionModule.labelName));
        var steps = p.Steps.Select(s => new PlanStep(s.Left, s.Right, $"{Term(s.LeftLabels)},{Term(s.RightLabels)}->{Term(s.Result)}", s.Flops, s.Size)).ToArray();
        string method = p.Method.IsOptimal ? "optimal" : p.Method.IsGreedy ? "greedy" : "single";
        return new ContractionPlan(method, steps, p.Flops, p.LargestIntermediate);
    }

    private static LabelRole Role(Core.LabelRole r) =>
        r.IsFree ? LabelRole.Free :
        r.IsContracted ? LabelRole.Contracted :
        r.IsBatch ? LabelRole.Batch :
        r.IsSummedInside ? LabelRole.SummedInside :
        r.IsOther ? LabelRole.Other :
        r.IsOutputOnly ? LabelRole.OutputOnly : LabelRole.Elsewhere;
}
