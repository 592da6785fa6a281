using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Core = Functional.Core;

namespace Functional;

/// <summary>
/// One operation of a <see cref="TracedProgram"/>: an op applied to values of the program, with the attributes that
/// define it besides its name (an einsum's equation, an axis, an exponent, a slope and kink convention).
/// </summary>
public sealed class TracedOperation
{
    internal TracedOperation(string result, string name, IReadOnlyList<KeyValuePair<string, string>> attributes,
        IReadOnlyList<string> operands, IReadOnlyList<int> shape, bool inGradient) =>
        (Result, Name, Attributes, Operands, Shape, InGradient) = (result, name, attributes, operands, shape, inGradient);

    /// <summary>The op's name: <c>einsum</c>, <c>add</c>, <c>gelu</c>, <c>softmaxVjp</c>, … or a custom op's name.</summary>
    public string Name { get; }

    /// <summary>The value this operation defines, e.g. <c>%4</c>.</summary>
    public string Result { get; }

    /// <summary>The attributes, as key and printed value.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Attributes { get; }

    /// <summary>The values it reads: inputs (<c>%x0</c>, …), earlier results (<c>%3</c>), constants (<c>%c0</c>, …,
    /// listed in <see cref="TracedProgram.Constants"/>) or the value of a scalar constant (<c>const(0.5)</c>).</summary>
    public IReadOnlyList<string> Operands { get; }

    /// <summary>The result's shape.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>Whether it belongs to the gradient program (else to the forward one).</summary>
    public bool InGradient { get; }

    /// <summary>One line: <c>%4 = einsum[equation="ij,jk->ik"](%x0, %x1) : [2, 4]</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString()
    {
        string attributes = Attributes.Count == 0 ? "" : "[" + string.Join(", ", Attributes.Select(a => $"{a.Key}={a.Value}")) + "]";
        return $"{Result} = {Name}{attributes}({string.Join(", ", Operands)}) : [{string.Join(", ", Shape)}]";
    }
}

/// <summary>
/// A function and the gradient program derived from it, as data: the operations in program order, each with its
/// attributes, operands and shape. Made by <see cref="Autodiff.TraceGradient"/>. The gradient program is the one the
/// derivation rules produce (the VJP rules are themselves ops), not a separate autograd's.
/// </summary>
public sealed class TracedProgram
{
    private readonly IReadOnlyList<(double[] Data, int[] Shape)> constantData;

    internal TracedProgram(IReadOnlyList<TracedOperation> operations, int forwardCount, IReadOnlyList<IReadOnlyList<int>> inputShapes,
        IReadOnlyList<(double[] Data, int[] Shape)> constantData, string output, string seed, IReadOnlyList<string> gradients)
    {
        // Read-only wrappers: a cast back to the list or array underneath would otherwise change what this prints.
        Operations = operations.ToArray().AsReadOnly();
        Forward = Array.AsReadOnly(operations.Take(forwardCount).ToArray());
        Gradient = Array.AsReadOnly(operations.Skip(forwardCount).ToArray());
        this.constantData = constantData;
        Constants = constantData.Select((c, k) => ConstantLine(k, c.Data, c.Shape, false)).ToArray().AsReadOnly();
        InputShapes = inputShapes.Select(s => (IReadOnlyList<int>)s.ToArray().AsReadOnly()).ToArray().AsReadOnly();
        Output = output;
        Seed = seed;
        Gradients = gradients.ToArray().AsReadOnly();
    }

    /// <summary>Every operation, the forward program's first.</summary>
    public IReadOnlyList<TracedOperation> Operations { get; }

    /// <summary>The forward program.</summary>
    public IReadOnlyList<TracedOperation> Forward { get; }

    /// <summary>The gradient program.</summary>
    public IReadOnlyList<TracedOperation> Gradient { get; }

    /// <summary>The inputs' shapes (the inputs are <c>%x0</c>, <c>%x1</c>, …).</summary>
    public IReadOnlyList<IReadOnlyList<int>> InputShapes { get; }

    /// <summary>The program's constants other than scalars (rank 0, written inline as <c>const(0.5)</c>), one line each, e.g.
    /// <c>%c0 = [1, 0.5, 2] : [3]</c> (up to eight values written out; a longer one by its first and last values and
    /// its count; <see cref="ConstantValues"/> and <see cref="ToString(bool)"/> give every value). Each distinct
    /// tensor is its own constant.</summary>
    public IReadOnlyList<string> Constants { get; }

