using System;
using System.Globalization;

namespace Functional;

/// <summary>
/// One position in a tensor indexer: an element (an <see cref="int"/> or an <see cref="System.Index"/> such as
/// <c>^1</c>; the axis is removed) or a range (<c>..</c>, <c>1..^1</c>; the axis is kept). Written implicitly:
/// <c>t[.., 0]</c>, <c>t[1..^1, ..]</c>, <c>t[^1]</c>. A negative <see cref="int"/> counts from the end, as in
/// NumPy and TorchSharp.
/// </summary>
public readonly struct TensorIndex : IEquatable<TensorIndex>
{
    internal Index? Element { get; }
    internal int? Integer { get; }
    internal Range? Span { get; }

    private TensorIndex(Index? element, int? integer, Range? span) => (Element, Integer, Span) = (element, integer, span);

    /// <summary>An element by its position (negative counts from the end).</summary>
    /// <param name="index">The element's position along its axis (negative counts from the end).</param>
    /// <returns>The index position.</returns>
    public static implicit operator TensorIndex(int index) => new(null, index, null);

    /// <summary>An element, <c>^1</c> being the last.</summary>
    /// <param name="index">The element's position along its axis (<c>^1</c> is the last).</param>
    /// <returns>The index position.</returns>
    public static implicit operator TensorIndex(Index index) => new(index, null, null);

    /// <summary>A range of elements; the axis is kept.</summary>
    /// <param name="range">The range.</param>
    /// <returns>The index position.</returns>
    public static implicit operator TensorIndex(Range range) => new(null, null, range);

    /// <summary>Whether the two are written the same way: the same int, the same <see cref="System.Index"/>, or the
    /// same range (<c>-1</c> and <c>^1</c> select the same element but are written differently).</summary>
    /// <param name="other">The other index position.</param>
    /// <returns>True when they are written the same way.</returns>
    public bool Equals(TensorIndex other) => Nullable.Equals(Element, other.Element) && Integer == other.Integer && Nullable.Equals(Span, other.Span);

    /// <summary>Whether <paramref name="obj"/> is a <see cref="TensorIndex"/> written the same way.</summary>
    /// <param name="obj">The object to compare with.</param>
    /// <returns>True when it is one written the same way.</returns>
    public override bool Equals(object? obj) => obj is TensorIndex other && Equals(other);

    /// <summary>A hash of all three forms, consistent with <see cref="Equals(TensorIndex)"/>.</summary>
    /// <returns>The hash.</returns>
    public override int GetHashCode() => HashCode.Combine(Element, Integer, Span);

    /// <summary>Whether the two are written the same way.</summary>
    /// <param name="a">One index position.</param>
    /// <param name="b">The other.</param>
    /// <returns>True when they are written the same way.</returns>
    public static bool operator ==(TensorIndex a, TensorIndex b) => a.Equals(b);

    /// <summary>Whether the two are written differently.</summary>
    /// <param name="a">One index position.</param>
    /// <param name="b">The other.</param>
    /// <returns>True when they are written differently.</returns>
    public static bool operator !=(TensorIndex a, TensorIndex b) => !a.Equals(b);

    /// <summary>The index as C# writes it.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => Span is { } r ? r.ToString() : Element is { } e ? e.ToString() : Integer?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "";
}
