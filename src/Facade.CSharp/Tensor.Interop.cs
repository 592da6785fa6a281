using System;
using System.Globalization;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Core = Functional.Core;

namespace Functional;

public sealed partial class Tensor
{
    /// <summary>A rectangular array's elements in row-major order, as a span (Buffer.BlockCopy counts bytes in an
    /// int, which overflows from 2²⁸ elements).</summary>
    private static Span<double> Flat(Array values) =>
        MemoryMarshal.CreateSpan(ref Unsafe.As<byte, double>(ref MemoryMarshal.GetArrayDataReference(values)), values.Length);

    /// <summary>A matrix from a rectangular array (copied).</summary>
    /// <param name="values">The rows and columns.</param>
    /// <returns>A tensor of shape [rows, columns].</returns>
    /// <exception cref="ArgumentNullException"><paramref name="values"/> is null.</exception>
    public static Tensor FromArray(double[,] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return FromArray(Flat(values).ToArray(), values.GetLength(0), values.GetLength(1));
    }

    /// <summary>A rank-3 tensor from a rectangular array (copied).</summary>
    /// <param name="values">The values.</param>
    /// <returns>A tensor of shape [n0, n1, n2].</returns>
    /// <exception cref="ArgumentNullException"><paramref name="values"/> is null.</exception>
    public static Tensor FromArray(double[,,] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return FromArray(Flat(values).ToArray(), values.GetLength(0), values.GetLength(1), values.GetLength(2));
    }

    /// <summary>A matrix from rows of equal length (copied).</summary>
    /// <param name="rows">The rows.</param>
    /// <returns>A tensor of shape [rows, columns].</returns>
    /// <exception cref="ShapeException">The rows differ in length.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="rows"/> or one of its rows is null.</exception>
    /// <exception cref="MemoryLimitException">The matrix would exceed <see cref="Limits.MemoryLimitBytes"/> or
    /// <see cref="Limits.MaxElements"/> (rows sharing one array need little memory, their copy may not).</exception>
    public static Tensor FromArray(double[][] rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        int columns = rows.Length == 0 ? 0 : (rows[0] ?? throw new ArgumentNullException($"{nameof(rows)}[0]")).Length;
        Core.Limits.check(Microsoft.FSharp.Core.FuncConvert.FromFunc(() => $"FromArray of {rows.Length} rows of {columns}"), (double)rows.Length * columns);
        var d = new double[rows.Length * columns];
        for (int i = 0; i < rows.Length; i++)
        {
            var row = rows[i] ?? throw new ArgumentNullException($"{nameof(rows)}[{i}]");
            if (row.Length != columns)
                throw new ShapeException($"FromArray: row {i} has {row.Length} values; row 0 has {columns}.", nameof(rows));
            row.CopyTo(d, i * columns);
        }
        return FromArray(d, rows.Length, columns);
    }

    /// <summary>A tensor from a span of row-major values (copied) and a shape.</summary>
    /// <param name="values">The values.</param>
    /// <param name="shape">The shape; it must hold exactly <c>values.Length</c> elements.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is null.</exception>
    /// <exception cref="ShapeException"><paramref name="shape"/> does not hold exactly <c>values.Length</c>
    /// elements.</exception>
    public static Tensor FromSpan(ReadOnlySpan<double> values, params int[] shape) => FromArray(values.ToArray(), shape);

    /// <summary>A tensor from single-precision values, converted to double (exactly: every float is a double).</summary>
    /// <param name="values">The values.</param>
    /// <param name="shape">The shape.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="values"/> or <paramref name="shape"/> is
    /// null.</exception>
    /// <exception cref="ShapeException"><paramref name="shape"/> does not hold exactly <c>values.Length</c>
    /// elements.</exception>
    public static Tensor FromArray(float[] values, params int[] shape) =>
        FromArray(Array.ConvertAll(values ?? throw new ArgumentNullException(nameof(values)), v => (double)v), shape);

    /// <summary>The values as a rectangular array; the tensor must be a matrix.</summary>
    /// <returns>A new [rows, columns] array.</returns>
    /// <exception cref="ShapeException">The tensor is not of rank 2.</exception>
    public double[,] ToArray2D()
    {
        RankMustBe(2, nameof(ToArray2D));
        var r = new double[Shape[0], Shape[1]];
        ToArray().CopyTo(Flat(r));
        return r;
    }

    /// <summary>The values as a rank-3 rectangular array; the tensor must be of rank 3.</summary>
    /// <returns>A new array.</returns>
    /// <exception cref="ShapeException">The tensor is not of rank 3.</exception>
    public double[,,] ToArray3D()
    {
        RankMustBe(3, nameof(ToArray3D));
        var r = new double[Shape[0], Shape[1], Shape[2]];
        ToArray().CopyTo(Flat(r));
        return r;
    }

