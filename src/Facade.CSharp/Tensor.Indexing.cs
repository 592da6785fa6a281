using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using Core = Functional.Core;

namespace Functional;

public sealed partial class Tensor
{
    /// <summary>
    /// A slice, as a tensor gradients flow through: an <see cref="int"/> or <see cref="Index"/> selects one element
    /// of its axis and removes the axis, a <see cref="Range"/> keeps a run of it; axes not given are kept whole.
    /// <c>t[.., 0]</c> is column 0, <c>t[1..^1, ..]</c> drops the first and last rows, <c>t[^1]</c> is the last row.
    /// The gradient of a slice is the adjoint written into zeros at the slice's place. Slices of one tensor meet
    /// in one array backward, so each costs its own size there (rows taken one at a time in a loop stay linear).
    /// </summary>
    /// <param name="indices">One position per leading axis.</param>
    /// <returns>The slice.</returns>
    /// <exception cref="ShapeException">More positions than axes, or a position outside its axis.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="indices"/> is null.</exception>
    /// <exception cref="ArgumentException">A position is <c>default(TensorIndex)</c> (an unfilled slot of an
    /// array), which is neither an element nor a range.</exception>
    public Tensor this[params TensorIndex[] indices]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(indices);
            var shape = Value.Tensor.Shape;
            if (indices.Length > shape.Length)
                throw new ShapeException($"t[{string.Join(", ", indices)}] gives {indices.Length} positions for a tensor of rank {shape.Length} (shape [{string.Join(", ", shape)}]).", nameof(indices));
            var v = Value;
            var kept = new List<int>();
            for (int axis = 0; axis < shape.Length; axis++)
            {
                int n = shape[axis];
                if (axis >= indices.Length) { kept.Add(n); continue; }
                var ix = indices[axis];
                int start, length;
                if (ix.Span is { } r)
                {
                    start = r.Start.GetOffset(n);
                    int end = r.End.GetOffset(n);
                    if (start < 0 || end > n || start > end)
                        throw new ShapeException($"t[{string.Join(", ", indices)}]: the range {r} is outside axis {axis} of length {n}.", nameof(indices));
                    length = end - start;
                    kept.Add(length);
                }
                else if (ix.Element is null && ix.Integer is null)
                    // An unfilled slot of an array of positions: neither an element nor a range (default(Range) is 0..0).
                    throw new ArgumentException($"t[{string.Join(", ", indices)}]: position {axis} is default(TensorIndex), neither an element nor a range; write .. for the whole axis.", nameof(indices));
                else
                {
                    start = ix.Element is { } e ? e.GetOffset(n) : ix.Integer!.Value < 0 ? ix.Integer.Value + n : ix.Integer.Value;
                    if (start < 0 || start >= n)
                        throw new ShapeException($"t[{string.Join(", ", indices)}]: position {ix} is outside axis {axis} of length {n}.", nameof(indices));
                    length = 1;
                }
                if (start != 0 || length != n) v = Core.Indexing.narrow(axis, start, length, v);
            }
            return kept.Count == shape.Length ? new(v) : new(Core.Layout.reshape(kept.ToArray(), v));
        }
    }

    /// <summary>Elements <paramref name="start"/> .. start + length − 1 along an axis. The gradient is the adjoint
    /// written into zeros at the same place; slices of one tensor meet in one array backward, each costing its own
    /// size there.</summary>
    /// <param name="axis">The axis (negative counts from the end).</param>
    /// <param name="start">The first element kept (negative counts from the end, as <c>torch.narrow</c>'s).</param>
    /// <param name="length">How many are kept.</param>
    /// <returns>The slice, with the axis shortened to <paramref name="length"/>.</returns>
    /// <exception cref="ShapeException">The axis or the elements do not exist.</exception>
    public Tensor Narrow(int axis, int start, int length) => Api.Call("Tensor.Narrow", "axis,start,length", () => new Tensor(Core.Indexing.narrow(axis, start, length, Value)));

    /// <summary>Entry <paramref name="index"/> along an axis, the axis removed (<c>t.Select(1, 0)</c> is
    /// <c>t[.., 0]</c>). The gradient is the adjoint written into zeros at that entry.</summary>
    /// <param name="axis">The axis (negative counts from the end).</param>
    /// <param name="index">The entry (negative counts from the end).</param>
    /// <returns>The slice, one rank lower.</returns>
    /// <exception cref="ShapeException">The axis or the entry does not exist.</exception>
    public Tensor Select(int axis, int index)
    {
        int a = Axis(axis, nameof(axis), "Tensor.Select");
        var at = new TensorIndex[a + 1];
        for (int i = 0; i < a; i++) at[i] = ..;
        at[a] = index;
        return Api.Call("Tensor.Select", "axis,index|indices", () => this[at]);
    }

    /// <summary>Tensors joined along an existing axis; the other dimensions must agree. The gradient of each is its
    /// slice of the adjoint.</summary>
    /// <param name="axis">The axis (negative counts from the end).</param>
    /// <param name="tensors">At least one tensor.</param>
    /// <returns>The joined tensor.</returns>
    /// <exception cref="ShapeException">The tensors are scalars, <paramref name="axis"/> is out of range, or the shapes
    /// differ off the axis.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="tensors"/> or an element of it is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="tensors"/> is empty.</exception>
    public static Tensor Concat(int axis, params Tensor[] tensors) => Api.Call("Tensor.Concat", "axis,tensors|xs", () => new Tensor(Core.Indexing.concat(axis, Interop.Values(tensors, nameof(tensors)))));

    /// <summary>Same-shaped tensors stacked along a new axis. The gradient of each is its slice of the adjoint.</summary>
    /// <param name="axis">Where the new axis goes (0 .. rank; negative counts from the end).</param>
    /// <param name="tensors">At least one tensor.</param>
    /// <returns>The stacked tensor.</returns>
    /// <exception cref="ShapeException">The shapes differ, or <paramref name="axis"/> is out of range.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="tensors"/> or an element of it is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="tensors"/> is empty.</exception>
    public static Tensor Stack(int axis, params Tensor[] tensors) => Api.Call("Tensor.Stack", "axis,tensors|xs", () => new Tensor(Core.Indexing.stack(axis, Interop.Values(tensors, nameof(tensors)))));

    /// <summary>Splits along an axis into consecutive parts of the given sizes (which must add up to its length). The
    /// gradient of each part is placed back at its position along the axis (zeros elsewhere). The axis comes first
    /// and every part's size is given, unlike <c>torch.split(size, dim)</c>, which takes one chunk size after the
    /// tensor and the axis last.</summary>
    /// <param name="axis">The axis (negative counts from the end).</param>
    /// <param name="sizes">The length of each part.</param>
    /// <returns>The parts, in order.</returns>
    /// <exception cref="ShapeException"><paramref name="axis"/> is out of range, or <paramref name="sizes"/> has a
    /// negative size or does not add up to the axis' length.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="sizes"/> is null.</exception>
    public Tensor[] Split(int axis, params int[] sizes)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        int a = Axis(axis, nameof(axis), "Tensor.Split");
        if (sizes.Any(s => s < 0) || sizes.Sum(s => (long)s) != Shape[a])
            throw new ShapeException($"Split: sizes [{string.Join(", ", sizes)}] do not add up to {Shape[a]}, the length of axis {axis}.", nameof(sizes));
        var parts = new Tensor[sizes.Length];
        for (int k = 0, start = 0; k < sizes.Length; start += sizes[k], k++) parts[k] = Narrow(a, start, sizes[k]);
        return parts;
    }

    /// <summary>The tensor with a new axis of length 1 at <paramref name="axis"/> (0 .. rank). A reshape: the gradient
    /// is reshaped back.</summary>
    /// <param name="axis">Where the new axis goes (negative counts from the end).</param>
    /// <returns>A view with one more axis.</returns>
    /// <exception cref="ShapeException"><paramref name="axis"/> is outside −(rank + 1) .. rank.</exception>
    public Tensor Unsqueeze(int axis) => Api.Call("Tensor.Unsqueeze", "axis", () => new Tensor(Core.Indexing.unsqueeze(axis, Value)));

    /// <summary>The tensor without the given axes of length 1 (every axis of length 1 when none is given). A reshape:
    /// the gradient is reshaped back.</summary>
    /// <param name="axes">Axes of length 1.</param>
    /// <returns>A view with fewer axes.</returns>
    /// <exception cref="ShapeException">An axis in <paramref name="axes"/> is out of range, given twice, or not of
    /// length 1.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="axes"/> is null.</exception>
    public Tensor Squeeze(params int[] axes) => Api.Call("Tensor.Squeeze", "axes", () => new Tensor(Core.Indexing.squeeze(axes ?? throw new ArgumentNullException(nameof(axes)), Value)));

    /// <summary>PyTorch's gather: <c>out[p] = x[p with its axis coordinate replaced by indices[p]]</c> for every
    /// position p of <paramref name="indices"/> (same rank, no larger off the axis). The gradient is a scatter-add of
    /// the adjoint to the positions read.</summary>
    /// <param name="axis">The axis (negative counts from the end).</param>
    /// <param name="indices">Whole-number positions along the axis (for example from <see cref="ArgMax"/>).</param>
    /// <returns>A tensor shaped as <paramref name="indices"/>.</returns>
    /// <exception cref="ShapeException">An index is out of range or not a whole number, or the shapes do not fit.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="indices"/> is null.</exception>
    public Tensor Gather(int axis, Tensor indices) =>
        Api.Call("Tensor.Gather", "axis,indices|index", () => new Tensor(Core.Indexing.gatherOwned(axis, Positions(indices, nameof(indices)), N(indices).Shape.ToArray(), Value)));

    /// <summary>PyTorch's scatter_add into zeros: zeros of <paramref name="shape"/> with each value of this tensor
    /// added at its position with the axis coordinate replaced by <paramref name="indices"/> (shaped as this tensor).
    /// The gradient is the gather of the adjoint.</summary>
    /// <param name="axis">The axis (negative counts from the end).</param>
    /// <param name="indices">Whole-number positions, shaped as this tensor.</param>
    /// <param name="shape">The result's shape.</param>
    /// <returns>The scattered sums.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="indices"/> or <paramref name="shape"/> is
    /// null.</exception>
    /// <exception cref="ShapeException">An index is out of range or not a whole number, <paramref name="axis"/> is out
    /// of range, or the shapes do not fit.</exception>
    /// <exception cref="MemoryLimitException">The result would exceed <see cref="Limits.MemoryLimitBytes"/> or
    /// <see cref="Limits.MaxElements"/>.</exception>
    public Tensor ScatterAdd(int axis, Tensor indices, params int[] shape)
    {
        // The core reads the positions in this tensor's layout: indices of another shape with as many elements would
        // scatter silently to the wrong places.
        if (!N(indices).Shape.Equals(Shape))
            throw new ShapeException($"Tensor.ScatterAdd: indices have shape {indices.Shape}; they must be shaped as this tensor, {Shape}.", nameof(indices));
        return Api.Call("Tensor.ScatterAdd", "axis,indices|index,shape", () => new Tensor(Core.Indexing.scatterAddOwned(axis, Positions(indices, nameof(indices)), shape ?? throw new ArgumentNullException(nameof(shape)), Value)));
    }

    // Positions of large index tensors, kept per tensor (whose values never change while it is live): a loop that
    // gathers by the same tensor converts it once. The core keeps the array as its own and never writes it.
    private static readonly ConditionalWeakTable<Core.Tensor, int[]> positions = new();

    private static int[] Positions(Tensor? indices, string name)
    {
        var tensor = (indices ?? throw new ArgumentNullException(name)).Value.Tensor;
        if (positions.TryGetValue(tensor, out var kept))
        {
            tensor.CheckLive();
            return kept;
        }
        var values = tensor.Data;
        var r = GC.AllocateUninitializedArray<int>(values.Length);
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] != Math.Floor(values[i]))
                throw new ShapeException(FormattableString.Invariant($"Index {i} is {values[i]:R}; indices must be whole numbers."), name);
            if (values[i] < int.MinValue || values[i] > int.MaxValue)
                throw new ShapeException(FormattableString.Invariant($"Index {i} is {values[i]:R}; indices must lie within the range of an int, and within the axis they index."), name);
            r[i] = (int)values[i];
        }
        // Read in place: a tensor released meanwhile may have lent its array to another (as every op checks).
        tensor.CheckLive();
        if (r.Length >= 16384) positions.AddOrUpdate(tensor, r);
        return r;
    }

    /// <summary>The tensor reversed along an axis. The gradient is reversed back.</summary>
    /// <param name="axis">The axis (negative counts from the end).</param>
    /// <returns>The reversed tensor.</returns>
    /// <exception cref="ShapeException"><paramref name="axis"/> is out of range for this tensor's rank.</exception>
    public Tensor Flip(int axis) => Api.Call("Tensor.Flip", "axis", () => new Tensor(Core.Indexing.flip(axis, Value)));

    /// <summary>The entries at <paramref name="indices"/> along an axis, in that order (repeats allowed): a gather of
    /// whole slices. The gradient is a scatter-add: each adjoint slice added back at its index (several lookups of
    /// one tensor add into one array backward).</summary>
    /// <param name="axis">The axis (negative counts from the end).</param>
    /// <param name="indices">Positions along the axis.</param>
    /// <returns>The gathered tensor; the axis has <c>indices.Length</c> entries.</returns>
    /// <exception cref="ShapeException"><paramref name="axis"/> or an index is out of range.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="indices"/> is null.</exception>
    public Tensor IndexSelect(int axis, int[] indices) => Api.Call("Tensor.IndexSelect", "axis,indices", () => new Tensor(Core.Indexing.indexSelect(axis, indices ?? throw new ArgumentNullException(nameof(indices)), Value)));

    /// <summary>A scatter-add: zeros of length <paramref name="size"/> along an axis, with slice k of this tensor added
    /// at <c>indices[k]</c>. The gradient is the gather <see cref="IndexSelect"/> of the adjoint.</summary>
    /// <param name="axis">The axis (negative counts from the end).</param>
    /// <param name="indices">Where each slice goes (one per slice; repeats add up).</param>
    /// <param name="size">The axis' length in the result.</param>
    /// <returns>The scattered tensor.</returns>
    /// <exception cref="ShapeException"><paramref name="axis"/> or an index is out of range, <paramref name="size"/> is
    /// negative, or there is not one index per slice.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="indices"/> is null.</exception>
    /// <exception cref="MemoryLimitException">The result would exceed <see cref="Limits.MemoryLimitBytes"/> or
    /// <see cref="Limits.MaxElements"/>.</exception>
    public Tensor IndexAdd(int axis, int[] indices, int size) => Api.Call("Tensor.IndexAdd", "axis,indices,size", () => new Tensor(Core.Indexing.indexAdd(axis, indices ?? throw new ArgumentNullException(nameof(indices)), size, Value)));

    /// <summary><paramref name="whenTrue"/> where <paramref name="condition"/> ≠ 0, else <paramref name="whenFalse"/>,
    /// the three broadcast together. The condition is a mask: no gradient flows into it; each side's gradient is the
    /// adjoint where it was taken.</summary>
    /// <param name="condition">The mask (any nonzero value is true).</param>
    /// <param name="whenTrue">Taken where the mask is true.</param>
    /// <param name="whenFalse">Taken elsewhere.</param>
    /// <returns>The selection, in the broadcast shape.</returns>
    /// <exception cref="ShapeException">The shapes do not broadcast.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="condition"/>, <paramref name="whenTrue"/> or
    /// <paramref name="whenFalse"/> is null.</exception>
    public static Tensor Where(Tensor condition, Tensor whenTrue, Tensor whenFalse) =>
        Api.Call("Tensor.Where", "condition,whenTrue,whenFalse", () => new Tensor(Core.Indexing.where(N(condition).Value, N(whenTrue).Value, N(whenFalse).Value)));

    /// <summary>The tensor broadcast to a shape (NumPy rules). The gradient is summed back.</summary>
    /// <param name="shape">The target shape.</param>
    /// <returns>The broadcast tensor.</returns>
    /// <exception cref="ShapeException">The shape is not a broadcast of this one.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is null.</exception>
    public Tensor BroadcastTo(params int[] shape) => Api.Call("Tensor.BroadcastTo", "shape", () => new Tensor(Core.Arithmetic.broadcastTo(shape ?? throw new ArgumentNullException(nameof(shape)), Value)));
}