    /// <summary>The constants' values: element k is <c>%ck</c>, a new tensor on each call.</summary>
    public IReadOnlyList<Tensor> ConstantValues => constantData.Select(c => Tensor.FromArray((double[])c.Data.Clone(), c.Shape)).ToArray();

    /// <summary>The value the function returns.</summary>
    public string Output { get; }

    /// <summary>The adjoint the gradient program starts from (ones shaped as the output).</summary>
    public string Seed { get; }

    /// <summary>The gradient of each input.</summary>
    public IReadOnlyList<string> Gradients { get; }

    /// <summary>The program in a stable text form, one operation per line, like a jaxpr; constants of more than
    /// eight values shortened (<see cref="ToString(bool)"/> writes them out).</summary>
    /// <returns>The text.</returns>
    public override string ToString() => ToString(false);

    /// <summary>The program in a stable text form, one operation per line, like a jaxpr.</summary>
    /// <param name="allValues">Write out every value of every constant (each round-trips exactly), so the text
    /// holds the whole program; else constants of more than eight values are shortened, as in
    /// <see cref="Constants"/>.</param>
    /// <returns>The text.</returns>
    public string ToString(bool allValues)
    {
        var sb = new StringBuilder();
        sb.Append('{').Append(string.Join(", ", InputShapes.Select((s, i) => $"%x{i} : [{string.Join(", ", s)}]"))).Append('}').AppendLine();
        if (constantData.Count > 0)
        {
            sb.AppendLine("constants:");
            for (int k = 0; k < constantData.Count; k++)
                sb.Append("  ").AppendLine(allValues ? ConstantLine(k, constantData[k].Data, constantData[k].Shape, true) : Constants[k]);
        }
        sb.AppendLine("forward:");
        foreach (var op in Forward) sb.Append("  ").AppendLine(op.ToString());
        sb.Append("  return ").AppendLine(Output);
        sb.Append("gradient, from ").Append(Seed).AppendLine(":");
        foreach (var op in Gradient) sb.Append("  ").AppendLine(op.ToString());
        sb.Append("  return ").Append(string.Join(", ", Gradients));
        return sb.ToString();
    }

    internal static TracedProgram Of(Core.RecordedProgram r)
    {
        var names = new Dictionary<Core.Tensor, string>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < r.Inputs.Length; i++) names.TryAdd(r.Inputs[i], $"%x{i}");
        var constants = new List<(double[] Data, int[] Shape)>();
        string Name(Core.Tensor t)
        {
            if (names.TryGetValue(t, out var n)) return n;
            // A scalar inline; a one-element tensor of some rank keeps its shape, as a named constant.
            if (t.Numel == 1 && t.Rank == 0) return "const(" + Number(t.ToArray()[0]) + ")";
            string name = $"%c{constants.Count}";
            names.Add(t, name);
            constants.Add((t.ToArray(), t.Shape.ToArray()));
            return name;
        }
        names.TryAdd(r.Seed, "seed");
        var operations = new List<TracedOperation>();
        for (int k = 0; k < r.Entries.Length; k++)
        {
            var e = r.Entries[k];
            var operands = e.Inputs.Select(Name).ToArray();
            string result = $"%{k}";
            if (!names.TryAdd(e.Output, result))
                result = names[e.Output] + "'";   // an op that returned an earlier value (not one of its inputs, which the tracer renames)
            var attributes = Core.OpModule.showAttributes(e.Op).Select(a => new KeyValuePair<string, string>(a.Item1, a.Item2)).ToArray();
            operations.Add(new TracedOperation(result, e.Op.Name, attributes, operands, e.Output.Shape, k >= r.ForwardCount));
        }
        string output = Name(r.Output);
        var gradients = r.Gradients.Select(Name).ToArray();
        return new TracedProgram(operations, r.ForwardCount, r.Inputs.Select(x => (IReadOnlyList<int>)x.Shape).ToArray(),
            constants, output, $"seed = ones[{string.Join(", ", r.Seed.Shape)}]", gradients);
    }

    private static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>One constant's line, <c>%ck = [values] : [shape]</c>.</summary>
    private static string ConstantLine(int k, double[] data, int[] shape, bool allValues) =>
        $"%c{k} = {Values(data, allValues)} : [{string.Join(", ", shape)}]";

    /// <summary>Every value, or up to eight written out and more by the first three, the last and the count.</summary>
    private static string Values(double[] v, bool all) =>
        all || v.Length <= 8 ? "[" + string.Join(", ", v.Select(Number)) + "]"
                             : $"[{Number(v[0])}, {Number(v[1])}, {Number(v[2])}, …, {Number(v[^1])}] ({v.Length} values)";
}