    /// <summary>The rows of a matrix as separate arrays.</summary>
    /// <returns>New arrays, one per row.</returns>
    /// <exception cref="ShapeException">The tensor is not of rank 2.</exception>
    public double[][] ToJaggedArray()
    {
        RankMustBe(2, nameof(ToJaggedArray));
        var all = ToArray();
        int rows = Shape[0], columns = Shape[1];
        var r = new double[rows][];
        for (int i = 0; i < rows; i++) r[i] = all.AsSpan(i * columns, columns).ToArray();
        return r;
    }

    /// <summary>The values rounded to single precision.</summary>
    /// <returns>A new array, row-major.</returns>
    public float[] ToSingleArray() => Array.ConvertAll(ToArray(), v => (float)v);

    /// <summary>Copies the row-major values into a span of at least <see cref="Count"/> elements.</summary>
    /// <param name="destination">Where to write.</param>
    /// <exception cref="ArgumentException">The span is too short.</exception>
    public void CopyTo(Span<double> destination)
    {
        if (destination.Length < Count)
            throw new ArgumentException($"CopyTo: the destination holds {destination.Length} elements; the tensor has {Count}.", nameof(destination));
        ToArray().CopyTo(destination);
    }

    private void RankMustBe(int rank, string member)
    {
        if (Rank != rank) throw new ShapeException($"{member} needs a tensor of rank {rank}; this one has shape {Shape}.", "this");
    }

    /// <summary>Whether the tensors have the same shape and every pair of elements satisfies
    /// |this − other| ≤ absoluteTolerance + relativeTolerance·|other| (NaN matches nothing, as in NumPy). Shapes are
    /// not broadcast: tensors of different shapes are not close (<c>torch.allclose</c> broadcasts them).</summary>
    /// <param name="other">The tensor to compare with.</param>
    /// <param name="relativeTolerance">rtol ≥ 0.</param>
    /// <param name="absoluteTolerance">atol ≥ 0.</param>
    /// <returns>True when they are close.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="relativeTolerance"/> or
    /// <paramref name="absoluteTolerance"/> is negative or NaN.</exception>
    public bool AllClose(Tensor other, double relativeTolerance, double absoluteTolerance)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!(relativeTolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(relativeTolerance), relativeTolerance.ToString("R", CultureInfo.InvariantCulture), "A tolerance must be ≥ 0.");
        if (!(absoluteTolerance >= 0)) throw new ArgumentOutOfRangeException(nameof(absoluteTolerance), absoluteTolerance.ToString("R", CultureInfo.InvariantCulture), "A tolerance must be ≥ 0.");
        return Shape.Equals(other.Shape) && Core.TensorModule.allClose(relativeTolerance, absoluteTolerance, Value.Tensor, other.Value.Tensor);
    }

    /// <summary><see cref="AllClose(Tensor, double, double)"/> with NumPy's defaults, rtol = 1e-5 and atol = 1e-8.</summary>
    /// <param name="other">The tensor to compare with.</param>
    /// <returns>True when they are close.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    public bool AllClose(Tensor other) => AllClose(other, 1e-5, 1e-8);

    /// <summary>Compares tensors by value: the same shape and elements equal as <see cref="double.Equals(double)"/>
    /// has them (NaN equal to NaN, +0 equal to −0; the F# core's own equality tells the zeros apart). The hash reads
    /// the shape and the first 16 elements; neither reads more than it compares, and neither makes the array of a
    /// uniform tensor (<see cref="Zeros"/>) or a broadcast. A tensor's own <see cref="object.Equals(object)"/> is
    /// reference equality, as for every immutable .NET object without value semantics; use this comparer for
    /// dictionaries and sets keyed by values.</summary>
    public static IEqualityComparer<Tensor> ValueComparer { get; } = new ValueEquality();

    private sealed class ValueEquality : IEqualityComparer<Tensor>
    {
        private static readonly Func<double, double, bool> Same = (a, b) => a.Equals(b);

        public bool Equals(Tensor? a, Tensor? b) =>
            ReferenceEquals(a, b) || (a is not null && b is not null && a.Value.Tensor.SameElements(b.Value.Tensor, Same));

        // The core's hash: the shape and the first 16 elements by double's hash, which has NaNs alike and +0 with −0.
        public int GetHashCode(Tensor t) => (t ?? throw new ArgumentNullException(nameof(t))).Value.Tensor.GetHashCode();
    }
}
