using System;
using System.Globalization;
using System.Collections;
using System.Collections.Generic;
using System.Linq;

namespace Functional;

/// <summary>A tensor's shape: its dimensions, outermost first. Compares by value and prints as <c>[2, 3]</c>.</summary>
public sealed class TensorShape : IReadOnlyList<int>, IEquatable<TensorShape>
{
    private readonly int[] dims;

    internal TensorShape(int[] dims) => this.dims = dims;

    /// <summary>The length of an axis.</summary>
    /// <param name="axis">0 .. Count − 1, or negative counting from the end (−1 is the last), as the ops' axes.</param>
    /// <returns>The axis's length.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="axis"/> is outside −Count .. Count − 1.</exception>
    public int this[int axis] =>
        axis >= -dims.Length && axis < dims.Length ? dims[axis < 0 ? axis + dims.Length : axis]
        : throw new ArgumentOutOfRangeException(nameof(axis), axis.ToString(CultureInfo.InvariantCulture),
            dims.Length == 0 ? "A scalar's shape has no axes." : FormattableString.Invariant($"Axis {axis} is out of range for shape {this} (rank {dims.Length}): it must lie in {-dims.Length} .. {dims.Length - 1}."));

    /// <summary>The rank: how many axes.</summary>
    public int Count => dims.Length;

    /// <summary>A copy of the dimensions.</summary>
    /// <returns>A new array of the dimensions.</returns>
    public int[] ToArray() => (int[])dims.Clone();

    /// <inheritdoc/>
    public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)dims).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => dims.GetEnumerator();

    /// <summary>Same rank and dimensions.</summary>
    /// <param name="other">The shape to compare with.</param>
    /// <returns>Whether they are equal.</returns>
    public bool Equals(TensorShape? other) => other is not null && dims.AsSpan().SequenceEqual(other.dims);
    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as TensorShape);
    /// <summary>Same rank and dimensions (each <c>Shape</c> is a new object, so reference equality would never hold).</summary>
    /// <param name="a">A shape, or null.</param>
    /// <param name="b">A shape, or null.</param>
    /// <returns>Whether both are null or both have the same dimensions.</returns>
    public static bool operator ==(TensorShape? a, TensorShape? b) => a is null ? b is null : a.Equals(b);
    /// <summary>Not <c>==</c>.</summary>
    /// <param name="a">A shape, or null.</param>
    /// <param name="b">A shape, or null.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(TensorShape? a, TensorShape? b) => !(a == b);
    /// <inheritdoc/>
    public override int GetHashCode() => dims.Aggregate(17, (h, d) => h * 31 + d);
    /// <summary><c>[2, 3]</c>; a scalar's shape is <c>[]</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => "[" + string.Join(", ", dims) + "]";
}
