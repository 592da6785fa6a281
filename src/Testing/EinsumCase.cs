using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;

namespace Functional.Testing;

/// <summary>
/// An einsum equation and operands that fit it, valid by construction: its structure (labels, sizes, which
/// operand holds which subscripts, the output) is kept, so that shrinking stays valid. <see cref="ToString"/>
/// prints the equation, the shapes, the seed of the operands' values and the <c>functional</c> command that
/// re-checks exactly this equation at these shapes.
/// </summary>
public sealed class EinsumCase
{
    /// <summary>The ellipsis, among an operand's subscripts.</summary>
    internal const int EllipsisItem = -1;

    internal EinsumCase(ImmutableArray<char> letters, ImmutableArray<int> sizes, ImmutableArray<int> ellipsisSizes,
        ImmutableArray<OperandSpec> operands, ImmutableArray<int>? output, int seed)
    {
        Letters = letters;
        Sizes = sizes;
        EllipsisSizes = ellipsisSizes;
        Specs = operands;
        Output = output;
        Seed = seed;
        shapes = Specs.Select(ShapeOf).ToArray();
        Equation = string.Join(",", Specs.Select(o => Term(o.Items))) + (Output is { } o ? "->" + Term(o) : "");
    }

    /// <summary>The equation, e.g. <c>"bij,bjk-&gt;bik"</c>.</summary>
    public string Equation { get; }

    /// <summary>Operands that fit the equation, standard normal values from <see cref="Seed"/> (a new array each read,
    /// of the same tensors). Made at the first
    /// read, outside every <see cref="TensorScope"/> (a case is shared, across threads too, and one reader's scope
    /// must not release another's operands), and kept.</summary>
    public Tensor[] Operands
    {
        get
        {
            lock (shapes)
            {
                if (values is null || values.Any(t => t.IsReleased))
                    values = Core.Storage.unscoped(() => shapes.Select((s, k) => Tensor.Random(Seed + 7919 * k, s)).ToArray());
                // A copy, as Shapes: an element set by one reader must not change the case for the others.
                return (Tensor[])values.Clone();
            }
        }
    }

    private Tensor[]? values;
    private readonly int[][] shapes;

    /// <summary>The operands' shapes (a copy: the case stays as it was made).</summary>
    public int[][] Shapes => shapes.Select(s => (int[])s.Clone()).ToArray();

    /// <summary>The seed of the operands' values (operand k from <c>Tensor.Random(Seed + 7919·k, shape)</c>).</summary>
    public int Seed { get; }

    /// <summary>Which features this case exercises: "repeated label", "ellipsis", "size-1 broadcast",
    /// "implicit output", "zero-size", "3+ operands".</summary>
    public IReadOnlyList<string> Features
    {
        get
        {
            var f = new List<string>();
            if (Specs.Any(o => o.Items.Where(i => i >= 0).GroupBy(i => i).Any(g => g.Count() > 1))) f.Add("repeated label");
            if (Specs.Any(o => o.Items.Contains(EllipsisItem))) f.Add("ellipsis");
            if (Broadcasts()) f.Add("size-1 broadcast");
            if (Output is null) f.Add("implicit output");
            if (Shapes.Any(s => s.Contains(0))) f.Add("zero-size");
            if (Specs.Length >= 3) f.Add("3+ operands");
            return f;
        }
    }

    /// <summary>Whether some dimension shown as 1 meets the same label (or ellipsis dimension) at a larger size in
    /// another operand: only then is it broadcast.</summary>
    private bool Broadcasts()
    {
        bool Full(OperandSpec o, int label) => o.Items.Contains(label) && !o.Ones.Contains(label);
        bool FullEllipsis(OperandSpec o, int d) => o.Items.Contains(EllipsisItem) && d >= EllipsisSizes.Length - o.EllipsisRank && !o.EllipsisOnes.Contains(d);
        return Specs.Any(o =>
            o.Ones.Any(i => o.Items.Contains(i) && Sizes[i] > 1 && Specs.Any(other => Full(other, i)))
            || o.EllipsisOnes.Any(d => EllipsisSizes[d] > 1 && Specs.Any(other => FullEllipsis(other, d))));
    }

    /// <summary>The <c>functional</c> command that re-checks this equation at these shapes against TorchSharp.</summary>
    // The empty equation (one scalar operand, implicit output) is written "->", its explicit form: the command line
    // reads an empty argument as none.
    public string ReplayCommand =>
        $"functional check \"{(Equation.Length == 0 ? "->" : Equation)}\" --shapes {string.Join(",", Shapes.Select(s => s.Length == 0 ? "scalar" : string.Join("x", s)))} --seed {Seed} --trials 1";

    /// <summary>The equation, the shapes, the values' seed and the replay command, on one line.</summary>
    /// <returns>The text.</returns>
    public override string ToString() =>
        $"{Equation} with shapes {string.Join(" ", Shapes.Select(s => "[" + string.Join(", ", s) + "]"))} (seed {Seed}); replay: {ReplayCommand}";

    // ---- the structure ----

    internal ImmutableArray<char> Letters { get; }
    internal ImmutableArray<int> Sizes { get; }
    internal ImmutableArray<int> EllipsisSizes { get; }
    internal ImmutableArray<OperandSpec> Specs { get; }
    /// <summary>Label indices and <see cref="EllipsisItem"/>; null for an implicit output.</summary>
    internal ImmutableArray<int>? Output { get; }

    private string Term(IEnumerable<int> items) => string.Concat(items.Select(i => i == EllipsisItem ? "..." : Letters[i].ToString()));

    private int[] ShapeOf(OperandSpec o)
    {
        var shape = new List<int>();
        foreach (var i in o.Items)
        {
            if (i != EllipsisItem) shape.Add(o.Ones.Contains(i) ? 1 : Sizes[i]);
            else
                for (int d = EllipsisSizes.Length - o.EllipsisRank; d < EllipsisSizes.Length; d++)
                    shape.Add(o.EllipsisOnes.Contains(d) ? 1 : EllipsisSizes[d]);
        }
        return shape.ToArray();
    }

    internal EinsumCase With(ImmutableArray<int>? sizes = null, ImmutableArray<int>? ellipsisSizes = null,
        ImmutableArray<OperandSpec>? operands = null, bool changeOutput = false, ImmutableArray<int>? output = null, int? seed = null)
    {
        var ops = operands ?? Specs;
        var outItems = changeOutput ? output : Output;
        // The output keeps only labels some operand still has, and an ellipsis only while an operand has one.
        if (outItems is { } items)
        {
            var present = ops.SelectMany(o => o.Items).ToHashSet();
            outItems = items.Where(i => present.Contains(i)).ToImmutableArray();
        }
        return new EinsumCase(Letters, sizes ?? Sizes, ellipsisSizes ?? EllipsisSizes, ops, outItems, seed ?? Seed);
    }
}

/// <summary>One operand's subscripts (label indices, <see cref="EinsumCase.EllipsisItem"/> for the ellipsis), how
/// many ellipsis dimensions it has (right-aligned), and the labels and ellipsis dimensions shown as size 1 here.</summary>
internal sealed record OperandSpec(ImmutableArray<int> Items, int EllipsisRank, ImmutableHashSet<int> Ones, ImmutableHashSet<int> EllipsisOnes);
